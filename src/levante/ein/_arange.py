"""`arange`: coordinate grids from an expression, `h w [2]` -> y[i, j] = (i, j)."""

from __future__ import annotations

import math

import numpy as np

from ._engine import run
from ._errors import NotationError, NotationSizeError
from ._layout import compose
from ._op import Op, expect_count, whole
from ._solve import display, is_number


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
        if dtype not in DTYPES:  # options() made it a name from the list; kept as a guard
            raise NotationError(f"arange makes {', '.join(DTYPES)}, not {dtype!r}", call.text)
        _check_fits(call, layout, dtype)
        if not marked:
            if len(vector) != 1:
                raise NotationError("arange of several axes needs a bracketed coordinate axis "
                                    f"of size {len(vector)}, e.g. 'h w [2]'", call.text,
                                    whole(call.signature))
            y = _range(w, sizes[vector[0]], dtype)
            return [compose(w, y, vector, layout, sizes, call.text)]
        if len(marked) != 1 or sizes[marked[0]] != len(vector):
            raise NotationError(f"the bracketed coordinate axis must be one axis of size "
                                f"{len(vector)}, the number of other axes", call.text,
                                whole(call.signature))
        grids = []
        full = tuple(sizes[n] for n in vector)
        for i, name in enumerate(vector):
            r = _range(w, sizes[name], dtype)
            r = w.reshape(r, [sizes[name] if j == i else 1 for j in range(len(vector))])
            grids.append(w.broadcast_to(r, full))
        y = w.call(w.backend.stack(grids, len(vector)), grids)
        return [compose(w, y, vector + marked, layout, sizes, call.text)]


def _range(w, n, dtype):
    """0, 1, ..., n - 1 in `dtype`; made as int32 (int64 past 2**31) and converted where
    the backend has no range of that dtype (PyTorch's unsigned, TensorFlow's small ints)."""
    if dtype in getattr(w.backend, "arange_dtypes", DTYPES):
        return w.call(w.backend.arange(n, dtype), [])
    r = w.call(w.backend.arange(n, "int32" if n <= 2**31 else "int64"), [])
    return w.call(w.backend.astype(r, dtype), [r])


def _check_fits(call, layout, dtype):
    """Every coordinate is exact in `dtype`, and the grid fits an array: NumPy would raise
    its own error, or silently wrap (int8) or round (float16) the coordinates."""
    sizes, kind = call.sizes, np.dtype(dtype)
    largest = int(np.iinfo(kind).max) if kind.kind in "iu" else 2 ** (np.finfo(kind).nmant + 1)
    for dim in layout:
        for atom in dim.atoms:
            if sizes[atom.name] - 1 > largest:
                raise NotationSizeError(
                    f"axis `{display(atom.name)}` has size {sizes[atom.name]}: its coordinates "
                    f"up to {sizes[atom.name] - 1} are not exact in {dtype} (at most {largest});"
                    " pass a wider dtype=, e.g. dtype='int64'", call.text, atom.span)
    total = math.prod(sizes[a.name] for d in layout for a in d.atoms) * kind.itemsize
    if total > 2**63 - 1:
        raise NotationSizeError(
            f"arange would make {total} bytes of {dtype}, more than any array can hold: "
            + " ".join(f"{display(a.name)}={sizes[a.name]}" for d in layout for a in d.atoms),
            call.text, whole(call.signature))


_ARANGE = Arange()
_BACKENDS = ("numpy", "jax", "torch")


def arange(expression, /, *tensors, backend="numpy", dtype="int32", **sizes):
    """Coordinates over the unbracketed axes, stacked along the bracketed one.

    y[i₁, ..., iₙ, k] = iₖ; with no bracket and one axis, a plain range (einx 0.3's
    `arange`). `dtype` is any integer or float dtype, by NumPy name or type (int32 unless
    given); `backend` is "numpy", "jax" or "torch". Raises `NotationSizeError` when a
    coordinate is not exact in `dtype` (`n=300` in int8) or the grid would not fit an
    array, `NotationError` for another dtype.

    >>> from levante import ein
    >>> ein.arange("h w [2]", h=2, w=3)[1, 2]
    array([1, 2], dtype=int32)
    >>> ein.arange("n", n=4)
    array([0, 1, 2, 3], dtype=int32)
    >>> ein.arange("n", n=3, dtype="uint8")
    array([0, 1, 2], dtype=uint8)
    """
    # tensors are an error (arange makes its own), reported by the engine with the context
    return run(_ARANGE, expression, tensors, sizes, options(expression, backend, dtype))


# the integer and float dtypes (einx 0.3's arange passed any dtype name to the backend)
DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
          "float32", "float64")


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
    if name not in DTYPES:
        raise NotationError(f"arange makes an integer or float dtype ({', '.join(DTYPES)}), "
                            f"not {dtype!r}", expression if isinstance(expression, str) else None)
    return (("backend", backend), ("dtype", name))
