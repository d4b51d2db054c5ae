"""`arange`: coordinate grids from an expression, `h w [2]` -> y[i, j] = (i, j)."""

from __future__ import annotations

import numpy as np

from ._engine import run
from ._errors import NotationError
from ._layout import compose
from ._op import Op, expect_count, whole
from ._solve import is_number


class Arange(Op):
    name = "arange"

    def operands(self, signature, count, options):
        expect_count(signature, count, 0, "tensors (arange makes its own)")
        if signature.outputs is not None or len(signature.inputs) != 1:
            raise NotationError("arange takes one expression, e.g. 'h w [2]'", signature.text,
                                whole(signature))
        return (), signature.inputs, ()

    def write(self, w, call):
        (layout,) = call.outputs
        sizes = call.sizes
        marked = [a.name for d in layout for a in d.atoms if a.bracketed]
        # a unit axis `1` carries no coordinate: 'h 1 w [2]' has two
        vector = [a.name for d in layout for a in d.atoms
                  if not a.bracketed and not (is_number(a.name) and sizes[a.name] == 1)]
        dtype = dict(call.options).get("dtype", "int32")
        if dtype not in _DTYPES:  # options() made it a name from the list; kept as a guard
            raise NotationError(f"arange makes {', '.join(_DTYPES)}, not {dtype!r}", call.text)
        if not marked:
            if len(vector) != 1:
                raise NotationError("arange of several axes needs a bracketed coordinate axis "
                                    f"of size {len(vector)}, e.g. 'h w [2]'", call.text,
                                    whole(call.signature))
            y = w.call(w.backend.arange(sizes[vector[0]], dtype), [])
            return [compose(w, y, vector, layout, sizes, call.text)]
        if len(marked) != 1 or sizes[marked[0]] != len(vector):
            raise NotationError(f"the bracketed coordinate axis must be one axis of size "
                                f"{len(vector)}, the number of other axes", call.text,
                                whole(call.signature))
        grids = []
        full = tuple(sizes[n] for n in vector)
        for i, name in enumerate(vector):
            r = w.call(w.backend.arange(sizes[name], dtype), [])
            r = w.reshape(r, [sizes[name] if j == i else 1 for j in range(len(vector))])
            grids.append(w.broadcast_to(r, full))
        y = w.call(w.backend.stack(grids, len(vector)), grids)
        return [compose(w, y, vector + marked, layout, sizes, call.text)]


_ARANGE = Arange()
_BACKENDS = ("numpy", "jax", "torch")


def arange(expression, /, *tensors, backend="numpy", dtype="int32", **sizes):
    """Coordinates over the unbracketed axes, stacked along the bracketed one.

    y[i₁, ..., iₙ, k] = iₖ; with no bracket and one axis, a plain range.

    >>> from levante import ein
    >>> ein.arange("h w [2]", h=2, w=3)[1, 2]
    array([1, 2], dtype=int32)
    >>> ein.arange("n", n=4)
    array([0, 1, 2, 3], dtype=int32)
    """
    # tensors are an error (arange makes its own), reported by the engine with the context
    return run(_ARANGE, expression, tensors, sizes, options(expression, backend, dtype))


_DTYPES = ("int32", "int64", "float32", "float64")


def options(expression, backend, dtype):
    """The checked (backend, dtype) options of `arange`: names from fixed lists only, since
    the dtype's name is written into the plan's source."""
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise NotationError(f"unknown backend {backend!r}: choose one of {_BACKENDS}",
                            expression if isinstance(expression, str) else None)
    try:
        name = np.dtype(dtype).name
    except (TypeError, ValueError, SyntaxError):
        name = None
    if name not in _DTYPES:
        raise NotationError(f"arange makes {', '.join(_DTYPES)}, not {dtype!r}",
                            expression if isinstance(expression, str) else None)
    return (("backend", backend), ("dtype", name))
