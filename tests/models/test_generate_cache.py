"""levante.models.generate's KV caches: each window's cache is sized to what it decodes (not
the whole block), the tokens stay those of the uncached pass, and a decoding step writes
its cache in place (no copy of a cache inside the compiled loop)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from levante.models import generate, gpt
from levante.models._generate import CACHE_ROUNDING, _sample, cache_length, plan

# a block longer than one rounding step, so that a short generation gets a shorter cache
LONG = gpt.GPTConfig(vocab=11, layers=2, heads=2, width=16, block=3 * CACHE_ROUNDING)


@pytest.fixture(scope="module")
def params():
    return gpt.init(LONG, jax.random.key(0))


def greedy_uncached(params, config, prompt, steps):
    """The reference: the whole context through the model for every new token. The
    context sits at the start of a block of padding, which a causal model never reads
    for the positions before it: one compiled shape for every step."""
    forward = jax.jit(lambda params, ids: gpt.forward(params, config, ids))
    ids = list(prompt)
    for _ in range(steps):
        context = ids[-config.block:]
        padded = jnp.asarray([context + [0] * (config.block - len(context))])
        ids.append(int(jnp.argmax(forward(params, padded)[0, len(context) - 1])))
    return ids[len(prompt):]


@given(capacity=st.integers(1, 4096), needed=st.integers(1, 4096))
def test_cache_length_covers_the_window_in_few_shapes(capacity, needed):
    length = cache_length(capacity, needed)
    assert length <= capacity
    assert length >= min(needed, capacity)
    assert length == capacity or length % CACHE_ROUNDING == 0
    assert length - min(needed, capacity) < CACHE_ROUNDING  # never a rounding step too many


def test_cache_length_of_a_model_without_one():
    assert cache_length(None, 10) is None


def test_prefill_makes_a_cache_of_the_length_asked(params):
    ids = jnp.asarray([[1, 2, 3]])
    logits, cache = gpt.prefill(params, LONG, ids, CACHE_ROUNDING)
    assert all(layer["keys"].shape[1] == CACHE_ROUNDING for layer in cache)
    full_logits, full = gpt.prefill(params, LONG, ids)
    assert full[0]["keys"].shape[1] == LONG.block
    np.testing.assert_allclose(logits, full_logits, atol=1e-6)


@pytest.mark.parametrize("steps", [CACHE_ROUNDING - 3, CACHE_ROUNDING + 5])
def test_a_short_window_cache_gives_the_uncached_tokens(params, steps):
    """Prompt + samples fit in one or two rounding steps of a block three steps long: the
    cache is shorter than the block, the causal masking over it stays exact."""
    prompt = [1, 2, 3]
    assert cache_length(LONG.block, len(prompt) + steps) < LONG.block
    got = generate(params, LONG, jnp.asarray(prompt), steps, jax.random.key(0),
                   temperature=0)
    assert got.tolist() == greedy_uncached(params, LONG, prompt, steps)


def test_sampling_past_the_block_with_sized_windows(params):
    """The first window's cache is shorter than the later ones' (a block each): all of
    them give the tokens of the uncached pass over the same context."""
    prompt = [4, 5]
    steps = LONG.block - len(prompt) + CACHE_ROUNDING // 2  # a second window, shorter
    runs = plan(len(prompt), steps, LONG.block)
    lengths = {cache_length(LONG.block, keep + count) for _, keep, count, _ in runs}
    assert len(runs) > 1 and len(lengths) > 1
    got = generate(params, LONG, jnp.asarray(prompt), steps, jax.random.key(0),
                   temperature=0)
    reference, history = [], list(prompt)
    for start, keep, count, repeats in runs:  # the uncached pass over each window
        for i in range(repeats):
            at = start + i * count
            tokens = greedy_uncached(params, LONG, history[at:at + keep], count)
            history += tokens
            reference += tokens
    assert got.tolist() == reference


def _copies_of(text, shape):
    """The HLO `copy` instructions whose result has `shape` (e.g. 'f32[4,64,8]')."""
    return [line for line in text.splitlines()
            if re.search(rf"= {re.escape(shape)}\{{[\d,]*\}} copy\(", line)]


def test_the_decoding_loop_writes_its_caches_in_place(params):
    """The compiled generation holds no copy of a cache: every step writes its own slot
    (dynamic_update_slice, in place) instead of reading and rewriting the whole cache."""
    steps = 40
    runs = tuple(plan(3, steps, LONG.block))
    prompt = jnp.zeros((1, 3), jnp.int32)
    text = _sample.lower(params, LONG, prompt, jax.random.key(0), steps=steps, runs=runs,
                         temperature=0.0, top_k=None).compile().as_text()
    length = cache_length(LONG.block, 3 + steps)
    shape = f"f32[{LONG.heads},{length},{LONG.width // LONG.heads}]"  # (b h) L c
    writes = re.findall(rf"= {re.escape(shape)}\{{[\d,]*\}} dynamic-update-slice\(", text)
    assert len(writes) >= 2 * LONG.layers  # keys and values of every layer's step
    assert not _copies_of(text, shape)


@pytest.mark.parametrize("count", [1, 2, 7])
def test_a_window_runs_one_model_step_fewer_than_it_samples(params, count):
    """A window's last token is never fed back (the next window starts with a prefill), so
    its decoding loop runs count - 1 model steps; the tokens are still those of the
    uncached pass."""
    from levante.models._generate import _window

    context = jnp.asarray([[1, 2, 3]], jnp.int32)
    window = lambda p, c: _window(p, LONG, c, jax.random.key(0), 0, count, 0.0, None)
    lengths = [e.params["length"] for e in jax.make_jaxpr(window)(params, context).eqns
               if e.primitive.name == "scan"]
    assert lengths == [count - 1]
    tokens = np.asarray(jax.jit(window)(params, context))[0].tolist()
    assert tokens == greedy_uncached(params, LONG, [1, 2, 3], count)
