"""The blocks of `levante.nets` against independent implementations.

PyTorch (LSTM, layer norm, RMS norm, convolutions, pooling, GELU), hand-written NumPy
(attention, GeGLU / SwiGLU, RoPE's closed form), `jax.nn.dot_product_attention`, einops
(divide / merge); cached decoding against the full pass; RoPE's relative property and
divide's round trip with hypothesis.
"""

from __future__ import annotations

import math

import einops
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import levante as lv
from levante import nets

FAST = settings(max_examples=25, deadline=None)


def normal(seed, *shape, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def fill(shapes, seed=0):
    """Parameters of these shapes drawn with NumPy (no eager initializer compiles)."""
    rng = np.random.default_rng(seed)

    def leaf(shape):
        if len(shape.shape) < 2:
            return jnp.asarray(1 + 0.2 * rng.standard_normal(shape.shape), jnp.float32)
        fan_in = np.prod(shape.shape[:-1])
        return jnp.asarray(rng.standard_normal(shape.shape) / np.sqrt(fan_in), jnp.float32)

    return jax.tree.map(leaf, shapes)


def params_of(block, *inputs, seed=0, **hyper):
    return fill(lv.trace_shapes(block, 0, *inputs, **hyper), seed)


def close(actual, expected, tolerance=1e-5):
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=tolerance, atol=tolerance)


# ---------------------------------------------------------------- LSTM against PyTorch


@pytest.fixture(scope="module")
def torch_lstm():
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 5, batch_first=True)
    params = {"w_input": jnp.asarray(module.weight_ih_l0.detach().numpy().T),
              "w_hidden": jnp.asarray(module.weight_hh_l0.detach().numpy().T),
              "b": jnp.asarray((module.bias_ih_l0 + module.bias_hh_l0).detach().numpy())}
    return module, params


def _torch_run(module, x, state=None):
    with torch.no_grad():
        if state is not None:
            state = tuple(torch.from_numpy(np.asarray(s))[None] for s in state)
        ys, (h, c) = module(torch.from_numpy(x), state)
    return ys.numpy(), (h[0].numpy(), c[0].numpy())


def test_lstm_sequence_equals_torch(torch_lstm):
    module, params = torch_lstm
    x, state = normal(0, 2, 7, 3), (normal(1, 2, 5), normal(2, 2, 5))
    for given_state in (None, state):
        ys, (h, c) = nets.lstm(params, jnp.asarray(x), 5, given_state)
        expected_ys, (expected_h, expected_c) = _torch_run(module, x, given_state)
        close(ys, expected_ys)
        close(h, expected_h)
        close(c, expected_c)
        close(ys[:, -1], h)
    # the state out of one half is the state into the other
    first, middle = nets.lstm(params, jnp.asarray(x[:, :3]), 5, state)
    second, end = nets.lstm(params, jnp.asarray(x[:, 3:]), 5, middle)
    close(jnp.concatenate([first, second], axis=1), _torch_run(module, x, state)[0])
    close(end[1], _torch_run(module, x, state)[1][1])


def test_lstm_cell_equals_torch_single_step(torch_lstm):
    module, params = torch_lstm
    x, state = normal(3, 2, 3), (normal(4, 2, 5), normal(5, 2, 5))
    y, (h, c) = nets.lstm_cell(params, jnp.asarray(x), state, 5)
    expected_ys, (expected_h, expected_c) = _torch_run(module, x[:, None], state)
    close(y, expected_ys[:, 0])
    close(h, expected_h)
    close(c, expected_c)
    # step by step from the zero state equals the whole sequence
    sequence = normal(6, 2, 4, 3)
    state = nets.zero_state(2, 5)
    outputs = []
    for t in range(4):
        y, state = nets.lstm_cell(params, jnp.asarray(sequence[:, t]), state, 5)
        outputs.append(y)
    close(jnp.stack(outputs, axis=1), _torch_run(module, sequence)[0])


def test_lstm_rejects_a_single_step():
    params = params_of(nets.lstm, jnp.zeros((2, 4, 3)), 5)
    with pytest.raises(nets.NetsError, match="b t c"):
        nets.lstm(params, jnp.zeros((2, 3)), 5)


# ---------------------------------------------------------------- attention


