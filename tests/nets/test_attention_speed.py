"""Causal attention over long sequences goes in chunks of queries, a few (b h) rows at a
time, and never builds the `b h q k` square: its values and gradients are the plain
formula's, whatever the lengths (a last chunk shorter than the others, fewer queries than
keys, a number of rows with no divisor under the budget), and its steps stay small.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend import core as jcore

from levante import nets
from levante.nets import _attention

CHUNK = _attention._CHUNK


def normal(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def numpy_causal(q, k, v):
    """softmax(q kᵀ / sqrt(c) + causal mask) v in float64, `b h t c`, the queries being the
    last keys (bottom-right)."""
    q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
    queries, keys = q.shape[2], k.shape[2]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    visible = np.arange(keys)[None, :] <= np.arange(queries)[:, None] + keys - queries
    scores = np.where(visible, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("b, h, queries, keys, c", [
    (1, 2, CHUNK + 1, CHUNK + 1, 4),         # a last chunk of one query
    (2, 3, 2 * CHUNK + 40, 2 * CHUNK + 90, 8),  # fewer queries than keys
    (1, 7, CHUNK + 60, CHUNK + 60, 4),        # 7 rows: no divisor but 1 under the budget
])
def test_long_causal_attention_equals_the_formula(b, h, queries, keys, c):
    q, k, v = normal(0, b, h, queries, c), normal(1, b, h, keys, c), normal(2, b, h, keys, c)
    out = _attention._causal_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v))
    np.testing.assert_allclose(np.asarray(out, np.float64), numpy_causal(q, k, v),
                               rtol=1e-5, atol=1e-5)


def test_long_causal_gradients_equal_the_single_block():
    """The chunked path and the one-product path (`_causal_block` over the whole square)
    give the same gradients for queries, keys and values."""
    b, h, queries, keys, c = 1, 4, CHUNK + 100, CHUNK + 130, 8
    q, k, v = (jnp.asarray(x) for x in (normal(0, b, h, queries, c), normal(1, b, h, keys, c),
                                         normal(2, b, h, keys, c)))
    cotangent = jnp.asarray(normal(3, b, h, queries, c))
    long = lambda q, k, v: jnp.sum(_attention._causal_attention(q, k, v) * cotangent)
    whole = lambda q, k, v: jnp.sum(
        _attention._causal_block(q, k, v, keys - queries) * cotangent)
    for ours, theirs in zip(jax.grad(long, (0, 1, 2))(q, k, v),
                            jax.grad(whole, (0, 1, 2))(q, k, v), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def _shapes(jaxpr):
    """The shapes of every value a jaxpr computes, its sub-jaxprs' (scan bodies) included."""
    for equation in jaxpr.eqns:
        yield from (var.aval.shape for var in equation.outvars)
        for param in equation.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if isinstance(inner, jcore.Jaxpr):
                    yield from _shapes(inner)


def test_long_self_attention_never_builds_the_square():
    b, t, width, heads = 2, 2 * CHUNK + 8, 16, 4
    x = jnp.zeros((b, t, width))
    params = {"qkv": {"w": jnp.zeros((width, 3 * width)), "b": jnp.zeros(3 * width)},
              "out": {"w": jnp.zeros((width, width)), "b": jnp.zeros(width)}}
    jaxpr = jax.make_jaxpr(lambda p, x: nets.multi_head_self_attention(p, x, heads=heads))(
        params, x).jaxpr
    head = width // heads
    # scores (and weights): ... queries keys, with more keys than a chunk and more
    # queries than a head has features
    scores = [s for s in _shapes(jaxpr) if len(s) >= 3 and s[-1] >= CHUNK and s[-2] > head]
    assert scores, "no scores found: the test no longer looks at attention"
    assert max(s[-2] for s in scores) <= CHUNK  # at most a chunk of queries at a time
    assert max(s[-1] for s in scores) == t  # the last chunk sees every key
    # one step's float32 scores stay within the budget, a part of the (b h) rows
    assert max(4 * int(np.prod(s)) for s in scores) <= _attention._SCORES_BYTES
    assert all(s[0] < b * heads for s in scores)
    assert not any(s[-2:] == (t, t) for s in _shapes(jaxpr))


