"""The TensorFlow backend (eager and inside `tf.function`): plans call `tf.*`.

Loaded only when a `tf.Tensor` reaches the notation (`pip install levante[tf]`). TensorFlow
has no NumPy-style advanced indexing, so `get_at` lowers to one `tf.gather_nd` and the
writes to `tf.tensor_scatter_nd_*`, with negative indices counted from the end first.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from ._base import Backend, check_bounds, check_python_index, dtype_error

_DTYPES = {name: f"tf.{name}" for name in (
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
    "float32", "float64")}
_REDUCE = {"sum": "tf.reduce_sum", "mean": "tf.reduce_mean", "max": "tf.reduce_max",
           "min": "tf.reduce_min", "prod": "tf.reduce_prod", "any": "tf.reduce_any",
           "all": "tf.reduce_all", "var": "tf.math.reduce_variance",
           "std": "tf.math.reduce_std", "logsumexp": "tf.reduce_logsumexp"}


def _index(i, n, where):
    """Integer indices; in [-n, n) where they are concrete (eager)."""
    if isinstance(i, (bool, int, float)):
        return check_python_index(i, n, where)
    i = tf.convert_to_tensor(i)
    if not i.dtype.is_integer:
        raise dtype_error(i.dtype.name, where)
    if tf.executing_eagerly() and tf.size(i) > 0:
        values = i.numpy()
        check_bounds(int(values.min()), int(values.max()), n, where)
    return i


def _coordinates(x, index):
    """The indices broadcast together and stacked: the last axis holds one per axis of x,
    each counted from the end when negative (as NumPy does)."""
    index = [tf.cast(tf.convert_to_tensor(i), tf.int64) for i in index]
    shape = functools.reduce(tf.broadcast_static_shape, [i.shape for i in index])
    out = []
    for k, i in enumerate(index):
        i = tf.where(i < 0, i + x.shape[k], i)
        out.append(tf.broadcast_to(i, shape))
    return tf.stack(out, axis=-1)


def _gather(x, *index):
    return tf.gather_nd(x, _coordinates(x, index))


def _scatter(kind, x, update, *index):
    where = _coordinates(x, index)
    shape = tuple(where.shape[:-1]) + tuple(x.shape[len(index):])
    update = tf.broadcast_to(tf.cast(update, x.dtype), shape)
    if kind == "set_at":
        return tf.tensor_scatter_nd_update(x, where, update)
    if kind == "add_at":
        return tf.tensor_scatter_nd_add(x, where, update)
    return tf.tensor_scatter_nd_sub(x, where, update)


def _number(x, like):
    """A Python number in the dtype of a tensor of its call where it fits (2.0 next to a
    float64 tensor is float64), as NumPy, JAX and PyTorch treat it: tf.math.maximum, where,
    ... refuse operands of two dtypes."""
    return tf.convert_to_tensor(x, dtype_hint=like.dtype)


def _logaddexp(x, y):
    peak = tf.maximum(x, y)
    return peak + tf.math.log(tf.exp(x - peak) + tf.exp(y - peak))


def _count_nonzero(x, axis):
    return tf.math.count_nonzero(x, axis=axis)


class TensorflowBackend(Backend):
    name = "tensorflow"
    xp = "tf"
    softmax_one_axis = True  # tf.nn.softmax normalizes along one axis

    def asarray(self, x):
        return tf.convert_to_tensor(x)

    def wrap(self, plan):
        # straight-line code: nothing for autograph to convert (it has no source to read)
        return tf.autograph.experimental.do_not_convert(plan)

    def namespace(self):
        return {"tf": tf, "np": np, "_index": _index, "_gather": _gather,
                "_scatter": _scatter, "_logaddexp": _logaddexp, "_number": _number,
                "_count_nonzero": _count_nonzero}

    def scalar(self, x):
        return f"tf.convert_to_tensor({x})"

    def reshape(self, x, shape):
        return f"tf.reshape({x}, {tuple(shape)!r})"

    def transpose(self, x, perm):
        return f"tf.transpose({x}, {tuple(perm)!r})"

    def broadcast_to(self, x, shape):
        return f"tf.broadcast_to({x}, {tuple(shape)!r})"

    def concatenate(self, xs, axis):
        return f"tf.concat([{', '.join(xs)}], axis={axis})"

    def stack(self, xs, axis):
        return f"tf.stack([{', '.join(xs)}], axis={axis})"

    def einsum(self, spec, xs):
        return f"tf.einsum({spec!r}, {', '.join(xs)})"

    def reduce(self, kind, x, axes, keepdims):
        keep = ", keepdims=True" if keepdims else ""
        if kind == "count_nonzero":
            return f"_count_nonzero({x}, axis={tuple(axes)!r})"
        if kind in ("any", "all"):  # TensorFlow's take bools only; NumPy's test x != 0
            x = f"tf.cast({x}, tf.bool)"
        return f"{_REDUCE[kind]}({x}, axis={tuple(axes)!r}{keep})"

    def number(self, x, like=None):
        if like is None:
            return f"tf.convert_to_tensor({x})"
        return f"_number({x}, {like})"

    def elementwise(self, kind, xs):
        if kind == "logaddexp":
            return f"_logaddexp({', '.join(xs)})"
        if kind in ("logical_and", "logical_or", "logical_not"):
            # TensorFlow's take bools only; NumPy's (and einx's) test x != 0
            xs = [f"tf.cast({x}, tf.bool)" for x in xs]
        elif kind == "where":
            xs = [f"tf.cast({xs[0]}, tf.bool)", *xs[1:]]
        if kind in ("maximum", "minimum", "logical_and", "logical_or", "logical_not", "where"):
            name = "tf.where" if kind == "where" else f"tf.math.{kind}"
            return f"{name}({', '.join(xs)})"
        return super().elementwise(kind, xs)

    def softmax(self, kind, x, axes):
        (axis,) = axes
        return f"tf.nn.{kind}({x}, axis={axis})"

    def roll(self, x, shifts, axes):
        return f"tf.roll({x}, {list(shifts)!r}, axis={list(axes)!r})"

    def flip(self, x, axes):
        return f"tf.reverse({x}, axis={list(axes)!r})"

    def sort(self, kind, x, axis):
        return f"tf.{kind}({x}, axis={axis})"

    def arg(self, kind, x, axis):
        return f"tf.math.{kind}({x}, axis={axis})"

    # tf.range has kernels for these only: the others are converted to
    arange_dtypes = ("int32", "int64", "float16", "float32", "float64")

    def arange(self, n, dtype):
        return f"tf.range({int(n)}, dtype={_DTYPES[dtype]})"

    def astype(self, x, dtype):
        return f"tf.cast({x}, {_DTYPES[dtype]})"

    def gather(self, x, index):
        return f"_gather({x}, {', '.join(index)})"

    def scatter(self, kind, x, index, update):
        return [], f"_scatter({kind!r}, {x}, {update}, {', '.join(index)})"


BACKEND = TensorflowBackend()
