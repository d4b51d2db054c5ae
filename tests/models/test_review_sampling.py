"""Sampling and `logits_to_keep` at their edges: NumPy integer counts, dropout while
training, a one-position context, batches of prompts that cannot make one array, and the
documented window rule checked against a plain uncached loop."""

import contextlib
import signal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from levante import nets
from levante.core import trace
from levante.models import generate, gpt
from levante.models._generate import SamplingError, plan

CONFIG = gpt.GPTConfig(vocab=13, layers=2, heads=2, width=16, block=8)


@pytest.fixture(scope="module")
def params():
    return gpt.init(CONFIG, jax.random.key(0))


def ids(t, batch=2, seed=0):
    return jnp.asarray(np.random.default_rng(seed).integers(0, CONFIG.vocab, (batch, t)),
                       jnp.int32)


@contextlib.contextmanager
def deadline(seconds):
    """Fail, rather than hang, when the body runs longer than `seconds` (a Python loop)."""
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def greedy_by_the_window_rule(params, config, prompt, steps):
    """The reference: the whole context through `gpt.forward` for every new id, the context
    restarting from the last `block // 2` ids once it holds `block` (the documented rule).
    The context sits at the start of a block of padding, which a causal model never reads
    for the positions before it: one compiled shape for every step."""
    forward = jax.jit(lambda params, ids: gpt.forward(params, config, ids))
    history, start = list(prompt), 0
    for _ in range(steps):
        if len(history) - start >= config.block:
            start = len(history) - max(1, config.block // 2)
        context = history[start:]
        padded = jnp.asarray([context + [0] * (config.block - len(context))])
        history.append(int(jnp.argmax(forward(params, padded)[0, len(context) - 1])))
    return history[len(prompt):]


@pytest.mark.parametrize("prompt_length", [1, 8, 11])
def test_greedy_generation_restarts_windows_as_documented(params, prompt_length):
    prompt = np.random.default_rng(prompt_length).integers(0, CONFIG.vocab, prompt_length)
    steps = 3 * CONFIG.block + 1
    got = generate(params, CONFIG, prompt, steps, jax.random.key(0), temperature=0)
    assert got.tolist() == greedy_by_the_window_rule(params, CONFIG, prompt.tolist(), steps)


@pytest.mark.parametrize("count", [np.int64(3), np.int32(1), np.uint8(2)])
def test_numpy_integer_counts_are_counts(params, count):
    x = ids(5)
    kept = gpt.forward(params, CONFIG, x, logits_to_keep=count)
    np.testing.assert_allclose(kept, gpt.forward(params, CONFIG, x)[:, -int(count):],
                               rtol=1e-5, atol=1e-6)
    h = jax.random.normal(jax.random.key(1), (2, 5, 16))
    f = lambda p, h, **kw: nets.transformer_block(p, h, heads=4, **kw)
    p = trace(f, 0, h)
    np.testing.assert_allclose(f(p, h, keep_last=count), f(p, h)[:, -int(count):],
                               rtol=1e-5, atol=1e-6)


def test_kept_logits_while_training_with_dropout_are_the_whole_pass_rows():
    """The same key draws the same dropout masks: the kept rows are the whole pass's rows,
    as slicing its logits would give (transformers' `logits_to_keep` slices at the end)."""
    config = gpt.GPTConfig(vocab=13, layers=2, heads=2, width=16, block=8, dropout=0.3)
    params = gpt.init(config, jax.random.key(0))
    x, key = ids(7), jax.random.key(5)
    whole = gpt.forward(params, config, x, key=key, training=True)
    for keep in (1, 3):
        kept = gpt.forward(params, config, x, key=key, training=True, logits_to_keep=keep)
        np.testing.assert_allclose(kept, whole[:, -keep:], rtol=1e-5, atol=1e-6)


def test_a_block_kept_while_training_with_dropout_gives_the_whole_blocks_rows():
    h = jax.random.normal(jax.random.key(1), (2, 6, 16))
    f = lambda p, h, **kw: nets.transformer_block(p, h, heads=4, dropout=0.4, **kw)
    p = trace(f, 0, h)
    key = jax.random.key(3)
    whole = f(p, h, key=key, training=True)
    np.testing.assert_allclose(f(p, h, key=key, training=True, keep_last=2), whole[:, -2:],
                               rtol=1e-5, atol=1e-6)


def test_a_one_position_context_samples_from_the_last_id():
    """block=1 is a valid config: each id is predicted from the one before it (the window
    rule keeps max(1, block // 2) = 1), instead of a plan that never advances."""
    config = gpt.GPTConfig(vocab=7, layers=1, heads=1, width=4, block=1)
    params = gpt.init(config, jax.random.key(0))
    with deadline(10):
        assert plan(1, 5, 1) == [(0, 1, 1, 5)]
        got = generate(params, config, [3], 6, jax.random.key(0), temperature=0)
    assert got.tolist() == greedy_by_the_window_rule(params, config, [3], 6)
    with deadline(30):
        sampled = generate(params, config, [[3], [4]], 6, jax.random.key(1), top_k=3)
    assert sampled.shape == (2, 6)


def test_an_empty_batch_of_prompts_is_a_sampling_error(params):
    with pytest.raises(SamplingError, match="at least one"):
        generate(params, CONFIG, np.zeros((0, 3), np.int32), 4, jax.random.key(0))


def test_prompts_of_different_lengths_are_a_sampling_error(params):
    with pytest.raises(SamplingError, match="same length"):
        generate(params, CONFIG, [[1, 2], [3]], 4, jax.random.key(0))
