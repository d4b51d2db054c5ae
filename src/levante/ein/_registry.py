"""Every op by name, for `explain` and for the tests that walk the whole surface."""

from __future__ import annotations

from . import _along, _arange, _dot, _elementwise, _index, _rearrange, _reduce
from ._backends._base import REDUCTIONS
from ._errors import NotationError

ELEMENTWISE = ("add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power",
               "maximum", "minimum", "where", "logical_and", "logical_or", "logical_not", "less",
               "less_equal", "greater", "greater_equal", "equal", "not_equal", "logaddexp")
INDEXING = ("get_at", "set_at", "add_at", "subtract_at")
ALONG = ("softmax", "log_softmax", "roll", "flip", "sort", "argsort", "argmax", "argmin")
NAMES = ("rearrange", "id", "dot", "arange", *REDUCTIONS, *ELEMENTWISE, *INDEXING, *ALONG)


def op_for(name, sizes):
    """(op object, options) for the op called `name`; options are taken out of `sizes`."""
    if name in ("rearrange", "id"):
        return _rearrange._REARRANGE, ()
    if name == "dot":
        return _dot._DOT, ()
    if name == "arange":
        return _arange._ARANGE, _arange.options(None, sizes.pop("backend", "numpy"),
                                                sizes.pop("dtype", "int32"))
    if name in REDUCTIONS:
        keep = sizes.pop("keepdims", False)
        return _reduce.Reduce(name), (("keepdims", True),) if keep else ()
    if name in ELEMENTWISE:
        return _elementwise.Elementwise(name), ()
    if name in INDEXING:
        return _index.Index(name), ()
    if name in ALONG:
        options = ()
        if name == "roll":
            options = _along.shift_option(sizes.pop("shift", None), None)
        return _along.Along(name), options
    raise NotationError(f"unknown op {name!r}: one of {', '.join(NAMES)}")
