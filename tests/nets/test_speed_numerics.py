"""The fast paths of the blocks compute what the plain formulas compute.

GELU is written with `erf` (not `jax.nn.gelu`'s `erfc`), LayerNorm has its own backward pass
reusing x̂ and 1/σ: both must give the values and gradients of the textbook formulas, and
a GPT trained with them the same losses, to 1e-6 relative over 20 steps, as a reference
written with plain `jax.nn` functions and autodiff.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from levante import data, nets
from levante.models import gpt
from levante.train import TrainConfig
from levante.train._loop import make_step
from levante.train._optimizer import optimizer


def _reference_gelu(x):
    return jax.nn.gelu(x, approximate=False)


def _reference_layer_norm(x, scale, bias, axis=-1, eps=1e-5):
    mean = jnp.mean(x, axis=axis, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axis, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * scale + bias


def test_gelu_is_x_times_the_normal_cdf():
    x = np.linspace(-12, 12, 4001)
    exact = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x])  # float64
    ours = np.asarray(nets.gelu(jnp.asarray(x, jnp.float32)), np.float64)
    np.testing.assert_allclose(ours, exact, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(ours, np.asarray(_reference_gelu(jnp.asarray(x, jnp.float32))),
                               rtol=2e-6, atol=1e-6)


def test_gelu_gradient_is_cdf_plus_x_times_pdf():
    x = jnp.linspace(-8, 8, 1601, dtype=jnp.float32)
    grad = jax.vmap(jax.grad(nets.gelu))(x)
    xs = np.asarray(x, np.float64)
    exact = (0.5 * np.array([math.erfc(-v / math.sqrt(2)) for v in xs])
             + xs * np.exp(-xs * xs / 2) / math.sqrt(2 * math.pi))
    np.testing.assert_allclose(np.asarray(grad, np.float64), exact, rtol=1e-5, atol=1e-6)


def test_gelu_derivative_agrees_in_both_modes():
    """Reverse and forward mode give the same derivative, inside jit too, and the
    reference's."""
    x = jnp.linspace(-5, 5, 101, dtype=jnp.float32)
    reverse = jax.jit(jax.vmap(jax.grad(nets.gelu)))(x)
    forward = jax.jvp(nets.gelu, (x,), (jnp.ones_like(x),))[1]
    np.testing.assert_allclose(reverse, forward, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(reverse, jax.vmap(jax.grad(_reference_gelu))(x), rtol=1e-5,
                               atol=1e-6)


def test_gelu_keeps_the_input_dtype():
    assert nets.gelu(jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16
    assert nets.gelu(jnp.ones(3, jnp.float32)).dtype == jnp.float32


@pytest.mark.parametrize("axes, shape, reduced", [
    ("... [c]", (3, 5, 16), (-1,)),
    ("b [s c]", (3, 4, 6), (1, 2)),
    ("b [s] c", (3, 7, 2), (1,)),
])
def test_layer_norm_value_and_gradients_equal_autodiff_of_the_formula(axes, shape, reduced):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(shape) * 3 + 1, jnp.float32)
    stat_shape = tuple(shape[a] for a in reduced)
    params = {"scale": jnp.asarray(rng.standard_normal(stat_shape), jnp.float32),
              "bias": jnp.asarray(rng.standard_normal(stat_shape), jnp.float32)}
    cotangent = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    broadcast = [1 if i not in [a % len(shape) for a in reduced] else n
                 for i, n in enumerate(shape)]

    def reference(p, x):
        return _reference_layer_norm(x, p["scale"].reshape(broadcast),
                                     p["bias"].reshape(broadcast), axis=reduced)

    ours, ours_vjp = jax.vjp(lambda p, x: nets.layer_norm(p, x, axes), params, x)
    theirs, theirs_vjp = jax.vjp(reference, params, x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(ours_vjp(cotangent)), jax.tree.leaves(theirs_vjp(cotangent)),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_layer_norm_gradient_in_bfloat16_follows_float32():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 32)), jnp.float32)
    grad = lambda x: jax.grad(lambda x: jnp.sum(nets.layer_norm({}, x, scale=False,
                                                                bias=False) * x))(x)
    low = grad(x.astype(jnp.bfloat16))
    assert low.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(low, np.float32), grad(x), rtol=0.05, atol=0.05)


def test_layer_norm_is_differentiated_in_reverse_mode_only():
    """Its backward pass is its own (a custom VJP): forward mode is refused, not wrong."""
    x = jnp.ones((2, 4))
    f = lambda x: nets.layer_norm({}, x, scale=False, bias=False)
    assert jax.grad(lambda x: jnp.sum(f(x) * x))(x).shape == (2, 4)
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(f, (x,), (x,))


def _reference_gpt_loss(params, ids, targets, heads):
    """nanoGPT's forward pass in plain jax.nn over levante's parameter tree."""
    table = params["embed"]["table"]
    b, t = ids.shape
    x = table[ids] + params["positions"][:t]
    causal = jnp.tril(jnp.ones((t, t), bool))

    def norm(p, x):
        return _reference_layer_norm(x, p["scale"], p["bias"])

    for i in range(len(params["blocks"])):
        block = params["blocks"][i]
        attention = block["attention"]
        qkv = norm(block["norm_attention"], x) @ attention["qkv"]["w"] + attention["qkv"]["b"]
        q, k, v = (z.reshape(b, t, heads, -1).transpose(0, 2, 1, 3)
                   for z in jnp.split(qkv, 3, axis=-1))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
        weights = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
        y = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
        x = x + y @ attention["out"]["w"] + attention["out"]["b"]
        ff = block["feed_forward"]
        h = norm(block["norm_feed_forward"], x) @ ff["up"]["w"] + ff["up"]["b"]
        x = x + _reference_gelu(h) @ ff["down"]["w"] + ff["down"]["b"]
    logits = norm(params["norm"], x) @ table.T
    picked = jnp.take_along_axis(jax.nn.log_softmax(logits), targets[..., None], axis=-1)
    return -jnp.mean(picked)


class _ReferenceModel:
    @staticmethod
    def loss(params, config, ids, targets, key=None, training=False):
        return _reference_gpt_loss(params, ids, targets, config.heads)


def _losses(model, config, train_config, batches):
    opt = optimizer(train_config)
    params = gpt.init(config, jax.random.key(train_config.seed))
    state = opt.init(params)
    step = make_step(model, config, opt)
    losses = []
    for i, (x, y) in enumerate(batches):
        params, state, loss = step(params, state, x, y, jax.random.key(i))
        losses.append(float(loss))
    return np.array(losses)


def test_twenty_training_steps_match_the_plain_jax_reference():
    """nanoGPT's CPU configuration with two of its four layers (the same block code, half
    the compile time) and no warm-up, so that every step moves the weights at the full
    learning rate."""
    train_config = TrainConfig(warmup=0, layers=2)
    text = data.load_text()[:50_000]  # the bundled Shakespeare
    config = gpt.GPTConfig(vocab=len(set(text)), layers=train_config.layers,
                           heads=train_config.heads, width=train_config.width,
                           block=train_config.block)
    ids = data.Vocabulary.from_text(text).encode(text)
    batches = [data.get_batch(ids, config.block, train_config.batch, 0, s) for s in range(20)]
    ours = _losses(gpt, config, train_config, batches)
    reference = _losses(_ReferenceModel, config, train_config, batches)
    assert ours[-1] < ours[0] - 0.1  # it trains
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=0)