def naive_attention(params, query, key=None, value=None, *, heads, mask=None, causal=True):
    """Projections, heads, softmax over the visible keys (causal: bottom-right), in float64."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    key = query if key is None else key
    value = key if value is None else value

    def project(name, x):
        return np.asarray(x, np.float64) @ p[name]["w"] + p[name]["b"]

    q, k, v = project("query", query), project("key", key), project("value", value)
    batch, tq, width = q.shape
    tk, d = k.shape[1], width // heads
    q, k, v = (a.reshape(batch, -1, heads, d) for a in (q, k, v))
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d)
    visible = np.ones(scores.shape, bool)
    if causal:
        visible &= np.arange(tk)[None, :] <= np.arange(tq)[:, None] + (tk - tq)
    if mask is not None:
        visible &= np.broadcast_to(np.asarray(mask), scores.shape)
    weights = np.zeros_like(scores)
    for index in np.ndindex(*scores.shape[:3]):
        row = visible[index]
        if row.any():
            e = np.exp(scores[index][row] - scores[index][row].max())
            weights[index][row] = e / e.sum()
    y = np.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, tq, width)
    return y @ p["out"]["w"] + p["out"]["b"]


@pytest.fixture(scope="module")
def attention_params():
    return params_of(nets.attention, jnp.zeros((2, 5, 8)), heads=2)


def test_attention_self_causal_equals_naive(attention_params):
    x = normal(10, 2, 5, 8)
    close(nets.attention(attention_params, jnp.asarray(x), heads=2),
          naive_attention(attention_params, x, heads=2))
    close(nets.attention(attention_params, jnp.asarray(x), heads=2, causal=False),
          naive_attention(attention_params, x, heads=2, causal=False))


def _fused(params):
    """multi_head_self_attention's parameters from attention's: qkv = [W_q W_k W_v]."""
    names = ("query", "key", "value")
    return {"qkv": {"w": jnp.concatenate([params[n]["w"] for n in names], axis=1),
                    "b": jnp.concatenate([params[n]["b"] for n in names])},
            "out": params["out"]}


def test_self_attention_is_attention_with_fused_projections(attention_params):
    x = jnp.asarray(normal(9, 2, 5, 8))
    fused = _fused(attention_params)
    shapes = lv.trace_shapes(lambda p, x: nets.multi_head_self_attention(p, x, heads=2), 0, x)
    assert jax.tree.map(lambda a: a.shape, shapes) == jax.tree.map(lambda a: a.shape, fused)
    mask = jnp.asarray(np.random.default_rng(8).random((2, 1, 5, 5)) < 0.5)
    for options in ({}, {"causal": False, "mask": mask}, {"rope": True}):
        close(nets.multi_head_self_attention(fused, x, heads=2, **options),
              nets.attention(attention_params, x, heads=2, **options))
    cache = nets.init_cache(2, 6, 2, 4)
    out, new = nets.multi_head_self_attention(fused, x, heads=2, cache=cache, rope=True)
    expected, expected_cache = nets.attention(attention_params, x, heads=2, cache=cache,
                                              rope=True)
    close(out, expected)
    close(new["keys"], expected_cache["keys"])


def test_attention_cross_with_masks_equals_naive(attention_params):
    query, key, value = normal(11, 2, 3, 8), normal(12, 2, 6, 8), normal(13, 2, 6, 8)
    mask = np.random.default_rng(14).random((2, 1, 3, 6)) < 0.6
    mask[0, 0, 1] = False  # a row with nothing visible
    for causal in (True, False):  # causal: query i sees keys up to i + 3 (bottom-right)
        for m in (None, mask, mask[:, :, :1]):
            out = nets.attention(attention_params, jnp.asarray(query), jnp.asarray(key),
                                 jnp.asarray(value), heads=2, causal=causal,
                                 mask=None if m is None else jnp.asarray(m))
            close(out, naive_attention(attention_params, query, key, value, heads=2, mask=m,
                                       causal=causal))


def test_fully_masked_rows_give_zeros_not_nan(attention_params):
    q = k = v = jnp.asarray(normal(15, 1, 4, 2, 4))
    mask = jnp.ones((1, 2, 4, 4), bool).at[0, 1, 2].set(False)
    y = nets.dot_product_attention(q, k, v, mask)
    assert np.isfinite(np.asarray(y)).all()
    np.testing.assert_array_equal(y[0, 2, 1], 0.0)
    assert np.abs(np.asarray(y[0, 2, 0])).max() > 0
    # through the block: the row's attention is zero, so its output is the out bias
    x = jnp.asarray(normal(16, 1, 4, 8))
    out = nets.attention(attention_params, x, heads=2, mask=jnp.zeros((1, 1, 4, 4), bool))
    close(out, np.broadcast_to(attention_params["out"]["b"], out.shape))
    gradient = jax.jit(jax.grad(lambda p: jnp.sum(jnp.sin(nets.attention(
        p, x, heads=2, mask=mask[:, :, None, 2])))))(attention_params)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(gradient))


def test_masked_softmax():
    scores = jnp.asarray(normal(17, 3, 5))
    mask = jnp.asarray([[True] * 5, [True, False, True, False, False], [False] * 5])
    weights = np.asarray(nets.masked_softmax(scores, mask))
    close(weights[0], jax.nn.softmax(scores[0]))
    close(weights[1, [0, 2]], jax.nn.softmax(scores[1, jnp.array([0, 2])]))
    np.testing.assert_array_equal(weights[1, [1, 3, 4]], 0.0)
    np.testing.assert_array_equal(weights[2], 0.0)
    gradient = jax.jit(jax.grad(lambda s: jnp.sum(jnp.sin(nets.masked_softmax(s, mask)))))(
        scores)
    assert np.isfinite(np.asarray(gradient)).all()
    close(nets.masked_softmax(scores, None), jax.nn.softmax(scores))


def test_dot_product_attention_equals_jax_nn():
    q, k, v = (jnp.asarray(normal(seed, 2, 5, 2, 4)) for seed in (18, 19, 20))
    close(nets.dot_product_attention(q, k, v), jax.nn.dot_product_attention(q, k, v))
    causal = jnp.tril(jnp.ones((5, 5), bool))
    close(nets.dot_product_attention(q, k, v, causal),
          jax.nn.dot_product_attention(q, k, v, is_causal=True))
    # a boolean mask (True = attend) where every row sees something: the conventions agree
    mask = jnp.asarray(np.random.default_rng(21).random((2, 2, 5, 5)) < 0.5)
    mask = mask | jnp.eye(5, dtype=bool)
    close(nets.dot_product_attention(q, k, v, mask),
          jax.nn.dot_product_attention(q, k, v, mask=mask))


def test_attention_rejects_bad_settings(attention_params):
    x = jnp.zeros((2, 5, 8))
    with pytest.raises(nets.NetsError, match="boolean"):
        nets.attention(attention_params, x, heads=2, mask=jnp.zeros((1, 1, 5, 5)))
    with pytest.raises(nets.NetsError, match="heads=3"):
        nets.attention(attention_params, x, heads=3)


@pytest.mark.parametrize("rope", [None, True])
def test_queries_without_cache_are_the_last_positions(attention_params, rope):
    """Causal masks and RoPE agree: fewer queries than keys are the last positions."""
    x = jnp.asarray(normal(22, 2, 6, 8))
    full = nets.attention(attention_params, x, heads=2, rope=rope)
    last = nets.attention(attention_params, x[:, -2:], x, heads=2, rope=rope)
    close(last, full[:, -2:])


# ---------------------------------------------------------------- cached decoding

DECODE_LENGTH, CACHE_LENGTH = 7, 10
SCHEDULES = [[1] * DECODE_LENGTH, [3] + [1] * 4, [2, 4, 1], [DECODE_LENGTH]]


def _attend(params, x, cache, rope):
    return nets.attention(params, x, heads=2, cache=cache, rope=rope)


_attend_jit = jax.jit(_attend, static_argnames="rope")


def _decode(step, params, x, schedule, cache):
    outputs, start = [], 0
    for size in schedule:
        out, cache = step(params, x[:, start:start + size], cache)
        outputs.append(out)
        start += size
    assert start == x.shape[1]
    return jnp.concatenate(outputs, axis=1), cache


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("rope", [None, True])
def test_cached_decoding_equals_the_full_pass(attention_params, rope, jit):
    x = jnp.asarray(normal(23, 2, DECODE_LENGTH, 8))
    full = nets.attention(attention_params, x, heads=2, rope=rope)
    attend = _attend_jit if jit else _attend

    def step(p, chunk, cache):
        return attend(p, chunk, cache, rope)

    for schedule in SCHEDULES if jit else SCHEDULES[:2]:
        out, cache = _decode(step, attention_params, x, schedule,
                             nets.init_cache(2, CACHE_LENGTH, 2, 4))
        close(out, full)
        assert int(cache["index"]) == DECODE_LENGTH
        np.testing.assert_array_equal(cache["keys"][:, DECODE_LENGTH:], 0.0)


def test_cached_transformer_block_equals_the_full_pass():
    def block(p, x, cache=None):
        return nets.transformer_block(p, x, heads=2, hidden=12, gated=True, norm="rms",
                                      rope=True, bias=False, cache=cache)

    x = jnp.asarray(normal(24, 2, DECODE_LENGTH, 8))
    params = params_of(block, x)
    full = block(params, x)
    step = jax.jit(block)
    out, _ = _decode(step, params, x, [3, 1, 1, 2], nets.init_cache(2, CACHE_LENGTH, 2, 4))
    close(out, full)


def test_unwritten_slots_never_receive_weight(attention_params):
    x = jnp.asarray(normal(25, 2, 3, 8))
    clean = nets.init_cache(2, CACHE_LENGTH, 2, 4)
    garbage = dict(clean, keys=jnp.full_like(clean["keys"], 1e4),
                   values=jnp.full_like(clean["values"], -1e4))
    for causal in (True, False):
        expected = nets.attention(attention_params, x, heads=2, causal=causal)
        for cache in (clean, garbage):
            out, _ = nets.attention(attention_params, x, heads=2, causal=causal, cache=cache)
            close(out, expected)


def test_writing_past_the_cache_end_is_an_error_eagerly(attention_params):
    x = jnp.asarray(normal(26, 2, 4, 8))
    cache = nets.init_cache(2, 4, 2, 4)
    _, full = nets.attention(attention_params, x, heads=2, cache=cache)  # exactly full: fine
    assert int(full["index"]) == 4
    with pytest.raises(nets.NetsError, match=r"holds 4 positions.*writing 1 at index 4"):
        nets.attention(attention_params, x[:, :1], heads=2, cache=full)
    _, partly = nets.attention(attention_params, x[:, :3], heads=2, cache=cache)
    with pytest.raises(nets.NetsError, match="writing 2 at index 3"):
        nets.attention(attention_params, x[:, :2], heads=2, cache=partly)


def test_writing_past_the_cache_end_is_nan_under_jit(attention_params):
    x = jnp.asarray(normal(27, 2, 4, 8))
    _, partly = _attend_jit(attention_params, x[:, :3], nets.init_cache(2, 4, 2, 4), None)
    fits, _ = _attend_jit(attention_params, x[:, 3:], partly, None)
    assert np.isfinite(np.asarray(fits)).all()
    out, cache = _attend_jit(attention_params, x[:, :2], partly, None)
    assert np.isnan(np.asarray(out)).all()
    assert int(cache["index"]) == 5  # past the end: every later step is NaN as well
    later, _ = _attend_jit(attention_params, x[:, :1], cache, None)
    assert np.isnan(np.asarray(later)).all()


# ---------------------------------------------------------------- RoPE


def test_rope_check_value_of_the_issue():
    close(nets.rope(jnp.ones((1, 4, 6)))[0, 1],
          [-0.3011687, 0.9525238, 0.9978433, 1.3817732, 1.0453222, 1.0021521], 1e-6)


def rope_closed_form(x, positions, interleaved=False, max_wavelength=10_000):
    """Pairs as complex numbers z, rotated: z · exp(i m θ_j), θ_j = max_wavelength^(-2j/d)."""
    x = np.asarray(x, np.float64)
    d = x.shape[-1]
    theta = max_wavelength ** (-2.0 * np.arange(d // 2) / d)
    rotation = np.exp(1j * np.asarray(positions, np.float64)[:, None] * theta)  # s (d/2)
    rotation = rotation[:, None, :]  # s h (d/2) for x laid out b s h d
    if interleaved:
        z = (x[..., 0::2] + 1j * x[..., 1::2]) * rotation
        return np.stack([z.real, z.imag], axis=-1).reshape(x.shape)
    z = (x[..., : d // 2] + 1j * x[..., d // 2:]) * rotation
    return np.concatenate([z.real, z.imag], axis=-1)


@pytest.mark.parametrize("interleaved", [False, True])
def test_rope_equals_its_closed_form(interleaved):
    x = normal(30, 2, 9, 3, 8)
    close(nets.rope(jnp.asarray(x), interleaved=interleaved),
          rope_closed_form(x, np.arange(9), interleaved))
    close(nets.rope(jnp.asarray(x), interleaved=interleaved, offset=5, scaling_factor=2.0,
                    max_wavelength=500),
          rope_closed_form(x, (np.arange(9) + 5) / 2.0, interleaved, 500))


_rope_at = jax.jit(lambda x, offset, interleaved: nets.rope(x, offset=offset,
                                                            interleaved=interleaved),
                   static_argnums=2)
Q, K = jnp.asarray(normal(31, 1, 1, 8)), jnp.asarray(normal(32, 1, 1, 8))


def _score(m, n, interleaved):
    return float(jnp.sum(_rope_at(Q, m, interleaved) * _rope_at(K, n, interleaved)))


@FAST
@given(st.integers(0, 200), st.integers(0, 200), st.booleans())
def test_rope_scores_depend_only_on_the_distance(m, n, interleaved):
    shifted = (m - n, 0) if m >= n else (0, n - m)
    assert _score(m, n, interleaved) == pytest.approx(_score(*shifted, interleaved), abs=2e-5)


def test_rope_scores_do_depend_on_the_distance():
    assert abs(_score(3, 0, False) - _score(0, 0, False)) > 1e-2


def test_rope_offset_is_a_slice_of_the_full_rotation():
    x = jnp.asarray(normal(33, 2, 10, 2, 6))
    full = nets.rope(x)
    close(nets.rope(x[:, 4:], offset=4), full[:, 4:])
    close(nets.rope(x[:, 4:], positions=jnp.arange(4, 10)), full[:, 4:])
    traced = jax.jit(lambda x, o: nets.rope(x, offset=o))(x[:, 4:7], jnp.asarray(4))
    close(traced, full[:, 4:7])
    # positions per batch row
    positions = jnp.asarray([[0, 1, 2, 3], [6, 7, 8, 9]])
    rows = nets.rope(x[:, :4], positions=positions)
    close(rows[0], full[0, :4])
    close(rows[1], nets.rope(x[1:, :4], offset=6)[0])


def test_rope_interleaved_is_half_split_up_to_a_permutation():
    x = jnp.asarray(normal(34, 2, 7, 3, 10))
    order = np.concatenate([np.arange(0, 10, 2), np.arange(1, 10, 2)])  # evens, then odds
    close(nets.rope(x[..., order]), nets.rope(x, interleaved=True)[..., order])
    assert np.abs(np.asarray(nets.rope(x) - nets.rope(x, interleaved=True))).max() > 1e-2


def test_rope_angles_are_float32_for_bfloat16_inputs():
    x = jnp.asarray(normal(35, 1, 600, 8)).astype(jnp.bfloat16)
    y = nets.rope(x)
    assert y.dtype == jnp.bfloat16
    # the same float32 computation, rounded once at the end
    np.testing.assert_array_equal(np.asarray(y, np.float32),
                                  np.asarray(nets.rope(x.astype(jnp.float32)).astype(
                                      jnp.bfloat16), np.float32))
    # bfloat16 angles would be far off at position 599
    close(np.asarray(y, np.float32), rope_closed_form(np.asarray(x, np.float32)[..., None, :],
                                                      np.arange(600))[..., 0, :], 2e-2)
    assert nets.rope(jnp.ones((1, 4, 6), jnp.float16)).dtype == jnp.float16


def test_rope_on_any_axes():
    x = jnp.asarray(normal(36, 2, 3, 8, 5))  # b h d s
    moved = jnp.transpose(x, (0, 3, 1, 2))  # b s h d
    expected = jnp.transpose(nets.rope(moved), (0, 2, 3, 1))
    close(nets.rope(x, sequence_axis=3, feature_axis=2), expected)
    close(nets.rope(x, sequence_axis=-1, feature_axis=-2), expected)
    y = jnp.asarray(normal(37, 5, 4))  # s d, no batch
    close(nets.rope(y, sequence_axis=0), nets.rope(y[None])[0])


def test_rope_errors():
    with pytest.raises(nets.NetsError, match="even"):
        nets.rope(jnp.ones((1, 4, 5)))
    with pytest.raises(nets.NetsError, match="differ"):
        nets.rope(jnp.ones((1, 4, 6)), sequence_axis=2)
    with pytest.raises(nets.NetsError, match="rank"):
        nets.rope(jnp.ones((1, 4, 6)), sequence_axis=3)
    with pytest.raises(nets.NetsError, match="positions"):
        nets.rope(jnp.ones((1, 4, 6)), positions=jnp.arange(5))


# ---------------------------------------------------------------- feed-forward layers


def _gelu_erf(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _silu(x):
    return x / (1 + np.exp(-x))


def test_feed_forward_gate_is_geglu_with_exact_gelu_and_swiglu_with_silu():
    x = normal(40, 2, 3, 6, scale=3.0)
    params = params_of(nets.feed_forward_gate, jnp.asarray(x), 16)
    assert sorted(params) == ["gate", "linear", "out"]
    w = {name: np.asarray(a, np.float64) for name, a in params.items()}

    def glu(act):
        return (act(x @ w["gate"]) * (x @ w["linear"])) @ w["out"]

    out = nets.feed_forward_gate(params, jnp.asarray(x), 16)
    close(out, glu(_gelu_erf), 2e-5)
    # the tanh approximation is measurably different
    assert np.abs(np.asarray(out, np.float64) - glu(_gelu_tanh)).max() > 1e-3
    close(nets.feed_forward_gate(params, jnp.asarray(x), 16, "silu"), glu(_silu), 2e-5)


def test_feed_forward_and_activations():
    x = normal(41, 2, 6, scale=3.0)
    params = params_of(nets.feed_forward, jnp.asarray(x), 16)
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    expected = _gelu_erf(x @ p["up"]["w"] + p["up"]["b"]) @ p["down"]["w"] + p["down"]["b"]
    close(nets.feed_forward(params, jnp.asarray(x), 16), expected, 2e-5)
    t = torch.from_numpy(x)
    close(nets.gelu(jnp.asarray(x)), F.gelu(t).numpy())
    close(nets.gelu_tanh(jnp.asarray(x)), F.gelu(t, approximate="tanh").numpy())
    assert nets.activation_function("silu") is nets.ACTIVATIONS["silu"]
    assert nets.activation_function(jnp.sin) is jnp.sin
    with pytest.raises(nets.NetsError, match="unknown activation 'gleu'"):
        nets.activation_function("gleu")


# ---------------------------------------------------------------- norms


@pytest.mark.parametrize("axes, shape, normalized", [
    ("... [c]", (2, 3, 6), 1),
    ("b... [c]", (2, 3, 2, 6), 1),
    ("b [s c]", (2, 3, 6), 2),
    ("[b s c]", (2, 3, 6), 3),
])
def test_layer_norm_equals_torch(axes, shape, normalized):
    x = normal(50, *shape, scale=2.0) + 1.0
    params = params_of(nets.layer_norm, jnp.asarray(x), axes, seed=1)
    assert params["scale"].shape == shape[-normalized:]
    t = torch.nn.functional.layer_norm(
        torch.from_numpy(x), shape[-normalized:], torch.from_numpy(np.array(params["scale"])),
        torch.from_numpy(np.array(params["bias"])), eps=1e-5)
    close(nets.layer_norm(params, jnp.asarray(x), axes), t.numpy())
    without = nets.layer_norm({}, jnp.asarray(x), axes, scale=False, bias=False)
    close(without, F.layer_norm(torch.from_numpy(x), shape[-normalized:], eps=1e-5).numpy())


def test_layer_norm_over_a_middle_axis():
    x = normal(51, 2, 5, 3)
    params = params_of(nets.layer_norm, jnp.asarray(x), "b [s] c")
    assert params["scale"].shape == (5,)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    expected = ((x - mean) / np.sqrt(var + 1e-5) * np.asarray(params["scale"])[:, None]
                + np.asarray(params["bias"])[:, None])
    close(nets.layer_norm(params, jnp.asarray(x), "b [s] c"), expected)


@pytest.mark.parametrize("axes, shape, normalized", [
    ("... [c]", (2, 3, 6), 1),
    ("b... [c]", (2, 3, 2, 6), 1),
    ("b [s c]", (2, 3, 6), 2),
])
def test_rms_norm_equals_hand_written(axes, shape, normalized):
    x = normal(52, *shape, scale=2.0) + 1.0
    params = params_of(nets.rms_norm, jnp.asarray(x), axes, seed=2)
    reduce = tuple(range(len(shape) - normalized, len(shape)))
    scale = np.asarray(params["scale"], np.float64)
    x64 = x.astype(np.float64)
    expected = x64 / np.sqrt((x64 ** 2).mean(axis=reduce, keepdims=True) + 1e-6) * scale
    close(nets.rms_norm(params, jnp.asarray(x), axes), expected)
    t = F.rms_norm(torch.from_numpy(x), shape[-normalized:], torch.from_numpy(
        np.array(params["scale"])), eps=1e-6)
    close(nets.rms_norm(params, jnp.asarray(x), axes), t.numpy())


# ---------------------------------------------------------------- convolutions and pooling


def _torch_conv(x, w, b, kernel, stride, padding, dilation, groups):
    rank = x.ndim - 2
    tx = torch.from_numpy(np.moveaxis(x, -1, 1).copy())  # b c s...
    tw = torch.from_numpy(np.moveaxis(w, (-1, -2), (0, 1)).copy())  # o i k...
    pads = []
    for axis in reversed(range(rank)):  # F.pad lists the last axis first
        effective = (kernel[axis] - 1) * dilation[axis] + 1
        length = x.shape[1 + axis]
        if padding == "VALID":
            pads += [0, 0]
        elif padding == "CAUSAL":
            pads += [effective - 1, 0]
        else:
            out = -(-length // stride[axis])
            total = max((out - 1) * stride[axis] + effective - length, 0)
            pads += [total // 2, total - total // 2]
    tx = F.pad(tx, pads)
    conv = F.conv1d if rank == 1 else F.conv2d
    y = conv(tx, tw, None if b is None else torch.from_numpy(np.array(b)), stride=stride,
             dilation=dilation, groups=groups)
    return np.moveaxis(y.numpy(), 1, -1)


CONVS = [  # shape, out, kernel, stride, padding, dilation, groups, bias
    ((2, 9, 3), 4, 3, 1, "SAME", 1, 1, True),
    ((2, 9, 3), 4, 4, 1, "SAME", 1, 1, True),
    ((2, 9, 3), 4, 3, 2, "VALID", 1, 1, True),
    ((2, 9, 3), 4, 3, 1, "CAUSAL", 2, 1, True),
    ((2, 10, 4), 6, 5, 2, "CAUSAL", 1, 2, False),
    ((2, 11, 4), 6, 3, 2, "SAME", 2, 2, True),
    ((2, 6, 5, 3), 4, 3, 1, "SAME", 1, 1, True),
    ((2, 7, 5, 4), 4, (3, 2), (2, 1), "VALID", 1, 2, True),
    ((2, 8, 7, 2), 3, (2, 3), 2, "SAME", (1, 2), 1, False),
]


@pytest.mark.parametrize("shape, out, kernel, stride, padding, dilation, groups, bias", CONVS)
def test_conv_equals_torch(shape, out, kernel, stride, padding, dilation, groups, bias):
    rank = len(shape) - 2
    block = nets.conv_1d if rank == 1 else nets.conv_2d
    x = normal(60, *shape)
    hyper = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    params = params_of(block, jnp.asarray(x), out, kernel, **hyper)
    as_tuple = lambda v: (v,) * rank if isinstance(v, int) else v
    expected = _torch_conv(x, np.asarray(params["w"]), params.get("b") if bias else None,
                           as_tuple(kernel), as_tuple(stride), padding, as_tuple(dilation),
                           groups)
    close(block(params, jnp.asarray(x), out, kernel, **hyper), expected)


def test_causal_conv_sees_no_future():
    x = normal(61, 1, 10, 3)
    params = params_of(nets.conv_1d, jnp.asarray(x), 4, 3, padding="CAUSAL", dilation=2)
    y = nets.conv_1d(params, jnp.asarray(x), 4, 3, padding="CAUSAL", dilation=2)
    x[:, 6:] = 100.0
    changed = nets.conv_1d(params, jnp.asarray(x), 4, 3, padding="CAUSAL", dilation=2)
    close(changed[:, :6], y[:, :6])
    assert np.abs(np.asarray(changed[:, 6] - y[:, 6])).max() > 1


def test_conv_errors():
    x = jnp.zeros((2, 6, 5, 4))
    with pytest.raises(nets.NetsError, match="CAUSAL"):
        nets.conv_2d({}, x, 4, 3, padding="CAUSAL")
    with pytest.raises(nets.NetsError, match="padding"):
        nets.conv_1d({}, x[:, 0], 4, 3, padding="FULL")
    with pytest.raises(nets.NetsError, match="groups=3"):
        nets.conv_1d({}, x[:, 0], 6, 3, groups=3)
    with pytest.raises(nets.NetsError, match="rank 3"):
        nets.conv_1d({}, x, 4, 3)
    with pytest.raises(nets.NetsError, match="kernel"):
        nets.conv_2d({}, x, 4, (3, 3, 3))


POOLS = [  # shape, window, stride, padding, torch padding
    ((2, 8, 3), 2, None, "VALID", 0),
    ((2, 9, 3), 3, 2, "VALID", 0),
    ((2, 7, 3), 3, 1, "SAME", 1),
    ((2, 6, 7, 3), (2, 3), (1, 2), "VALID", 0),
    ((2, 5, 7, 3), 3, 1, "SAME", 1),
]


@pytest.mark.parametrize("shape, window, stride, padding, torch_padding", POOLS)
def test_pooling_equals_torch(shape, window, stride, padding, torch_padding):
    x = normal(62, *shape)
    rank = len(shape) - 2
    tx = torch.from_numpy(np.moveaxis(x, -1, 1).copy())
    kernel = window
    step = window if stride is None else stride
    t_max = (F.max_pool1d if rank == 1 else F.max_pool2d)(tx, kernel, step, torch_padding)
    t_avg = (F.avg_pool1d if rank == 1 else F.avg_pool2d)(tx, kernel, step, torch_padding,
                                                          count_include_pad=False)
    close(nets.max_pool(jnp.asarray(x), window, stride, padding), np.moveaxis(t_max.numpy(), 1, -1))
    close(nets.avg_pool(jnp.asarray(x), window, stride, padding), np.moveaxis(t_avg.numpy(), 1, -1))


def test_pooling_never_pools_channels():
    x = normal(63, 2, 8, 5)
    for pool in (nets.max_pool, nets.avg_pool):
        y = pool(jnp.asarray(x), 2)
        assert y.shape == (2, 4, 5)
        for channel in range(5):
            close(y[..., channel], pool(jnp.asarray(x[..., channel:channel + 1]), 2)[..., 0])
        with pytest.raises(nets.NetsError, match="window"):
            pool(jnp.asarray(x), (2, 2))  # one window per spatial axis: no channel window
        with pytest.raises(nets.NetsError, match=r"s\.\.\. c"):
            pool(jnp.asarray(x[:, 0]), 2)


# ---------------------------------------------------------------- divide and merge


def test_divide_and_merge_shapes_of_the_issue():
    x = np.ones((2, 4, 6, 8))
    assert nets.divide(x, input_axis=2, output_axis=-1, factor=3).shape == (2, 4, 2, 24)
    assert nets.merge(x, left_axis=1, right_axis=-1, left=False).shape == (2, 6, 32)
    assert nets.merge(x, left_axis=1, right_axis=-1).shape == (2, 32, 6)


def _mlable_shape(shape, input_axis, output_axis, factor, insert):
    """mlable's `divide` shape rule: both axes index the new shape."""
    shape = list(shape)
    rank = len(shape) + int(insert)
    source, target = input_axis % rank, output_axis % rank
    if insert:
        shape.insert(target, 1)
    shape[source] //= factor
    shape[target] *= factor
    return tuple(shape)


