"""levante.models: GPT and LSTM forward passes, cached decoding, sampling."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
