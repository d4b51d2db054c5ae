"""`lv.validate`: declare a leaf while tracing, check it when applying."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import jax.numpy as jnp

from ._errors import fail, local, where
from ._node import Node
from ._params import Params, describe, recall


def static_shape(shape, path):
    """`shape` as a tuple of Python ints, or a ParamsError naming the path."""
    items = (shape,) if isinstance(shape, numbers.Integral) else shape
    try:
        items = tuple(items)
        if all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0
               for s in items):
            return tuple(int(s) for s in items)
    except TypeError:
        pass
    raise fail(
        f"{where(path)} is asked for shape {shape!r}: a parameter's shape is a tuple "
        "of non-negative Python ints, known while tracing",
        f"lv.validate({local(path)}, (x.shape[-1], out), ...): x.shape is static even under "
        "jax.jit")


def validate(node, shape, init=None, dtype=None):
    """Declare the parameter at `node` (trace time) or check its shape (apply time).

    While `lv.trace` runs the model, `node` is a path of the tracing params object: the
    call declares a leaf of this `shape` and `dtype` (default float32), made by `init` (an
    `lv.init` initializer, a number, an array of that shape, or a callable
    `(key, shape, dtype)`), and returns its array. Declaring the same path again shares
    the weight (leave `init` out or repeat it); a different shape, dtype or init is a
    `ParamsError` naming the full path. At apply time `node` is the array: the call checks
    its shape and returns it unchanged (the dtype is not checked, so parameters may be
    cast for mixed precision).

    >>> import jax, jax.numpy as jnp
    >>> import levante as lv
    >>> def scale(params, x):
    ...     s = lv.validate(params["s"], (x.shape[-1],), init=1.0)
    ...     return x * s
    >>> params = lv.trace(scale, 0, jnp.ones((2, 3)))
    >>> params["s"]
    Array([1., 1., 1.], dtype=float32)
    >>> try:
    ...     scale(params, jnp.ones((2, 5)))
    ... except lv.ParamsError as error:
    ...     print(str(error).splitlines()[0])
    params 's' has shape (3,) but the model asks for (5,)
    """
    if isinstance(node, Node):
        shape = static_shape(shape, node._path)
        return node._declare(shape, jnp.float32 if dtype is None else dtype, init,
                            source="lv.validate")
    return check(node, shape, "lv.validate")


def check(value, shape, source):
    """Apply time: `value` must be an array of `shape` (None: any shape)."""
    path = value.path if isinstance(value, Params) else recall(value)
    name = where(path) if path is not None else "a parameter (read from a plain dict: no path)"
    if isinstance(value, Mapping) or not hasattr(value, "shape"):
        raise fail(
            f"{name} is {describe(value)}, where {source} expects an array: lv.trace "
            "never saw this path declared (the model took another branch, or the parameter "
            "is one level deeper)",
            "index down to the array, or make the parameters again with lv.trace using the "
            "arguments of this call")
    if shape is None:
        return value
    shape = static_shape(shape, path or ())
    if tuple(value.shape) != shape:
        raise fail(
            f"{name} has shape {tuple(value.shape)} but the model asks for {shape}",
            "the parameters were made for other hyper-parameters or inputs; make them again "
            "with lv.trace using the arguments of this call (or fix the arguments)")
    return value
