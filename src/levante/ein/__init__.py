"""levante.ein: one small notation for rearranging, reducing, contracting and indexing tensors."""

from ._errors import NotationError, NotationRankError, NotationSizeError, NotationSyntaxError
from ._factory import FactoryContext, TensorFactory
from ._rearrange import rearrange

id = rearrange  # the einx 0.4 name of the same op

__all__ = [
    "FactoryContext",
    "NotationError",
    "NotationRankError",
    "NotationSizeError",
    "NotationSyntaxError",
    "TensorFactory",
    "id",
    "rearrange",
]
