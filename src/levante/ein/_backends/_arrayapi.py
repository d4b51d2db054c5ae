"""Any Array API namespace (`x.__array_namespace__()`): plans call the standard's functions.

The standard has no einsum, no advanced indexing and no scatter, so those are written here
from what it has: a product is a broadcast multiply and a sum, a diagonal and a read at
indices are `take` on the flattened tensor, and a write at indices adds one-hot products
(dense: memory grows with indices x rows; fine for the sizes it serves, tested with
array-api-strict).
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import NotationError
from ._base import Backend, check_bounds, check_python_index, dtype_error

# the standard's integer and real dtypes (it has no float16)
_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float32", "float64")


def _helpers(xp):
    def _index(i, n, where):
        if isinstance(i, (bool, int, float)):
            return check_python_index(i, n, where)
        if not xp.isdtype(i.dtype, "integral"):
            raise dtype_error(str(i.dtype), where)
        if math.prod(i.shape):
            check_bounds(int(xp.min(i)), int(xp.max(i)), n, where)
        return i

    def _diagonal(x, spec):
        """einsum('aab->ab', x): the repeated letters read once, by `take` on the flat x."""
        src, dst = spec.split("->")
        sizes = {c: n for c, n in zip(src, x.shape)}
        grids = np.indices([sizes[c] for c in dst]).reshape(len(dst), -1)
        coords = [grids[dst.index(c)] for c in src]
        flat = np.ravel_multi_index(coords, x.shape) if src else np.zeros(1, int)
        y = xp.take(xp.reshape(x, (-1,)), xp.asarray(flat.astype(np.int64)), axis=0)
        return xp.reshape(y, tuple(sizes[c] for c in dst))

    def _einsum(spec, *xs):
        inputs, output = spec.split("->")
        inputs = inputs.split(",")
        letters = list(dict.fromkeys("".join(inputs) + output))
        terms = []
        for term, x in zip(inputs, xs):
            unique = "".join(dict.fromkeys(term))
            if unique != term:
                x = _diagonal(x, f"{term}->{unique}")
            order = [c for c in letters if c in unique]
            x = xp.permute_dims(x, tuple(unique.index(c) for c in order))
            sizes = dict(zip(order, x.shape))
            terms.append(xp.reshape(x, tuple(sizes.get(c, 1) for c in letters)))
        y = terms[0]
        for t in terms[1:]:
            y = y * t
        gone = tuple(i for i, c in enumerate(letters) if c not in output)
        if gone:
            y = xp.sum(y, axis=gone)
        kept = [c for c in letters if c in output]
        return xp.permute_dims(y, tuple(kept.index(c) for c in output))

    def _flat(x, index):
        """The indices broadcast together, counted from the end when negative, as one
        index into x's leading len(index) axes flattened; and their shape."""
        index = [xp.asarray(i) for i in index]
        index = xp.broadcast_arrays(*index) if len(index) > 1 else index
        flat = None
        for k, i in enumerate(index):
            i = xp.astype(i, xp.int64)
            i = xp.where(i < 0, i + x.shape[k], i)
            flat = i if flat is None else flat * x.shape[k] + i
        return flat, tuple(index[0].shape)

    def _gather(x, *index):
        flat, shape = _flat(x, index)
        rest = tuple(x.shape[len(index):])
        rows = xp.reshape(x, (math.prod(x.shape[:len(index)]),) + rest)
        y = xp.take(rows, xp.reshape(flat, (-1,)), axis=0)
        return xp.reshape(y, shape + rest)

    def _scatter(kind, x, update, *index):
        flat, shape = _flat(x, index)
        rest = tuple(x.shape[len(index):])
        count = math.prod(x.shape[:len(index)])
        flat = xp.reshape(flat, (-1, 1))
        onehot = xp.astype(flat == xp.arange(count, dtype=xp.int64), x.dtype)  # m n
        update = xp.broadcast_to(xp.asarray(update, dtype=x.dtype), shape + rest)
        update = xp.reshape(update, (flat.shape[0], math.prod(rest)))  # m r
        written = xp.reshape(xp.matmul(xp.matrix_transpose(onehot), update), x.shape)
        if kind == "add_at":
            return x + written
        if kind == "subtract_at":
            return x - written
        hit = xp.reshape(xp.astype(xp.sum(onehot, axis=0) > 0, x.dtype),
                         (count,) + (1,) * len(rest))
        return xp.reshape(xp.reshape(x, (count,) + rest) * (1 - hit), x.shape) + written

    def _logsumexp(x, axis):
        peak = xp.max(x, axis=axis, keepdims=True)
        peak = xp.where(xp.isfinite(peak), peak, xp.zeros_like(peak))
        total = xp.log(xp.sum(xp.exp(x - peak), axis=axis, keepdims=True)) + peak
        return xp.squeeze(total, axis=axis)

    def _softmax(x, axis):
        shifted = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return shifted / xp.sum(shifted, axis=axis, keepdims=True)

    def _log_softmax(x, axis):
        peak = xp.max(x, axis=axis, keepdims=True)
        return x - peak - xp.log(xp.sum(xp.exp(x - peak), axis=axis, keepdims=True))

    def _bool(x):
        # the standard's logical functions and where take bools only; NumPy's (and
        # einx's) test x != 0
        if not hasattr(x, "dtype"):
            return bool(x)  # a Python number: the standard pairs bools with bools only
        if x.dtype == xp.bool:
            return x
        return xp.astype(x, xp.bool)

    return {"xp": xp, "_index": _index, "_einsum": _einsum, "_gather": _gather,
            "_scatter": _scatter, "_logsumexp": _logsumexp, "_softmax": _softmax,
            "_log_softmax": _log_softmax, "_bool": _bool}


