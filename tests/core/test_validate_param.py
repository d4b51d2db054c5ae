"""lv.validate and lv.param: declaring, sharing, default initializers by op, fans from the
expression, and the forms `init=` takes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import levante as lv
from levante import ein

X = jnp.ones((4, 3))


def test_validate_returns_the_array_at_apply_time_unchanged():
    def f(params, x):
        return x * lv.validate(params["s"], (3,), init=2.0)

    params = lv.trace(f, 0, X)
    array = params["s"]
    assert lv.validate(array, (3,)) is array
    assert lv.validate(array, 3) is array  # an int is a 1-d shape
    np.testing.assert_array_equal(f(params, X), 2.0 * np.ones((4, 3)))


def test_validate_dtype():
    def f(params, x):
        return lv.validate(params["w"], (2,), init=1, dtype=jnp.bfloat16)

    params = lv.trace(f, 0, X)
    assert params["w"].dtype == jnp.bfloat16
    cast = jax.tree.map(lambda a: a.astype(jnp.float32), params)
    assert f(cast, X).dtype == jnp.float32  # apply time checks the shape only


@pytest.mark.parametrize("init, expected", [
    (0.5, np.full((2, 3), 0.5)),
    (lv.init.ones, np.ones((2, 3))),
    (lv.init.constant(3.0), np.full((2, 3), 3.0)),
    (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)),
    (lambda key, shape, dtype: jnp.full(shape, 7.0, dtype), np.full((2, 3), 7.0)),
    (jax.nn.initializers.zeros, np.zeros((2, 3))),
])
def test_init_forms(init, expected):
    params = lv.trace(lambda p, x: lv.validate(p["w"], (2, 3), init=init), 0, X)
    assert params["w"].dtype == jnp.float32
    np.testing.assert_array_equal(params["w"], expected)


def test_jax_initializers_with_a_key():
    params = lv.trace(lambda p, x: lv.validate(p["w"], (64, 64), init=jax.nn.initializers
                                               .lecun_normal()), 0, X)
    assert 0.08 < float(params["w"].std()) < 0.16


def test_same_initializer_made_again_is_the_same_init():
    def f(params, x):
        for _ in range(2):  # a shared layer builds its initializer on every call
            w = lv.validate(params["w"], (3, 3), init=lv.init.normal(0.02))
            x = x @ w
        return x

    assert lv.trace(f, 0, X)["w"].shape == (3, 3)


# -- lv.param: shapes solved by the notation, inits chosen by the op --------------------------


def test_param_shape_solved_from_the_expression():
    def f(params, x):
        h = ein.dot("b [c1->c2]", x, lv.param(params["w"]), c2=5)
        h = ein.add("b [c]", h, lv.param(params["bias"]))
        return ein.multiply("b [c]", h, lv.param(params["scale"]))

    params = lv.trace(f, 0, X)
    assert jax.tree.map(jnp.shape, params) == {"w": (3, 5), "bias": (5,), "scale": (5,)}
    np.testing.assert_array_equal(params["bias"], np.zeros(5))
    np.testing.assert_array_equal(params["scale"], np.ones(5))
    expected = (np.asarray(X) @ np.asarray(params["w"]))
    np.testing.assert_allclose(f(params, X), expected, rtol=1e-6)
    assert lv.param(params["w"]) is params["w"]


def test_dot_default_is_truncated_normal_scaled_by_the_expressions_fan_in():
    x = jnp.ones((2, 4, 64))  # fan-in: h * c = 256, contracted away
    params = lv.trace(lambda p, x: ein.dot("b h c, h c d -> b d", x, lv.param(p["w"]), d=512),
                      jax.random.key(0), x)
    w = np.asarray(params["w"])
    assert w.shape == (4, 64, 512)
    assert abs(w.std() - 1 / 16) < 0.002
    assert np.abs(w).max() <= 2 / 16 / 0.8796 + 1e-6  # truncated at two (scaled) stds


def test_lv_init_initializers_receive_the_expressions_fans():
    # w is "d h c": from its shape alone JAX would count fan_in = h * d, fan_out = c * d
    x = jnp.ones((2, 4, 64))
    he = lambda p, x: ein.dot("b h c, d h c -> b d", x,
                              lv.param(p["w"], init=lv.init.he_normal()), d=512)
    w = np.asarray(lv.trace(he, jax.random.key(0), x)["w"])
    assert w.shape == (512, 4, 64)
    assert abs(w.std() - np.sqrt(2 / 256)) < 0.003  # fan_in = h * c
    avg = lambda p, x: ein.dot("b h c, d h c -> b d", x,
                               lv.param(p["w"], init=lv.init.glorot_uniform()), d=512)
    w = np.asarray(lv.trace(avg, jax.random.key(0), x)["w"])
    assert abs(w.std() - np.sqrt(2 / (256 + 512))) < 0.002  # fan_out = d


def test_other_default_inits():
    ids = jnp.array([[1, 2, 3]])
    embed = lambda p, ids: ein.get_at("[v] c, b t -> b t c", lv.param(p["table"]), ids,
                                      v=1000, c=64)
    table = np.asarray(lv.trace(embed, jax.random.key(0), ids)["table"])
    assert table.shape == (1000, 64) and abs(table.std() - 0.02) < 0.001
    minus = lambda p, x: ein.subtract("b [c]", x, lv.param(p["m"]))
    divide = lambda p, x: ein.divide("b [c]", x, lv.param(p["d"]))
    np.testing.assert_array_equal(lv.trace(minus, 0, X)["m"], np.zeros(3))
    np.testing.assert_array_equal(lv.trace(divide, 0, X)["d"], np.ones(3))


def test_param_init_and_dtype():
    f = lambda p, x: ein.multiply("... [c]", x, lv.param(p["s"], init=1e-5, dtype=jnp.bfloat16))
    params = lv.trace(f, 0, X)
    assert params["s"].dtype == jnp.bfloat16
    np.testing.assert_allclose(params["s"].astype(jnp.float32), np.full(3, 1e-5), rtol=1e-2)
    maximum = lambda p, x: ein.maximum("b [c]", x, lv.param(p["floor"], init=lv.init.zeros))
    assert lv.trace(maximum, 0, X)["floor"].shape == (3,)


def test_param_and_validate_share_a_path():
    def f(params, x):
        h = ein.dot("b [c1->c2]", x, lv.param(params["w"]), c2=3)
        return h @ lv.validate(params["w"], (3, 3))

    params = lv.trace(f, 0, X)
    assert list(params) == ["w"]
