"""A registry of every block of `levante.nets` drives one test matrix.

Each entry is one block call with an example input: `apply(params, *inputs)` (or
`apply(*inputs)` for blocks without parameters) and the shapes of its output. The matrix
runs every entry eagerly and under `jax.jit`, takes `jax.grad` with respect to the
parameters and the floating-point inputs, and runs bfloat16 inputs (with float32 and with
bfloat16 parameters): the output follows the input's dtype and stays close to the float32
result. A public function of `nets.__all__` that is neither a registered block nor one of
the few helpers below fails `test_every_public_block_is_registered`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import levante as lv
from levante import nets

# public functions of nets that are not blocks (each is tested where it is used)
HELPERS = {"activation_function", "gelu", "gelu_tanh", "init_cache", "masked_softmax",
           "zero_state"}

DROPOUT_KEY = jax.random.key(7)


def normal(seed, *shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def ids(seed, high, *shape):
    return jnp.asarray(np.random.default_rng(seed).integers(0, high, shape), jnp.int32)


@dataclasses.dataclass(frozen=True)
class Block:
    covers: str  # the public name the entry exercises
    apply: Callable  # (params, *inputs), or (*inputs) when params=False
    inputs: Callable  # () -> tuple of pytrees of arrays
    shape: Any  # the output's shapes: a pytree of tuples
    params: bool = True
    tolerance: float = 5e-2  # bfloat16 against float32, relative and absolute


def _cache(length=8, heads=2, head_dim=4, index=3):
    """A cache holding `index` positions already."""
    cache = nets.init_cache(2, length, heads, head_dim)
    keys, values = normal(40, 2 * heads, length, head_dim), normal(41, 2 * heads, length, head_dim)
    written = (jnp.arange(length) < index)[None, :, None]
    return dict(cache, keys=jnp.where(written, keys, cache["keys"]),
                values=jnp.where(written, values, cache["values"]),
                index=cache["index"] + index)


CACHE_SHAPE = {"keys": (4, 8, 4), "values": (4, 8, 4), "index": ()}

REGISTRY = {
    "linear": Block("linear", lambda p, x: nets.linear(p, x, 4),
                    lambda: (normal(0, 2, 3, 5),), (2, 3, 4)),
    "linear_no_bias_rank_2": Block("linear", lambda p, x: nets.linear(p, x, 4, bias=False),
                                   lambda: (normal(1, 3, 5),), (3, 4)),
    "branch_linear": Block("branch_linear", lambda p, x: nets.branch_linear(p, x, 3),
                           lambda: (normal(2, 2, 5),), (2, 3, 5)),
    "branch_linear_out": Block("branch_linear", lambda p, x: nets.branch_linear(p, x, 3, 4),
                               lambda: (normal(3, 2, 6, 5),), (2, 6, 3, 4)),
    "mlp": Block("mlp", lambda p, x: nets.mlp(p, x, [8, 8, 3], final_activation="tanh"),
                 lambda: (normal(4, 2, 5),), (2, 3)),
    "embedding": Block("embedding", lambda p, i: nets.embedding(p, i, 11, 6),
                       lambda: (ids(5, 11, 2, 4),), (2, 4, 6)),
    "embedding_readout": Block("embedding_readout",
                               lambda p, x: nets.embedding_readout(p, x, 11),
                               lambda: (normal(6, 2, 4, 6),), (2, 4, 11)),
    "layer_norm": Block("layer_norm", lambda p, x: nets.layer_norm(p, x),
                        lambda: (normal(7, 2, 3, 6),), (2, 3, 6)),
    "layer_norm_b...[c]": Block("layer_norm", lambda p, x: nets.layer_norm(p, x, "b... [c]"),
                                lambda: (normal(8, 2, 3, 2, 6),), (2, 3, 2, 6)),
    "layer_norm_b[s c]": Block("layer_norm", lambda p, x: nets.layer_norm(p, x, "b [s c]"),
                               lambda: (normal(9, 2, 3, 6),), (2, 3, 6)),
    "layer_norm_b[s]c": Block("layer_norm", lambda p, x: nets.layer_norm(p, x, "b [s] c"),
                              lambda: (normal(10, 2, 5, 3),), (2, 5, 3)),
    "rms_norm": Block("rms_norm", lambda p, x: nets.rms_norm(p, x),
                      lambda: (normal(11, 2, 3, 6),), (2, 3, 6)),
    "rms_norm_b...[c]": Block("rms_norm", lambda p, x: nets.rms_norm(p, x, "b... [c]"),
                              lambda: (normal(12, 2, 3, 2, 6),), (2, 3, 2, 6)),
    "rms_norm_b[s c]": Block("rms_norm", lambda p, x: nets.rms_norm(p, x, "b [s c]"),
                             lambda: (normal(13, 2, 3, 6),), (2, 3, 6)),
    "dropout_training": Block("dropout", lambda x: nets.dropout(DROPOUT_KEY, x, 0.25, True),
                              lambda: (normal(14, 4, 8),), (4, 8), params=False),
    "dropout_eval": Block("dropout", lambda x: nets.dropout(None, x, 0.25, False),
                          lambda: (normal(15, 4, 8),), (4, 8), params=False),
    "conv_1d_same": Block("conv_1d", lambda p, x: nets.conv_1d(p, x, 4, 3),
                          lambda: (normal(16, 2, 9, 3),), (2, 9, 4)),
    "conv_1d_valid": Block("conv_1d", lambda p, x: nets.conv_1d(p, x, 4, 3, padding="VALID"),
                           lambda: (normal(17, 2, 9, 3),), (2, 7, 4)),
    "conv_1d_causal_dilated": Block(
        "conv_1d", lambda p, x: nets.conv_1d(p, x, 4, 3, padding="CAUSAL", dilation=2),
        lambda: (normal(18, 2, 9, 3),), (2, 9, 4)),
    "conv_1d_stride": Block("conv_1d", lambda p, x: nets.conv_1d(p, x, 4, 3, stride=2),
                            lambda: (normal(19, 2, 9, 3),), (2, 5, 4)),
    "conv_1d_groups": Block("conv_1d",
                            lambda p, x: nets.conv_1d(p, x, 6, 3, groups=2, bias=False),
                            lambda: (normal(20, 2, 9, 4),), (2, 9, 6)),
    "conv_2d_same": Block("conv_2d", lambda p, x: nets.conv_2d(p, x, 4, 3),
                          lambda: (normal(21, 2, 6, 5, 3),), (2, 6, 5, 4)),
    "conv_2d_valid_stride_groups": Block(
        "conv_2d", lambda p, x: nets.conv_2d(p, x, 4, (3, 2), stride=(2, 1), padding="VALID",
                                             groups=2),
        lambda: (normal(22, 2, 7, 5, 4),), (2, 3, 4, 4)),
    "max_pool_1d": Block("max_pool", lambda x: nets.max_pool(x, 2),
                         lambda: (normal(23, 2, 8, 3),), (2, 4, 3), params=False),
    "max_pool_2d_same": Block("max_pool", lambda x: nets.max_pool(x, 2, 1, "SAME"),
                              lambda: (normal(24, 2, 5, 4, 3),), (2, 5, 4, 3), params=False),
    "avg_pool_1d": Block("avg_pool", lambda x: nets.avg_pool(x, 3, 2),
                         lambda: (normal(25, 2, 9, 3),), (2, 4, 3), params=False),
    "avg_pool_2d_same": Block("avg_pool", lambda x: nets.avg_pool(x, (2, 3), padding="SAME"),
                              lambda: (normal(26, 2, 5, 7, 3),), (2, 3, 3, 3), params=False),
    "lstm": Block("lstm", lambda p, x: nets.lstm(p, x, 4),
                  lambda: (normal(27, 2, 5, 3),), ((2, 5, 4), ((2, 4), (2, 4)))),
    "lstm_state_in": Block("lstm", lambda p, x, state: nets.lstm(p, x, 4, state),
                           lambda: (normal(28, 2, 5, 3), (normal(29, 2, 4), normal(30, 2, 4))),
                           ((2, 5, 4), ((2, 4), (2, 4)))),
    "lstm_cell": Block("lstm_cell", lambda p, x, state: nets.lstm_cell(p, x, state, 4),
                       lambda: (normal(31, 2, 3), (normal(32, 2, 4), normal(33, 2, 4))),
                       ((2, 4), ((2, 4), (2, 4)))),
    "rope": Block("rope", lambda x: nets.rope(x), lambda: (normal(34, 2, 5, 2, 6),),
                  (2, 5, 2, 6), params=False),
    "rope_axes_interleaved_offset": Block(
        "rope", lambda x: nets.rope(x, sequence_axis=-1, feature_axis=1, offset=3,
                                    interleaved=True, scaling_factor=2.0),
        lambda: (normal(35, 2, 8, 5),), (2, 8, 5), params=False),
    "attention": Block("attention", lambda p, x: nets.attention(p, x, heads=2),
                       lambda: (normal(36, 2, 5, 8),), (2, 5, 8)),
    "attention_cross_masked": Block(
        "attention", lambda p, q, k, m: nets.attention(p, q, k, heads=2, mask=m, causal=False),
        lambda: (normal(37, 2, 3, 8), normal(38, 2, 6, 8),
                 jnp.asarray(np.random.default_rng(39).random((2, 1, 3, 6)) < 0.7)),
        (2, 3, 8)),
    "attention_cache_rope": Block(
        "attention", lambda p, x, cache: nets.attention(p, x, heads=2, cache=cache, rope=True),
        lambda: (normal(42, 2, 2, 8), _cache()), ((2, 2, 8), CACHE_SHAPE)),
    "multi_head_self_attention": Block(
        "multi_head_self_attention",
        lambda p, x: nets.multi_head_self_attention(p, x, heads=2, rope=True, bias=False),
        lambda: (normal(43, 2, 5, 8),), (2, 5, 8)),
    "dot_product_attention": Block(
        "dot_product_attention", lambda q, k, v, m: nets.dot_product_attention(q, k, v, m),
        lambda: (normal(44, 2, 3, 2, 4), normal(45, 2, 5, 2, 4), normal(46, 2, 5, 2, 4),
                 jnp.asarray(np.random.default_rng(47).random((2, 2, 3, 5)) < 0.6)),
        (2, 3, 2, 4), params=False),
    "feed_forward": Block("feed_forward", lambda p, x: nets.feed_forward(p, x, 12),
                          lambda: (normal(48, 2, 3, 6),), (2, 3, 6)),
    "feed_forward_gate": Block("feed_forward_gate",
                               lambda p, x: nets.feed_forward_gate(p, x, 12),
                               lambda: (normal(49, 2, 3, 6),), (2, 3, 6)),
    "feed_forward_gate_silu": Block("feed_forward_gate",
                                    lambda p, x: nets.feed_forward_gate(p, x, 12, "silu"),
                                    lambda: (normal(50, 2, 6),), (2, 6)),
    "transformer_block": Block("transformer_block",
                               lambda p, x: nets.transformer_block(p, x, heads=2),
                               lambda: (normal(51, 2, 5, 8),), (2, 5, 8), tolerance=0.1),
    "transformer_block_gated_rms_rope": Block(
        "transformer_block",
        lambda p, x: nets.transformer_block(p, x, heads=2, hidden=12, gated=True, norm="rms",
                                            activation="silu", rope=True, bias=False),
        lambda: (normal(52, 2, 5, 8),), (2, 5, 8), tolerance=0.1),
    "transformer_block_dropout": Block(
        "transformer_block",
        lambda p, x: nets.transformer_block(p, x, heads=2, dropout=0.1, key=DROPOUT_KEY,
                                            training=True),
        lambda: (normal(53, 2, 5, 8),), (2, 5, 8), tolerance=0.1),
    "divide": Block("divide", lambda x: nets.divide(x, input_axis=2, output_axis=-1, factor=3),
                    lambda: (normal(54, 2, 4, 6, 2),), (2, 4, 2, 6), params=False),
    "divide_insert": Block("divide", lambda x: nets.divide(x, 0, 2, 2, insert=True),
                           lambda: (normal(55, 4, 3),), (2, 3, 2), params=False),
    "merge": Block("merge", lambda x: nets.merge(x, left_axis=1, right_axis=-1, left=False),
                   lambda: (normal(56, 2, 4, 3, 2),), (2, 3, 8), params=False),
}

NAMES = sorted(REGISTRY)


# ---------------------------------------------------------------- helpers


def _is_float(leaf):
    return jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.floating)


def _cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if _is_float(a) else a, tree)


@functools.cache
def _inputs(name):
    return REGISTRY[name].inputs()


def fill(shapes, seed=0):
    """Parameters for these shapes, drawn with NumPy: `lv.trace` compiles every initializer
    eagerly, which would dominate this matrix (tracing itself is tested elsewhere)."""
    rng = np.random.default_rng(seed)

    def leaf(shape):
        if len(shape.shape) < 2:  # biases and scales: around one, all different
            return jnp.asarray(1 + 0.2 * rng.standard_normal(shape.shape), shape.dtype)
        fan_in = np.prod(shape.shape[:-1])
        return jnp.asarray(rng.standard_normal(shape.shape) / np.sqrt(fan_in), shape.dtype)

    return jax.tree.map(leaf, shapes)


@functools.cache
def _params(name):
    block = REGISTRY[name]
    if not block.params:
        return None
    return fill(lv.trace_shapes(block.apply, 0, *_inputs(name)))


def _call(name, function, params, inputs):
    return function(*inputs) if params is None else function(params, *inputs)


@functools.cache
def _jitted(name):
    return jax.jit(functools.partial(_call, name, REGISTRY[name].apply))


def _run(name, params=None, inputs=None, jit=True):
    params = _params(name) if params is None else params
    inputs = _inputs(name) if inputs is None else inputs
    if jit:
        return _jitted(name)(params, inputs)
    return _call(name, REGISTRY[name].apply, params, inputs)


def _split(inputs):
    """(the floating-point leaves, a function putting new ones back)."""
    leaves, treedef = jax.tree.flatten(inputs)
    where = [i for i, leaf in enumerate(leaves) if _is_float(leaf)]

    def rebuild(floats):
        full = list(leaves)
        for i, leaf in zip(where, floats):
            full[i] = leaf
        return jax.tree.unflatten(treedef, full)

    return [leaves[i] for i in where], rebuild


def _loss(out):
    # a nonlinear loss: sums of normalized outputs would have zero gradient
    return sum(jnp.sum(jnp.sin(1.3 * leaf.astype(jnp.float32) + 0.1))
               for leaf in jax.tree.leaves(out) if _is_float(leaf))


@functools.cache
def _gradient(name):
    block = REGISTRY[name]
    floats, rebuild = _split(_inputs(name))

    def loss(params, floats):
        return _loss(_call(name, block.apply, params, rebuild(floats)))

    return jax.jit(jax.grad(loss, argnums=(0, 1))), floats


def _shapes(tree):
    return jax.tree.map(lambda a: tuple(a.shape), tree)


def _float_leaves(tree):
    return [np.asarray(leaf, np.float32) for leaf in jax.tree.leaves(tree) if _is_float(leaf)]


# ---------------------------------------------------------------- the surface


def test_every_public_block_is_registered():
    functions = {name for name in nets.__all__ if inspect.isfunction(getattr(nets, name))}
    covered = {block.covers for block in REGISTRY.values()}
    assert covered <= functions, f"registry entries for non-public names: {covered - functions}"
    assert functions >= HELPERS, f"helpers that are not public functions: {HELPERS - functions}"
    missing = functions - covered - HELPERS
    assert not missing, f"public blocks without a registry entry: {sorted(missing)}"
    assert not covered & HELPERS


def test_registry_entries_call_their_block():
    for name, block in REGISTRY.items():
        source = inspect.getsource(block.apply)
        assert f"nets.{block.covers}(" in source, name


# ---------------------------------------------------------------- the matrix


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_jit_equal_eager(name):
    eager = _run(name, jit=False)
    assert _shapes(eager) == REGISTRY[name].shape
    for leaf in _float_leaves(eager):
        assert np.isfinite(leaf).all()
    compiled = _run(name)
    assert jax.tree.structure(compiled) == jax.tree.structure(eager)
    for a, b in zip(jax.tree.leaves(compiled), jax.tree.leaves(eager)):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_grad_is_finite_and_not_zero(name):
    gradient, floats = _gradient(name)
    params = _params(name)
    d_params, d_inputs = gradient(params, floats)
    if params is not None:
        assert jax.tree.structure(d_params) == jax.tree.structure(params)
        leaves = [np.asarray(g) for g in jax.tree.leaves(d_params)]
        assert all(np.isfinite(g).all() for g in leaves)
        assert max(np.abs(g).max() for g in leaves) > 0, "no gradient reaches the parameters"
    leaves = [np.asarray(g) for g in d_inputs]
    assert all(np.isfinite(g).all() for g in leaves)
    if leaves:
        assert max(np.abs(g).max() for g in leaves) > 0, "no gradient reaches the inputs"


def _has_float_inputs(name):
    return bool(_split(REGISTRY[name].inputs())[0])


FLOAT_INPUT_NAMES = [name for name in NAMES if _has_float_inputs(name)]
# bfloat16 parameters too (a model cast for mixed precision): one entry of each kind
MIXED_NAMES = ["attention_cache_rope", "branch_linear_out", "conv_2d_same", "embedding",
               "embedding_readout", "feed_forward_gate", "linear", "lstm_cell", "lstm_state_in",
               "mlp", "rms_norm_b[s c]", "transformer_block_gated_rms_rope"]


def _check_bfloat16(name, out, reference):
    assert jax.tree.structure(out) == jax.tree.structure(reference)
    tolerance = REGISTRY[name].tolerance
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(reference)):
        if not _is_float(b):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
            continue
        assert a.dtype == jnp.bfloat16, f"the output is {a.dtype} for bfloat16 inputs"
        a = np.asarray(a, np.float32)
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, np.asarray(b), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", FLOAT_INPUT_NAMES)
def test_bfloat16_inputs_float32_params(name):
    inputs = _cast(_inputs(name), jnp.bfloat16)
    # the reference sees the same (rounded) inputs in float32
    reference = _run(name, inputs=_cast(inputs, jnp.float32))
    _check_bfloat16(name, _run(name, inputs=inputs), reference)


@pytest.mark.parametrize("name", MIXED_NAMES)
def test_bfloat16_params_and_inputs(name):
    inputs, params = _cast(_inputs(name), jnp.bfloat16), _cast(_params(name), jnp.bfloat16)
    reference = _run(name, params=_cast(params, jnp.float32),
                     inputs=_cast(inputs, jnp.float32))
    _check_bfloat16(name, _run(name, params=params, inputs=inputs), reference)


def test_bfloat16_eager_equals_jit():
    for name in ("lstm_state_in", "rope"):
        inputs = _cast(_inputs(name), jnp.bfloat16)
        eager, compiled = _run(name, inputs=inputs, jit=False), _run(name, inputs=inputs)
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(compiled)):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b, np.float32),
                                       rtol=2e-2, atol=2e-2)


# ---------------------------------------------------------------- shared parameters


def test_embedding_and_readout_share_one_table():
    def tied(params, tokens):
        return nets.embedding_readout(params, nets.embedding(params, tokens, 11, 6), 11)

    tokens = ids(60, 11, 2, 4)
    params = lv.trace(tied, 0, tokens)
    assert _shapes(params) == {"table": (11, 6)}
    table = params["table"]
    np.testing.assert_allclose(tied(params, tokens), table[tokens] @ table.T, rtol=1e-5,
                               atol=1e-6)
    # the gradient of the tied table is the sum of both uses' gradients
    grad = jax.grad(lambda p: _loss(tied(p, tokens)))(params)["table"]

    def untied(embed, readout):
        return _loss(nets.embedding_readout({"table": readout},
                                            nets.embedding({"table": embed}, tokens, 11, 6),
                                            11))

    d_embed, d_readout = jax.grad(untied, argnums=(0, 1))(table, table)
    assert np.abs(d_embed).max() > 0 and np.abs(d_readout).max() > 0
    np.testing.assert_allclose(grad, d_embed + d_readout, rtol=1e-5, atol=1e-6)
    # the read-out alone makes the same table as the embedding would (same path, same init)
    alone = lv.trace(lambda p, x: nets.embedding_readout(p, x, 11), 0, normal(61, 2, 6))
    np.testing.assert_array_equal(alone["table"], table)


# ---------------------------------------------------------------- initialization


@pytest.mark.parametrize("block, shape, fan_in", [
    (lambda p, x: nets.linear(p, x, 256), (2, 64), 64),
    (lambda p, x: nets.branch_linear(p, x, 8, 64), (2, 64), 64),
    (lambda p, x: nets.conv_1d(p, x, 64, 5), (1, 4, 48), 5 * 48),
    (lambda p, x: nets.conv_1d(p, x, 192, 5, groups=4), (1, 4, 48), 5 * 12),
    (lambda p, x: nets.conv_2d(p, x, 32, 3), (1, 4, 4, 32), 9 * 32),
])
def test_weights_start_with_std_one_over_sqrt_fan_in(block, shape, fan_in):
    w = np.asarray(lv.trace(block, 0, jnp.zeros(shape))["w"])
    assert w.size >= 8000
    assert abs(w.std() / (1.0 / np.sqrt(fan_in)) - 1) < 0.05
    assert np.abs(w).max() <= 2.0 / np.sqrt(fan_in) / 0.8796 + 1e-6  # truncated at 2 sigma


def test_lstm_starts_like_pytorch():
    params = lv.trace(lambda p, x: nets.lstm(p, x, 32), 0, jnp.zeros((1, 2, 16)))
    assert _shapes(params) == {"w_input": (16, 128), "w_hidden": (32, 128), "b": (128,)}
    bound = 1 / np.sqrt(32)
    for w in (params["w_input"], params["w_hidden"]):
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
