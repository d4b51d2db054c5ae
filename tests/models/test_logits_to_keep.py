"""`logits_to_keep` (gpt.forward) and `keep_last` (nets.transformer_block): the last
positions' outputs alone, equal to the same rows of the whole pass; a prefill uses them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from levante import nets
from levante.core import trace
from levante.models import gpt
from levante.nets import NetsError

CONFIG = gpt.GPTConfig(vocab=11, layers=2, heads=2, width=16, block=12)


@pytest.fixture(scope="module")
def params():
    return gpt.init(CONFIG, jax.random.key(0))


def ids(t, batch=2, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, CONFIG.vocab, (batch, t)),
                       jnp.int32)


@pytest.mark.parametrize("keep", [1, 3, 7])
def test_kept_logits_are_the_last_rows_of_the_whole_pass(params, keep):
    x = ids(7)
    whole = gpt.forward(params, CONFIG, x)
    kept = gpt.forward(params, CONFIG, x, logits_to_keep=keep)
    assert kept.shape == (2, keep, CONFIG.vocab)
    np.testing.assert_allclose(kept, whole[:, -keep:], rtol=1e-5, atol=1e-6)


def test_with_a_cache_every_position_is_still_cached(params):
    """The kept pass writes the same keys and values as the whole one: decoding after
    either gives the same logits."""
    x = ids(5)
    cache = gpt.init_cache(CONFIG, 2)
    whole, whole_cache = gpt.forward(params, CONFIG, x, cache=cache)
    kept, kept_cache = gpt.forward(params, CONFIG, x, cache=cache, logits_to_keep=1)
    np.testing.assert_allclose(kept[:, 0], whole[:, -1], rtol=1e-5, atol=1e-6)
    for a, b in zip(whole_cache, kept_cache):
        np.testing.assert_allclose(a["keys"], b["keys"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a["values"], b["values"], rtol=1e-6, atol=1e-7)
        assert int(a["index"]) == int(b["index"]) == 5
    token = jnp.asarray([[3], [4]], jnp.int32)
    after_whole, _ = gpt.forward(params, CONFIG, token, cache=whole_cache)
    after_kept, _ = gpt.forward(params, CONFIG, token, cache=kept_cache)
    np.testing.assert_allclose(after_kept, after_whole, rtol=1e-5, atol=1e-6)


def test_prefill_gives_the_last_logits_of_the_uncached_pass(params):
    x = ids(9, seed=1)
    logits, cache = gpt.prefill(params, CONFIG, x)
    np.testing.assert_allclose(logits, gpt.forward(params, CONFIG, x)[:, -1], rtol=1e-5,
                               atol=1e-6)
    assert int(cache[0]["index"]) == 9


def test_prefill_skips_the_last_blocks_feed_forward_on_earlier_rows(params):
    """The compiled prefill multiplies only one row by the last block's up-projection."""
    text = jax.jit(lambda p, x: gpt.prefill(p, CONFIG, x)).lower(params, ids(9)).as_text()
    hidden = 4 * CONFIG.width
    assert f"tensor<18x{hidden}xf32>" in text  # the first block: every row (b t = 18)
    assert f"tensor<2x1x{hidden}xf32>" in text or f"tensor<2x{hidden}xf32>" in text


@pytest.mark.parametrize("bad", [0, 8, -1, 1.0, True, "1"])
def test_a_count_outside_the_positions_is_a_config_error(params, bad):
    with pytest.raises(gpt.ConfigError, match=r"logits_to_keep .* \[1, 7\]"):
        gpt.forward(params, CONFIG, ids(7), logits_to_keep=bad)


def test_keep_last_in_a_block_matches_the_whole_block():
    x = jax.random.normal(jax.random.key(1), (2, 6, 16))
    f = lambda p, x, **kw: nets.transformer_block(p, x, heads=4, **kw)
    p = trace(f, 0, x)
    np.testing.assert_allclose(f(p, x, keep_last=2), f(p, x)[:, -2:], rtol=1e-5, atol=1e-6)
    with pytest.raises(NetsError, match=r"keep_last .* \[1, 6\]"):
        f(p, x, keep_last=7)


@pytest.mark.parametrize("key", [0, None, "seed", np.zeros(3, np.uint32),
                                 np.zeros(2, np.int64), jax.random.split(jax.random.key(0), 2)])
def test_generate_names_a_wrong_key(params, key):
    from levante.models import generate
    from levante.models._generate import SamplingError

    with pytest.raises(SamplingError, match=r"key is one JAX random key"):
        generate(params, CONFIG, [1, 2], 3, key)


@pytest.mark.parametrize("key", [jax.random.key(3), jax.random.PRNGKey(3),
                                 np.asarray(jax.random.PRNGKey(3))])
def test_generate_takes_typed_and_raw_keys(params, key):
    from levante.models import generate

    assert generate(params, CONFIG, [1, 2], 3, key).shape == (3,)
