"""levante.ein: one small notation for rearranging, reducing, contracting and indexing tensors.

Ops are called as `ein.OP(expression, *tensors, **sizes)`. Axes inside brackets `[ ]` are
the ones the op works along; the op is repeated over every other axis. See ARCHITECTURE.md
for the pipeline (parse -> solve -> plan -> cache) and the README for the grammar.
"""

from ._along import argmax, argmin, argsort, flip, log_softmax, roll, softmax, sort
from ._arange import arange
from ._dot import dot
from ._elementwise import (
    add,
    divide,
    equal,
    floor_divide,
    greater,
    greater_equal,
    less,
    less_equal,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    not_equal,
    power,
    subtract,
    true_divide,
    where,
)
from ._errors import NotationError, NotationRankError, NotationSizeError, NotationSyntaxError
from ._factory import FactoryContext, TensorFactory
from ._index import add_at, get_at, set_at, subtract_at
from ._inspect import check, explain, matches, solve, solve_axes, solve_shapes
from ._rearrange import rearrange
from ._reduce import (
    all,
    any,
    count_nonzero,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)

id = rearrange  # the einx 0.4 name of the same op

__all__ = [
    "FactoryContext",
    "NotationError",
    "NotationRankError",
    "NotationSizeError",
    "NotationSyntaxError",
    "TensorFactory",
    "add",
    "add_at",
    "all",
    "any",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "check",
    "count_nonzero",
    "divide",
    "dot",
    "equal",
    "explain",
    "flip",
    "floor_divide",
    "get_at",
    "greater",
    "greater_equal",
    "id",
    "less",
    "less_equal",
    "log_softmax",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logsumexp",
    "matches",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "not_equal",
    "power",
    "prod",
    "rearrange",
    "roll",
    "set_at",
    "softmax",
    "solve",
    "solve_axes",
    "solve_shapes",
    "sort",
    "std",
    "subtract",
    "subtract_at",
    "sum",
    "true_divide",
    "var",
    "where",
]


def _mark_for_autograph():
    from ._autograph import as_python

    for name in __all__:
        value = globals()[name]
        if callable(value) and not isinstance(value, type):
            as_python(value)


_mark_for_autograph()


def __getattr__(name):
    # `ein.numpy`, `ein.jax`, `ein.torch`: einx 0.4's adapters, imported on first use so
    # that `import levante.ein` stays NumPy only
    if name in ("numpy", "jax", "torch"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_with_torch_compile():
    # A process that imported torch first may compile a function whose first call is an op:
    # load the PyTorch backend now, which registers the ops with torch.compile.
    import sys

    if "torch" in sys.modules:
        from ._backends import load

        load("torch")


_register_with_torch_compile()
