"""Every op by name, for `explain` and for the tests that walk the whole surface."""

from __future__ import annotations

from . import _along, _arange, _dot, _elementwise, _index, _rearrange, _reduce
from ._backends._base import REDUCTIONS
from ._errors import NotationError

ELEMENTWISE = ("add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power",
               "maximum", "minimum", "where", "logical_and", "logical_or", "logical_not", "less",
               "less_equal", "greater", "greater_equal", "equal", "not_equal")
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
        options = (("backend", sizes.pop("backend", "numpy")),
                   ("dtype", sizes.pop("dtype", "int32")))
        return _arange._ARANGE, options
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
            shift = sizes.pop("shift", None)
            if not (isinstance(shift, int) or shift is None):
                shift = tuple(shift)
            options = (("shift", shift),)
        return _along.Along(name), options
    raise NotationError(f"unknown op {name!r}: one of {', '.join(NAMES)}")