class ArrayApiBackend(Backend):
    """Plans through the names of the Array API standard, bound to one namespace."""

    xp = "xp"

    def __init__(self, namespace):
        self.module = namespace
        self.name = f"arrayapi:{getattr(namespace, '__name__', 'namespace')}"
        self._namespace = _helpers(namespace)

    def namespace(self):
        return self._namespace

    def elementwise(self, kind, xs):
        if kind in ("logical_and", "logical_or", "logical_not"):
            xs = [f"_bool({x})" for x in xs]
        elif kind == "where":
            xs = [f"_bool({xs[0]})", *xs[1:]]
        return super().elementwise(kind, xs)

    def asarray(self, x):
        return self.module.asarray(x)

    def reshape(self, x, shape):
        return f"xp.reshape({x}, {tuple(shape)!r})"

    def transpose(self, x, perm):
        return f"xp.permute_dims({x}, {tuple(perm)!r})"

    def concatenate(self, xs, axis):
        return f"xp.concat([{', '.join(xs)}], axis={axis})"

    def einsum(self, spec, xs):
        return f"_einsum({spec!r}, {', '.join(xs)})"

    def reduce(self, kind, x, axes, keepdims):
        keep = ", keepdims=True" if keepdims else ""
        if kind == "logsumexp":
            return f"_logsumexp({x}, axis={tuple(axes)!r})"
        if kind == "count_nonzero":
            return f"xp.sum(xp.astype({x} != 0, xp.int64), axis={tuple(axes)!r}{keep})"
        return f"xp.{kind}({x}, axis={tuple(axes)!r}{keep})"

    def roll(self, x, shifts, axes):
        return f"xp.roll({x}, shift={tuple(shifts)!r}, axis={tuple(axes)!r})"

    arange_dtypes = _DTYPES

    def arange(self, n, dtype):
        return f"xp.arange({int(n)}, dtype=xp.{_standard(dtype)})"

    def astype(self, x, dtype):
        return f"xp.astype({x}, xp.{_standard(dtype)})"

    def gather(self, x, index):
        return f"_gather({x}, {', '.join(index)})"

    def scatter(self, kind, x, index, update):
        return [], f"_scatter({kind!r}, {x}, {update}, {', '.join(index)})"


def _standard(dtype):
    if dtype not in _DTYPES:
        raise NotationError(f"the Array API standard has no {dtype}: one of {', '.join(_DTYPES)}")
    return dtype
