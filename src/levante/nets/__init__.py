"""levante.nets: building blocks, each a plain function of (params, inputs, hyper-parameters)."""

from ._errors import NetsError
from ._reshape import divide, merge
from ._rope import rope

__all__ = ["NetsError", "divide", "merge", "rope"]
