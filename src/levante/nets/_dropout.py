"""Dropout (Srivastava et al. 2014): zero each entry with probability `rate`, scale the
rest by 1/(1 - rate) so the expectation is unchanged; the identity when not training."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._errors import NetsError


def dropout(key, x, rate, training):
    """Randomly zero entries of `x` while `training`; return `x` unchanged otherwise.

    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((1000,))
    >>> bool((dropout(None, x, 0.5, training=False) == x).all())
    True
    >>> y = dropout(jax.random.key(0), x, 0.5, training=True)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= rate < 1.0:
        raise NetsError(f"dropout rate is a probability in [0, 1); got {rate}")
    if not training or rate == 0.0:
        return x
    if key is None:
        raise NetsError("dropout while training needs a random key: dropout(key, x, rate, "
                        "training=True); lv.thread_key gives each layer its own")
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype))
