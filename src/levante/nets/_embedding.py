"""Embeddings: a table of vectors read at integer ids, and the tied read-out."""

from __future__ import annotations

import jax.numpy as jnp

from levante import ein
from levante.core import init, validate

from ._linear import cast_like


def embedding(params, ids, vocab, width):
    """y[..., :] = E[ids[...], :] with E of shape (vocab, width), normal(0.02) at start.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> ids = jnp.array([[1, 2, 3]])
    >>> embedding(lv.trace(embedding, 0, ids, 10, 4), ids, 10, 4).shape
    (1, 3, 4)
    """
    table = validate(params["table"], (vocab, width), init=init.normal(0.02))
    return ein.get_at("[v] c, ... -> ... c", table, ids)


def embedding_readout(params, x, vocab):
    """Logits from the transposed table (weight tying): logits = x Eᵀ.

    `params` is the embedding's own node, so the table is shared with `embedding`.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> def tied(params, ids):
    ...     return embedding_readout(params, embedding(params, ids, 10, 4), 10)
    >>> ids = jnp.array([[1, 2]])
    >>> tied(lv.trace(tied, 0, ids), ids).shape
    (1, 2, 10)
    """
    # the embedding's init, repeated: shares its table, and traces on its own too
    table = cast_like(validate(params["table"], (vocab, x.shape[-1]), init=init.normal(0.02)), x)
    logits = jnp.reshape(x, (-1, x.shape[-1])) @ table.T  # (b...) v
    return jnp.reshape(logits, (*x.shape[:-1], vocab))
