"""levante.models: GPT and LSTM forward passes, cached decoding, sampling, and the checks on
positions (learned table, caches), ids and prompts."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from levante import nets
from levante.models import generate, gpt, lstm
from levante.models._generate import SamplingError, _in_top_k, _sample, _window, plan

SMALL = gpt.GPTConfig(vocab=11, layers=2, heads=2, width=16, block=12)
ROTARY = gpt.GPTConfig(vocab=11, layers=2, heads=2, width=16, block=12, positions="rotary",
                       gated=True, norm="rms", activation="silu", tie=False, bias=False)


@pytest.fixture(scope="module", params=[SMALL, ROTARY], ids=["learned", "llama-style"])
def model(request):
    config = request.param
    return config, gpt.init(config, jax.random.key(0))


def greedy_uncached(params, config, prompt, steps):
    """The reference: the whole context through the model for every new token."""
    ids = list(prompt)
    for _ in range(steps):
        logits = gpt.forward(params, config, jnp.asarray([ids[-config.block:]]))
        ids.append(int(jnp.argmax(logits[0, -1])))
    return ids[len(prompt):]


def test_cached_forward_equals_uncached(model):
    config, params = model
    ids = jax.random.randint(jax.random.key(1), (2, 9), 0, config.vocab)
    full = gpt.forward(params, config, ids)
    cache = gpt.init_cache(config, 2)
    first, cache = gpt.forward(params, config, ids[:, :5], cache=cache)
    rest = []
    for t in range(5, 9):
        logits, cache = gpt.forward(params, config, ids[:, t:t + 1], cache=cache)
        rest.append(logits)
    np.testing.assert_allclose(jnp.concatenate([first, *rest], axis=1), full, atol=2e-5)


def test_greedy_generation_matches_the_uncached_pass_within_a_block(model):
    config, params = model
    prompt = [1, 2, 3]
    got = generate(params, config, jnp.asarray(prompt), config.block - len(prompt),
                   jax.random.key(0), temperature=0)
    assert got.tolist() == greedy_uncached(params, config, prompt, config.block - len(prompt))


def test_long_generation_keeps_going_past_the_block(model):
    config, params = model
    out = generate(params, config, jnp.asarray([1]), 3 * config.block, jax.random.key(0),
                   temperature=0.8, top_k=5)
    assert out.shape == (3 * config.block,) and out.min() >= 0 and out.max() < config.vocab


def test_sampling_is_reproducible_and_batched(model):
    config, params = model
    prompt = jnp.asarray([[1, 2], [3, 4]])
    a = generate(params, config, prompt, 7, jax.random.key(5))
    b = generate(params, config, prompt, 7, jax.random.key(5))
    assert a.shape == (2, 7) and (a == b).all()


def test_a_generation_compiles_once():
    config, params = SMALL, gpt.init(SMALL, jax.random.key(0))
    before = _sample._cache_size()
    generate(params, config, jnp.asarray([1, 2]), 3 * config.block, jax.random.key(0))
    generate(params, config, jnp.asarray([3, 4]), 3 * config.block, jax.random.key(1))
    assert _sample._cache_size() - before == 1  # same shapes: reused


def test_one_program_equals_window_by_window():
    """The compiled run of windows picks what a Python loop over the same windows picks."""
    config, params = SMALL, gpt.init(SMALL, jax.random.key(0))
    prompt, steps, key = jnp.asarray([[1, 2, 3]]), 4 * config.block + 3, jax.random.key(7)
    window = jax.jit(functools.partial(_window, temperature=0.9, top_k=4),
                     static_argnames=("config", "count"))
    history = prompt
    for start, keep, count, repeats in plan(prompt.shape[1], steps, config.block):
        for i in range(repeats):
            at = start + i * count
            made = at + keep - prompt.shape[1]
            tokens = window(params, config=config, context=history[:, at:at + keep], key=key,
                            made=made, count=count)
            history = jnp.concatenate([history, tokens], axis=1)
    ours = generate(params, config, prompt, steps, key, temperature=0.9, top_k=4)
    assert any(repeats > 1 for *_, repeats in plan(prompt.shape[1], steps, config.block))
    np.testing.assert_array_equal(ours, np.asarray(history[:, prompt.shape[1]:]))


def test_top_k_one_is_greedy():
    config, params = SMALL, gpt.init(SMALL, jax.random.key(0))
    a = generate(params, config, jnp.asarray([1]), 6, jax.random.key(0), temperature=1.0, top_k=1)
    b = generate(params, config, jnp.asarray([1]), 6, jax.random.key(9), temperature=0)
    assert (a == b).all()


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": -1.0}, "temperature"), ({"top_k": 0}, "top_k")])
def test_bad_sampling_settings(kwargs, message):
    config, params = SMALL, gpt.init(SMALL, jax.random.key(0))
    with pytest.raises(SamplingError, match=message):
        generate(params, config, jnp.asarray([1]), 3, jax.random.key(0), **kwargs)


def test_configs_refuse_what_cannot_work():
    with pytest.raises(gpt.ConfigError, match="divide"):
        gpt.GPTConfig(width=10, heads=4)
    with pytest.raises(gpt.ConfigError, match="positions"):
        gpt.GPTConfig(positions="sinusoidal")
    with pytest.raises(gpt.ConfigError, match="exceed"):
        gpt.forward(gpt.init(SMALL, jax.random.key(0)), SMALL, jnp.zeros((1, 13), jnp.int32))


def test_lstm_generation_continues_its_state():
    config = lstm.LSTMConfig(vocab=7, width=4, hidden=8, block=6)
    params = lstm.init(config, jax.random.key(0))
    prompt = [1, 2, 3]
    got = generate(params, config, jnp.asarray(prompt), 5, jax.random.key(0), temperature=0)
    ids = list(prompt)
    for _ in range(5):
        logits, _ = lstm.forward(params, config, jnp.asarray([ids]))
        ids.append(int(jnp.argmax(logits[0, -1])))
    assert got.tolist() == ids[3:]


def test_gpt_parameter_count_matches_nanogpt():
    # nanoGPT's 4x128 character model: 0.80M parameters besides the 64x128 positions
    from levante.core import count

    params = gpt.init(gpt.GPTConfig(), jax.random.key(0))
    assert count(params) - 64 * 128 == 801_664


@pytest.mark.parametrize("vocab", [7, 65, 300])  # 300: past RANK_BY_COUNTING, sorted
def test_top_k_keeps_what_numpy_keeps(vocab):
    rng = np.random.default_rng(vocab)
    logits = np.round(rng.normal(size=(5, vocab)), 1).astype(np.float32)  # rounding makes ties
    for k in (1, 3, vocab):
        kth = np.sort(logits, axis=-1)[:, -k][:, None]
        np.testing.assert_array_equal(_in_top_k(jnp.asarray(logits), k), logits >= kth)


# ---------------------------------------------------------------- positions, ids, prompts


@functools.cache
def small_params():
    return gpt.init(SMALL, jax.random.key(0))


def long_cache(config, extra=4):
    """A cache longer than the block, made by hand (gpt.init_cache refuses it)."""
    return [nets.init_cache(1, config.block + extra, config.heads, config.width // config.heads)
            for _ in range(config.layers)]


def test_learned_positions_end_at_the_block():
    config, params = SMALL, small_params()
    with pytest.raises(gpt.ConfigError, match="longer than the 12 learned positions"):
        gpt.init_cache(config, 1, length=config.block + 1)
    ids = jax.random.randint(jax.random.key(2), (1, config.block), 0, config.vocab)
    _, full = gpt.forward(params, config, ids, cache=long_cache(config))  # 12 of 16 slots
    token = jnp.asarray([[3]])
    # was: position block - 1 silently reused for every later token
    with pytest.raises(gpt.ConfigError, match=r"positions 12..12 are past the 12 learned"):
        gpt.forward(params, config, token, cache=full)
    forward = jax.jit(functools.partial(gpt.forward, config=config))
    logits, _ = forward(params, ids=token, cache=full)
    assert np.isnan(np.asarray(logits)).all()
    # the last position that exists is still fine, eagerly and under jit
    _, eleven = gpt.forward(params, config, ids[:, :11], cache=gpt.init_cache(config, 1))
    eager, _ = gpt.forward(params, config, ids[:, 11:], cache=eleven)
    compiled, _ = forward(params, ids=ids[:, 11:], cache=eleven)
    np.testing.assert_allclose(eager, gpt.forward(params, config, ids)[:, 11:], atol=2e-5)
    np.testing.assert_allclose(compiled, eager, atol=2e-5)


def test_a_cached_chunk_longer_than_the_block_is_a_clear_error():
    ids = jnp.zeros((1, SMALL.block + 1), jnp.int32)
    params = small_params()
    for cache in (gpt.init_cache(SMALL, 1), long_cache(SMALL)):
        with pytest.raises(gpt.ConfigError, match="13 tokens exceed the 12 learned positions"):
            gpt.forward(params, SMALL, ids, cache=cache)
        # under jit too: it was a raw lax TypeError
        with pytest.raises(gpt.ConfigError, match="13 tokens exceed"):
            jax.jit(functools.partial(gpt.forward, config=SMALL))(params, ids=ids, cache=cache)
    with pytest.raises(gpt.ConfigError, match="13 tokens exceed"):
        gpt.prefill(params, SMALL, ids)


def test_rotary_positions_end_at_the_cache():
    config, params = ROTARY, gpt.init(ROTARY, jax.random.key(0))
    ids = jnp.zeros((1, config.block + 1), jnp.int32)
    with pytest.raises(nets.NetsError, match="holds 12 positions; a chunk of 13 cannot fit"):
        gpt.forward(params, config, ids, cache=gpt.init_cache(config, 1))
    # a longer cache is allowed: rotary positions have no table
    logits, cache = gpt.forward(params, config, ids, cache=gpt.init_cache(config, 1, 16))
    assert np.isfinite(np.asarray(logits)).all() and int(cache[0]["index"]) == 13


def test_a_cache_of_other_layers_is_refused():
    with pytest.raises(gpt.ConfigError, match="the cache has 1 layers, the model 2"):
        gpt.forward(small_params(), SMALL, jnp.zeros((1, 2), jnp.int32),
                    cache=gpt.init_cache(SMALL, 1)[:1])


@pytest.mark.parametrize("bad", [-1, 11, 100])
def test_ids_outside_the_vocabulary(bad):
    ids = jnp.asarray([[1, 2, 3], [1, 2, bad]])
    with pytest.raises(nets.NetsError, match=rf"ids hold {bad} at position \(1, 2\)"):
        gpt.forward(small_params(), SMALL, ids)
    logits = jax.jit(functools.partial(gpt.forward, config=SMALL))(small_params(), ids=ids)
    # the sequence with the bad id is NaN throughout (0 attention weight times a NaN value
    # is NaN), never the logits of a clamped id; the other sequence is untouched
    assert np.isnan(np.asarray(logits[1])).all()
    np.testing.assert_allclose(logits[:1], gpt.forward(small_params(), SMALL, ids[:1]),
                               atol=2e-5)
    config = lstm.LSTMConfig(vocab=7, width=4, hidden=8)
    with pytest.raises(nets.NetsError, match="outside \\[0, 7\\)"):
        lstm.forward(lstm.init(config, jax.random.key(0)), config, jnp.asarray([[1, 7]]))


@pytest.mark.parametrize("prompt, steps, message", [
    ([1, -1], 3, r"the prompt holds -1, outside the ids \[0, 11\)"),
    ([[1, 11]], 3, "the prompt holds 11"),
    ([1.0, 2.0], 3, "the prompt holds ids, integers"),
    ([True], 3, "the prompt holds ids, integers"),
    ([1, 2], -5, "steps is how many ids to sample, an int >= 0; got -5"),
    ([1, 2], 2.0, "steps is how many"),
])
def test_bad_prompts_and_steps(prompt, steps, message):
    with pytest.raises(SamplingError, match=message):
        generate(small_params(), SMALL, prompt, steps, jax.random.key(0))


@pytest.mark.parametrize("temperature, top_k", [(float("nan"), None), (float("inf"), None),
                                                (-1.0, None), ("hot", None), (1.0, 2.5),
                                                (1.0, True)])
def test_bad_temperatures_and_top_k(temperature, top_k):
    """NaN compares False with everything: without its own check it sampled garbage."""
    with pytest.raises(SamplingError, match=r"temperature|top_k"):
        generate(small_params(), SMALL, np.array([1, 2]), 3, jax.random.key(0),
                 temperature=temperature, top_k=top_k)
