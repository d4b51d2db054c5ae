"""The three examples of zephyr's README, written in levante: they run and give sensible shapes."""

import jax
import jax.numpy as jnp
import numpy as np

import levante as lv
from levante import _


@lv.flexible
def linear(params, x, out):
    w = lv.validate(params["w"], (x.shape[-1], out), init=lv.init.truncated_normal())
    b = lv.validate(params["b"], (out,), init=lv.init.zeros)
    return x @ w + b


@lv.flexible
def mlp(params, x, dims):
    layers = lv.thread_params([linear(_, _, d) for d in dims], params)
    hidden = [lv.chain(layer, jax.nn.relu) for layer in layers[:-1]]
    return lv.chain(hidden + layers[-1:])(x)


# -- 1. an autoencoder: an encoder of two mlps, a decoder of one -----------------------------


@lv.flexible
def encoder(params, x, embed_dim, latent_dim):
    x = mlp(params["mlp_1"], x, [embed_dim, embed_dim])
    return mlp(params["mlp_2"], x, [embed_dim, latent_dim])


@lv.flexible
def decoder(params, x, embed_dim, original_dim):
    return mlp(params, x, [embed_dim, embed_dim, original_dim])


@lv.flexible
def autoencoder(params, x, embed_dim, latent_dim):
    encoding = encoder(params["encoder"], x, embed_dim, latent_dim)
    return decoder(params["decoder"], encoding, embed_dim, x.shape[-1])


def test_autoencoder_traces_named_params_and_runs():
    x = jnp.ones((8, 64))
    model = autoencoder(_, _, 32, 16)  # hyper-parameters filled, params and x left open
    params = lv.trace(model, jax.random.key(0), x)
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes == {
        "encoder": {
            "mlp_1": {0: {"w": (64, 32), "b": (32,)}, 1: {"w": (32, 32), "b": (32,)}},
            "mlp_2": {0: {"w": (32, 32), "b": (32,)}, 1: {"w": (32, 16), "b": (16,)}},
        },
        "decoder": {0: {"w": (16, 32), "b": (32,)}, 1: {"w": (32, 32), "b": (32,)},
                    2: {"w": (32, 64), "b": (64,)}},
    }
    assert jax.jit(model)(params, x).shape == (8, 64)
    # the parts are plain functions of their own parameters
    encodings = encoder(params["encoder"], x, 32, 16)
    assert encodings.shape == (8, 16)
    assert decoder(params["decoder"], encodings, 32, 64).shape == (8, 64)
    assert mlp(params["encoder"]["mlp_2"], jnp.ones((3, 32)), [32, 16]).shape == (3, 16)
    np.testing.assert_allclose(model(params, x), decoder(params["decoder"], encodings, 32, 64))


# -- 2. a linear layer from scratch with validate -------------------------------------------


GLOROT = lv.init.glorot_uniform()


def linear_from_scratch(params, x, target_out, with_bias=True, initializer=GLOROT):
    w = lv.validate(params["weights"], (target_out, x.shape[-1]), init=initializer)
    z = jnp.squeeze(w @ x[..., None], axis=-1)
    if with_bias:
        b = lv.validate(params["bias"], (target_out,), init=lv.init.zeros)
        z = z + b
    return z


def test_linear_from_scratch():
    x = jax.random.normal(jax.random.key(1), (64, 8))
    params = lv.trace(linear_from_scratch, jax.random.key(0), x, 128)
    assert jax.tree.map(jnp.shape, params) == {"weights": (128, 8), "bias": (128,)}
    y = linear_from_scratch(params, x, 128)
    assert y.shape == (64, 128)
    w, b = np.asarray(params["weights"]), np.asarray(params["bias"])
    np.testing.assert_allclose(y, np.asarray(x) @ w.T + b, rtol=1e-5, atol=1e-5)
    no_bias = lv.trace(linear_from_scratch, jax.random.key(0), x, 128, with_bias=False)
    assert set(no_bias) == {"weights"}
    np.testing.assert_array_equal(no_bias["weights"], params["weights"])  # path-derived keys


# -- 3. blocks of mlp with dropout, keys threaded --------------------------------------------


def dropout(key, x, rate, training):
    if not training or rate == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


@lv.flexible
def mlp_with_dropout(params, key, x, out_dims, rate, training):
    return dropout(key, mlp(params, x, out_dims), rate, training)


@lv.flexible
def model(params, key, x, out_dims, rate, num_blocks, training=True):
    blocks = [mlp_with_dropout(_, _, _, out_dims, rate, training) for i in range(num_blocks)]
    return lv.chain(lv.thread_key(lv.thread_params(blocks, params), key))(x)


def test_dropout_blocks_with_thread_key():
    x = jax.random.normal(jax.random.key(1), (16, 32))
    key = jax.random.key(2)
    params = lv.trace(model, jax.random.key(0), key, x, [32, 32], 0.5, 3)
    assert sorted(params) == [0, 1, 2]
    assert jax.tree.map(jnp.shape, params[2]) == {0: {"w": (32, 32), "b": (32,)},
                                                  1: {"w": (32, 32), "b": (32,)}}
    y = model(params, key, x, [32, 32], 0.5, 3)
    assert y.shape == (16, 32)
    assert 0.3 < float((y == 0).mean()) < 0.95  # dropout dropped, about half of what was left
    again = jax.jit(model(_, _, _, [32, 32], 0.5, 3))(params, key, x)  # holes instead of static
    np.testing.assert_allclose(again, y, rtol=1e-5, atol=1e-6)
    other = model(params, jax.random.key(3), x, [32, 32], 0.5, 3)
    assert not np.array_equal(other, y)  # another key, another mask


def test_dropout_is_off_when_not_training():
    x = jax.random.normal(jax.random.key(1), (16, 32))
    params = lv.trace(model, 0, jax.random.key(2), x, [32, 32], 0.5, 3)
    off = model(params, None, x, [32, 32], 0.5, 3, training=False)  # no key needed
    expected = x
    for i in range(3):
        expected = mlp(params[i], expected, [32, 32])
    np.testing.assert_allclose(off, expected, rtol=1e-6)
    evaluate = model(_, None, _, [32, 32], 0.5, 3, training=False)
    np.testing.assert_array_equal(jax.jit(evaluate)(params, x), off)


def test_each_block_gets_its_own_key():
    masks = []

    def record(key, x):
        masks.append(jax.random.bernoulli(key, 0.5, x.shape))
        return x

    lv.chain(lv.thread_key([record] * 3, jax.random.key(0)))(jnp.ones(64))
    assert not np.array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[1], masks[2])