def test_short_self_attention_is_one_product():
    """Up to a chunk of queries, one product and one softmax: no loop."""
    x = jnp.zeros((2, CHUNK, 8))
    params = {"qkv": {"w": jnp.zeros((8, 24)), "b": jnp.zeros(24)},
              "out": {"w": jnp.zeros((8, 8)), "b": jnp.zeros(8)}}
    jaxpr = jax.make_jaxpr(lambda p, x: nets.multi_head_self_attention(p, x, heads=2))(
        params, x).jaxpr
    assert not any(e.primitive.name in ("scan", "while") for e in jaxpr.eqns)
    assert any(s[-2:] == (CHUNK, CHUNK) for s in _shapes(jaxpr))


def test_long_causal_attention_in_bfloat16_follows_float32():
    q, k, v = (normal(i, 1, 2, CHUNK + 20, 8) for i in range(3))
    low = _attention._causal_attention(*(jnp.asarray(x, jnp.bfloat16) for x in (q, k, v)))
    assert low.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(low, np.float32), numpy_causal(q, k, v),
                               rtol=0.05, atol=0.05)


def test_gpt2_past_a_chunk_equals_transformers(tmp_path):
    """A small random GPT-2 with a context longer than a chunk: logits within 1e-4 of
    transformers' (float32) and the loss's gradients within 1e-4 relative."""
    torch = pytest.importorskip("torch", reason="transformers' GPT-2 runs on PyTorch")
    transformers = pytest.importorskip("transformers", reason="the oracle is transformers'")
    from levante.models import gpt, gpt2

    vocab, length = 61, CHUNK + 44
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=vocab, n_positions=length, n_embd=16, n_layer=2, n_head=2, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0)).eval()
    with torch.no_grad():  # weights at a scale where the scores spread
        for tensor in model.parameters():
            tensor.copy_(0.3 * torch.randn_like(tensor))
    model.save_pretrained(tmp_path)
    params, config = gpt2.load(tmp_path)
    ids = np.random.default_rng(0).integers(0, vocab, (2, length + 1))
    inputs, targets = ids[:, :-1], ids[:, 1:]

    ours = jax.jit(lambda p, x: gpt.forward(p, config, x))(params, jnp.asarray(inputs))
    logits = model(torch.from_numpy(inputs)).logits
    assert np.abs(logits.detach().numpy()).max() > 1.0
    assert np.abs(np.asarray(ours) - logits.detach().numpy()).max() <= 1e-4

    grads = jax.jit(jax.grad(lambda p: gpt.loss(p, config, jnp.asarray(inputs),
                                                jnp.asarray(targets))))(params)
    torch.nn.functional.cross_entropy(logits.reshape(-1, vocab),
                                      torch.from_numpy(targets).reshape(-1)).backward()
    theirs = gpt2.params_from_hf({n: p.grad.numpy() for n, p in model.named_parameters()},
                                 config)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(theirs), strict=True):
        assert np.abs(np.asarray(a) - b).max() <= 1e-4 * np.abs(b).max()


def test_very_long_causal_attention_loops_over_equal_chunks(monkeypatch):
    """Past _MOST_UNROLLED chunks the queries go through one looped chunk over all the keys
    (the last chunk padded): the same values as the formula, and a program whose size does
    not grow with the length."""
    monkeypatch.setattr(_attention, "_MOST_UNROLLED", 2)
    b, h, queries, keys, c = 1, 2, 3 * CHUNK + 17, 3 * CHUNK + 40, 4
    q, k, v = normal(0, b, h, queries, c), normal(1, b, h, keys, c), normal(2, b, h, keys, c)
    out = _attention._causal_attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v))
    np.testing.assert_allclose(np.asarray(out, np.float64), numpy_causal(q, k, v),
                               rtol=1e-5, atol=1e-5)


def test_tracing_a_huge_context_stays_quick():
    """A shape-only trace of attention over 10**7 positions (as a settings check does
    before any array is made) builds a program of one looped chunk, not 40,000 of them."""
    x = jax.ShapeDtypeStruct((1, 10**7, 8), jnp.float32)
    params = {"qkv": {"w": jax.ShapeDtypeStruct((8, 24), jnp.float32),
                      "b": jax.ShapeDtypeStruct((24,), jnp.float32)},
              "out": {"w": jax.ShapeDtypeStruct((8, 8), jnp.float32),
                      "b": jax.ShapeDtypeStruct((8,), jnp.float32)}}
    jaxpr = jax.make_jaxpr(lambda p, x: nets.multi_head_self_attention(p, x, heads=2))(
        params, x)
    assert len(str(jaxpr)) < 20_000