@st.composite
def adjacent_divisions(draw):
    rank = draw(st.integers(2, 4))
    insert = draw(st.booleans())
    result_rank = rank + int(insert)
    source = draw(st.integers(0, result_rank - 1))
    target = draw(st.sampled_from([a for a in (source - 1, source + 1)
                                   if 0 <= a < result_rank]))
    factor = draw(st.integers(1, 3))
    shape = [draw(st.integers(1, 3)) for _ in range(rank)]
    # the source's axis in the input: positions after an inserted target shift by one
    shape[source - 1 if insert and target < source else source] *= factor
    negative = draw(st.booleans())
    return tuple(shape), (source - result_rank if negative else source), target, factor, insert


@FAST
@given(adjacent_divisions())
def test_divide_of_adjacent_axes_is_a_plain_reshape(case):
    shape, source, target, factor, insert = case
    x = np.arange(np.prod(shape)).reshape(shape)
    y = nets.divide(x, source, target, factor, insert=insert)
    np.testing.assert_array_equal(y, x.reshape(_mlable_shape(shape, source, target, factor,
                                                             insert)))


@FAST
@given(st.integers(2, 4).flatmap(lambda rank: st.tuples(
    st.just(rank), st.permutations(range(rank)), st.integers(1, 3))))
def test_divide_round_trip(case):
    rank, axes, factor = case
    source, target = axes[0], axes[1]
    shape = [2] * rank
    shape[source] *= factor
    x = np.arange(np.prod(shape)).reshape(shape)
    y = nets.divide(x, source, target, factor)
    assert y.shape[source] * factor == x.shape[source]
    np.testing.assert_array_equal(nets.divide(y, target, source, factor), x)


