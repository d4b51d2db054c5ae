"""The JAX backend: plans call `jnp.*`, so a jitted program equals the hand-written one."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._base import Backend


class JaxBackend(Backend):
    name = "jax"
    xp = "jnp"

    def namespace(self):
        return {"jnp": jnp, "jax": jax, "_logsumexp": jax.nn.logsumexp,
                "_softmax": jax.nn.softmax, "_log_softmax": jax.nn.log_softmax}

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
