"""Indices and positions in levante.nets are checked, never clamped or wrapped around:
embedding ids (an error when concrete, NaN rows under jit, float/bool ids refused, every
integer dtype read alike against NumPy's indexing), KV-cache capacity (a chunk longer
than the cache, a cache made for other heads) and attention mask shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import levante as lv
from levante import nets

VOCAB, WIDTH = 11, 6


def embed(params, ids):
    return nets.embedding(params, ids, VOCAB, WIDTH)


@pytest.fixture(scope="module")
def table():
    return {"table": jnp.asarray(np.random.default_rng(0).standard_normal((VOCAB, WIDTH)),
                                 jnp.float32)}


# ---------------------------------------------------------------- embedding ids


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                   np.uint32])
def test_embedding_reads_the_rows_numpy_reads_for_every_integer_dtype(table, dtype):
    ids = np.random.default_rng(1).integers(0, VOCAB, (3, 4)).astype(dtype)
    expected = np.asarray(table["table"])[ids]
    np.testing.assert_array_equal(embed(table, ids), expected)
    np.testing.assert_array_equal(jax.jit(embed)(table, jnp.asarray(ids)), expected)


@pytest.mark.parametrize("bad", [-1, VOCAB, VOCAB + 5, -VOCAB, -VOCAB - 1, 2**31 - 1])
def test_embedding_ids_outside_the_table(table, bad):
    ids = np.array([[1, 2], [3, bad]])
    # before: -1 read the last row, VOCAB and past it were clamped to the last row
    with pytest.raises(nets.NetsError, match=rf"ids hold {bad} at position \(1, 1\), "
                                             rf"outside \[0, {VOCAB}\)"):
        embed(table, ids)
    with pytest.raises(nets.NetsError, match=rf"hold {bad}"):
        embed(table, jnp.asarray(ids, jnp.int32))
    # NumPy ids under jit are concrete: checked while tracing
    with pytest.raises(nets.NetsError, match=rf"hold {bad}"):
        jax.jit(lambda p: embed(p, ids))(table)
    # traced ids cannot raise: the row is NaN, the others are the right rows
    out = np.asarray(jax.jit(embed)(table, jnp.asarray(ids, jnp.int32)))
    assert np.isnan(out[1, 1]).all()
    np.testing.assert_array_equal(out[[0, 0, 1], [0, 1, 0]],
                                  np.asarray(table["table"])[[1, 2, 3]])


def test_embedding_refuses_float_and_bool_ids(table):
    for ids in (np.array([[1.0, 2.0]]), np.array([[True, False]]),
                jnp.asarray([[1.0, 2.0]], jnp.bfloat16)):
        with pytest.raises(nets.NetsError, match="ids are integers"):
            embed(table, ids)
        with pytest.raises(nets.NetsError, match="ids are integers"):
            jax.jit(embed)(table, jnp.asarray(ids))


def test_embedding_gradient_reaches_only_the_rows_read(table):
    ids = jnp.asarray([[1, 1, 4], [0, 9, 4]], jnp.int32)
    grad = jax.grad(lambda p: jnp.sum(embed(p, ids) ** 2))(table)["table"]
    rows = np.flatnonzero(np.abs(np.asarray(grad)).sum(-1))
    assert rows.tolist() == [0, 1, 4, 9]
    np.testing.assert_allclose(grad[1], 4 * table["table"][1], rtol=1e-6)  # read twice


# ---------------------------------------------------------------- KV-cache capacity


@pytest.fixture(scope="module")
def attention_params():
    return lv.trace(lambda p, x: nets.attention(p, x, heads=2), 0, jnp.zeros((2, 3, 8)))


def _normal(seed, *shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def test_a_chunk_longer_than_the_cache_is_a_clear_error_also_under_jit(attention_params):
    x = _normal(2, 2, 6, 8)
    cache = nets.init_cache(2, 4, 2, 4)
    attend = lambda p, x, c: nets.attention(p, x, heads=2, cache=c, rope=True)
    # was a raw lax TypeError (dynamic_update_slice larger than its operand) under jit
    for fn in (attend, jax.jit(attend)):
        with pytest.raises(nets.NetsError, match="holds 4 positions; a chunk of 6 cannot fit"):
            fn(attention_params, x, cache)


def test_a_cache_made_for_other_heads_is_a_clear_error(attention_params):
    x = _normal(3, 2, 1, 8)
    for wrong in (nets.init_cache(2, 4, 4, 2), nets.init_cache(1, 4, 2, 4),
                  nets.init_cache(2, 4, 2, 8)):
        with pytest.raises(nets.NetsError, match="make it with init_cache"):
            nets.attention(attention_params, x, heads=2, cache=wrong)


@pytest.mark.parametrize("args", [(0, 4, 2, 4), (2, 0, 2, 4), (2, 4, 2, 2.5), (2, True, 2, 4),
                                  (2, -3, 2, 4)])
def test_init_cache_sizes_are_positive_ints(args):
    with pytest.raises(nets.NetsError, match=r"init_cache: .* is a positive int"):
        nets.init_cache(*args)


def test_rope_at_cached_positions_equals_rope_at_absolute_positions():
    """The offset is the position: rows 5..7 of one rotation over 8 positions."""
    x = _normal(4, 1, 8, 2, 6)
    full = nets.rope(x)
    np.testing.assert_allclose(nets.rope(x[:, 5:], offset=5), full[:, 5:], atol=1e-6)
    np.testing.assert_allclose(jax.jit(nets.rope)(x[:, 5:], offset=jnp.int32(5)), full[:, 5:],
                               atol=1e-6)


# ---------------------------------------------------------------- mask shapes


@pytest.mark.parametrize("shape", [(4,), (2, 4), (3, 1, 3, 3), (2, 2, 3, 3, 1), (1, 1, 1, 2)])
def test_masks_that_do_not_fit_the_scores_are_refused(attention_params, shape):
    x = _normal(5, 2, 3, 8)  # scores b h q k = 2 2 3 3
    mask = jnp.ones(shape, bool)
    with pytest.raises(nets.NetsError, match=r"does not fit the scores b h q k = \(2, 2, 3, 3\)"):
        nets.attention(attention_params, x, heads=2, mask=mask)
    q = k = v = _normal(6, 2, 3, 2, 4)
    with pytest.raises(nets.NetsError, match="does not fit the scores"):
        nets.dot_product_attention(q, k, v, mask)


def test_a_mask_of_three_axes_is_ambiguous(attention_params):
    x = _normal(8, 2, 3, 8)  # b = h = 2: a b q k mask would be read as h q k
    with pytest.raises(nets.NetsError, match=r"ambiguous \(b q k or h q k\?\).*mask\[:, None\]"):
        nets.attention(attention_params, x, heads=2, mask=jnp.ones((2, 3, 3), bool))
    # the shapes NumPy broadcasts without doubt are kept: k, q k, b h q k with ones
    for shape in ((3,), (3, 3), (2, 1, 1, 3), (1, 2, 3, 1)):
        nets.attention(attention_params, x, heads=2, mask=jnp.ones(shape, bool))


def test_masks_that_fit_are_applied(attention_params):
    x = _normal(7, 2, 3, 8)
    keys_1_and_2 = jnp.asarray([[True, True, False], [True, True, True]])[:, None, None, :]
    out = nets.attention(attention_params, x, heads=2, mask=keys_1_and_2, causal=False)
    # the first batch row does not see its third key: changing it changes nothing there
    moved = x.at[0, 2].add(1.0)
    again = nets.attention(attention_params, moved, heads=2, mask=keys_1_and_2, causal=False)
    np.testing.assert_allclose(again[0, :2], out[0, :2], atol=1e-6)
    # a cache's keys are its slots: the mask's key axis is the cache length
    cache = nets.init_cache(2, 5, 2, 4)
    padding = jnp.ones((2, 1, 1, 5), bool)
    nets.attention(attention_params, x, heads=2, mask=padding, cache=cache)
    with pytest.raises(nets.NetsError, match=r"b h q k = \(2, 2, 3, 5\)"):
        nets.attention(attention_params, x, heads=2, mask=keys_1_and_2, cache=cache)
    with pytest.raises(nets.NetsError, match="boolean"):
        nets.attention(attention_params, x, heads=2, mask=jnp.ones((2, 1, 1, 3)))