def test_divide_of_distant_axes_equals_the_documented_rearrange():
    x = np.arange(2 * 6 * 5 * 4).reshape(2, 6, 5, 4)
    rearrange = einops.rearrange
    # input before output: ... (a f) ... c ... -> ... a ... (f c) ...
    np.testing.assert_array_equal(nets.divide(x, 1, 3, 3),
                                  rearrange(x, "a (b f) c d -> a b c (f d)", f=3))
    # input after output: ... c ... (f a) ... -> ... (c f) ... a ...
    np.testing.assert_array_equal(nets.divide(x, 3, 0, 2),
                                  rearrange(x, "a b c (f d) -> (a f) b c d", f=2))
    np.testing.assert_array_equal(nets.divide(x, -3, -1, 2),
                                  rearrange(x, "a (b f) c d -> a b c (f d)", f=2))
    # insert=True: the output axis is new, both axes count in the result
    np.testing.assert_array_equal(nets.divide(x, 2, 0, 2, insert=True),
                                  rearrange(x, "a (f b) c d -> f a b c d", f=2))
    np.testing.assert_array_equal(nets.divide(x, 1, 4, 3, insert=True),
                                  rearrange(x, "a (b f) c d -> a b c d f", f=3))
    # mlable's plain reshape would scramble these values
    assert not np.array_equal(nets.divide(x, 1, 3, 3), x.reshape(2, 2, 5, 12))


