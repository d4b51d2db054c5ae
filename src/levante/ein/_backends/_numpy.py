"""The NumPy backend: plans call ndarray methods and `np.*` functions directly."""

from __future__ import annotations

import numpy as np

from ._base import Backend, check_bounds, check_python_index, dtype_error


def _logsumexp(x, axis, keepdims=False):
    # subtract the maximum first so that exp never overflows
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    total = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axis)


def _softmax(x, axis):
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    return x - _logsumexp(x, axis, keepdims=True)


def _index(i, n, where):
    """Integer indices in [-n, n), unchanged; anything else is a NotationError."""
    dtype = getattr(i, "dtype", None)
    if dtype is None:
        return check_python_index(i, n, where)
    if dtype.kind not in "iu":
        raise dtype_error(dtype, where)
    if i.size:
        check_bounds(int(i.min()), int(i.max()), n, where)
    return i


class NumpyBackend(Backend):
    name = "numpy"
    xp = "np"

    def namespace(self):
        return {"np": np, "_logsumexp": _logsumexp, "_softmax": _softmax,
                "_log_softmax": _log_softmax, "_index": _index}

    def reduce(self, kind, x, axes, keepdims):
        if kind in ("sum", "mean", "var", "std", "prod", "max", "min", "any", "all"):
            keep = ", keepdims=True" if keepdims else ""
            return f"{x}.{kind}(axis={tuple(axes)!r}{keep})"
        return super().reduce(kind, x, axes, keepdims)

    def scatter(self, kind, x, index, update):
        where = ", ".join(index)
        if kind == "set_at":
            return [f"out = {x}.copy()", f"out[{where}] = {update}"], "out"
        ufunc = "add" if kind == "add_at" else "subtract"
        return [f"out = {x}.copy()", f"np.{ufunc}.at(out, ({where},), {update})"], "out"


BACKEND = NumpyBackend()
