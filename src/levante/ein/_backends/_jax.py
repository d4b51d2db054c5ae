"""The JAX backend: plans call `jnp.*`, so a jitted program equals the hand-written one."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._base import Backend, check_bounds, check_python_index, dtype_error


def _index(i, n, where):
    """Integer indices; in [-n, n) where they are concrete (outside `jit`, `grad`, `vmap`).

    Under a transformation the values are unknown: JAX then clamps reads and drops writes
    out of range. Indices narrower than 32 bits become int32, since JAX computes `i + n`
    for negative ones in the index's own dtype.
    """
    dtype = getattr(i, "dtype", None)
    if dtype is None:
        return check_python_index(i, n, where)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise dtype_error(dtype, where)
    if not isinstance(i, jax.core.Tracer) and i.size:
        values = np.asarray(i)
        check_bounds(int(values.min()), int(values.max()), n, where)
    if np.dtype(dtype).itemsize < 4:
        i = i.astype(jnp.int32)
    return i


class JaxBackend(Backend):
    name = "jax"
    xp = "jnp"

    def asarray(self, x):
        return jnp.asarray(x)

    def namespace(self):
        return {"jnp": jnp, "jax": jax, "_logsumexp": jax.nn.logsumexp,
                "_softmax": jax.nn.softmax, "_log_softmax": jax.nn.log_softmax, "_index": _index}

    def reshape(self, x, shape):
        return f"jnp.reshape({x}, {tuple(shape)!r})"

    def transpose(self, x, perm):
        return f"jnp.transpose({x}, {tuple(perm)!r})"

    def einsum(self, spec, xs):
        return f"jnp.einsum({spec!r}, {', '.join(xs)})"

    def scatter(self, kind, x, index, update):
        where = ", ".join(index)
        if kind == "set_at":
            return [], f"{x}.at[{where}].set({update})"
        sign = "" if kind == "add_at" else "-"
        return [], f"{x}.at[{where}].add({sign}{update})"


BACKEND = JaxBackend()