def test_merge_equals_reshape_when_adjacent_and_rearrange_otherwise():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    for left in (True, False):
        np.testing.assert_array_equal(nets.merge(x, 1, 2, left=left), x.reshape(2, 12, 5))
        np.testing.assert_array_equal(nets.merge(x, -2, -1, left=left), x.reshape(2, 3, 20))
    rearrange = einops.rearrange
    np.testing.assert_array_equal(nets.merge(x, 0, 2), rearrange(x, "a b c d -> (a c) b d"))
    np.testing.assert_array_equal(nets.merge(x, 0, 2, left=False),
                                  rearrange(x, "a b c d -> b (a c) d"))
    np.testing.assert_array_equal(nets.merge(x, 3, 1), rearrange(x, "a b c d -> a c (d b)"))
    np.testing.assert_array_equal(nets.merge(x, 1, -1, left=False),
                                  rearrange(x, "a b c d -> a c (b d)"))
    # jax arrays and jit
    y = jax.jit(lambda x: nets.merge(x, 0, 2))(jnp.asarray(x))
    np.testing.assert_array_equal(y, rearrange(x, "a b c d -> (a c) b d"))


def test_divide_and_merge_errors():
    x = np.ones((2, 4, 6, 8))
    with pytest.raises(nets.NetsError, match="size 6, which 4 does not divide"):
        nets.divide(x, 2, 3, 4)
    for axis in (4, -5):
        with pytest.raises(nets.NetsError, match="outside the rank 4"):
            nets.divide(x, axis, 0, 2)
        with pytest.raises(nets.NetsError, match="outside the rank 4"):
            nets.merge(x, 0, axis)
    with pytest.raises(nets.NetsError, match="outside the rank 5"):
        nets.divide(x, 0, 5, 2, insert=True)
    with pytest.raises(nets.NetsError, match="differ"):
        nets.divide(x, 1, 1, 2)
    with pytest.raises(nets.NetsError, match="differ"):
        nets.merge(x, 1, -3)
    with pytest.raises(nets.NetsError, match="factor"):
        nets.divide(x, 1, 2, 0)


