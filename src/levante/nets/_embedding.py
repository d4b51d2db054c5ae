"""Embeddings: a table of vectors read at integer ids, and the tied read-out."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from levante.core import init, validate

from ._errors import NetsError
from ._linear import cast_like


def embedding(params, ids, vocab, width):
    """y[..., :] = E[ids[...], :] with E of shape (vocab, width), normal(0.02) at start.

    `ids` (`...`) are integer ids in `[0, vocab)`, of any integer dtype; the output is
    `... width`. Nothing is clamped or wrapped around: an id outside `[0, vocab)` raises
    `NetsError` when the ids are concrete (eager calls, or NumPy ids under `jit`, checked
    once at trace time); traced ids cannot raise, so such an id reads a row of NaN (and
    every result it reaches is NaN). Float or bool ids raise `NetsError`.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> ids = jnp.array([[1, 2, 3]])
    >>> embedding(lv.trace(embedding, 0, ids, 10, 4), ids, 10, 4).shape
    (1, 3, 4)
    >>> embedding(lv.trace(embedding, 0, ids, 10, 4), jnp.array([[1, 10]]), 10, 4)
    Traceback (most recent call last):
    ...
    levante.nets._errors.NetsError: embedding: ids hold 10 at position (0, 1), outside [0, 10) ...
    """
    table = validate(params["table"], (vocab, width), init=init.normal(0.02))
    ids = _check_ids(ids, vocab, "embedding")
    # mode="fill" reads NaN past the table, where plain indexing clamps to its last row;
    # unsigned ids turn negative ones into ids past the end instead of counting from it
    return jnp.take(table, ids.astype(jnp.uint32), axis=0, mode="fill", fill_value=jnp.nan)


def _check_ids(ids, vocab, name):
    """`ids` as an array, checked: an integer dtype and, when concrete, every id in
    [0, vocab)."""
    ids = ids if isinstance(ids, jax.Array) else np.asarray(ids)
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise NetsError(f"{name}: ids are integers in [0, {vocab}); got {ids.dtype}. "
                        "Convert them with .astype(int) where they hold whole numbers")
    if not isinstance(ids, jax.core.Tracer):
        values = np.asarray(ids)
        outside = (values < 0) | (values >= vocab)
        if outside.any():
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise NetsError(f"{name}: ids hold {values[where]} at position {where}, outside "
                            f"[0, {vocab}) ({int(outside.sum())} such id(s)); the table has "
                            f"{vocab} rows: make vocab larger or map the ids into it")
    return jnp.asarray(ids)


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
    flat = jnp.reshape(x, (-1, x.shape[-1]))  # (b...) c
    if flat.shape[0] <= DECODING_ROWS:
        # a few rows (a decoding step): the table times the vectors reads E as it is stored;
        # x Eᵀ made XLA on CPU transpose and copy all of E at every step of a decoding loop
        logits = (table @ flat.T).T  # (b...) v
    else:
        logits = flat @ table.T  # (b...) v
    return jnp.reshape(logits, (*x.shape[:-1], vocab))


DECODING_ROWS = 16
