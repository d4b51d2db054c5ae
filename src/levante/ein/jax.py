"""einx 0.4's adapters for JAX: `ein.jax.adapt_with_vmap` (vectorized with `jax.vmap`),
`ein.jax.adapt_numpylike_reduce` and `ein.jax.adapt_numpylike_elementwise`."""

from __future__ import annotations

import jax

from ._adapters import adapt_numpylike_elementwise, adapt_numpylike_reduce
from ._adapters import adapt_with_vmap as _adapt

__all__ = ["adapt_numpylike_elementwise", "adapt_numpylike_reduce", "adapt_with_vmap"]


def adapt_with_vmap(op, signature=None):
    """An op in the notation from `op`, which sees only the bracketed axes of each operand
    and is vectorized over the others with `jax.vmap` (einx 0.4's `einx.jax.adapt_with_vmap`).

    >>> import jax.numpy as jnp
    >>> from levante import ein
    >>> outer = ein.jax.adapt_with_vmap(lambda x, y: x[:, None] * y[None, :])
    >>> outer("b [i], b [j] -> b [i j]", jnp.ones((2, 3)), jnp.ones((2, 4))).shape
    (2, 3, 4)
    """
    return _adapt(op, lambda f, axes: jax.vmap(f, in_axes=axes), signature)