# ---------------------------------------------------------------- dropout


def test_dropout():
    x = jnp.ones((20_000,))
    np.testing.assert_array_equal(nets.dropout(None, x, 0.3, training=False), x)
    np.testing.assert_array_equal(nets.dropout(jax.random.key(0), x, 0.0, training=True), x)
    y = np.asarray(nets.dropout(jax.random.key(0), x, 0.3, training=True))
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((y == 0).mean() - 0.3) < 0.02
    assert abs(y.mean() - 1.0) < 0.03  # the expectation is kept
    other = np.asarray(nets.dropout(jax.random.key(1), x, 0.3, training=True))
    assert (other != y).any()
    half = nets.dropout(jax.random.key(0), x.astype(jnp.bfloat16), 0.5, training=True)
    assert half.dtype == jnp.bfloat16
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(nets.NetsError, match=r"\[0, 1\)"):
            nets.dropout(jax.random.key(0), x, rate, training=True)
    with pytest.raises(nets.NetsError, match="random key"):
        nets.dropout(None, x, 0.3, training=True)
    x = jax.ShapeDtypeStruct((1, 3, 8), jnp.float32)
    shapes = lv.trace_shapes(lambda p, x: nets.transformer_block(p, x, heads=2), 0, x)
    with pytest.raises(nets.NetsError, match="random key"):
        jax.eval_shape(lambda p, x: nets.transformer_block(p, x, heads=2, dropout=0.1,
                                                           training=True), shapes, x)
