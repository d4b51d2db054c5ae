"""lv.init against jax.nn.initializers (the oracle), bit for bit where the fans agree."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import levante as lv

KEY = jax.random.key(3)


@pytest.mark.parametrize("ours, theirs", [
    (lv.init.zeros, jax.nn.initializers.zeros),
    (lv.init.ones, jax.nn.initializers.ones),
    (lv.init.constant(0.3), jax.nn.initializers.constant(0.3)),
    (lv.init.normal(0.02), jax.nn.initializers.normal(0.02)),
    (lv.init.truncated_normal(0.02), jax.nn.initializers.truncated_normal(0.02)),
    (lv.init.truncated_normal(), jax.nn.initializers.lecun_normal()),
    (lv.init.lecun_normal(), jax.nn.initializers.lecun_normal()),
    (lv.init.lecun_uniform(), jax.nn.initializers.lecun_uniform()),
    (lv.init.glorot_normal(), jax.nn.initializers.glorot_normal()),
    (lv.init.glorot_uniform(), jax.nn.initializers.glorot_uniform()),
    (lv.init.xavier_uniform(), jax.nn.initializers.xavier_uniform()),
    (lv.init.he_normal(), jax.nn.initializers.he_normal()),
    (lv.init.he_uniform(), jax.nn.initializers.he_uniform()),
    (lv.init.kaiming_normal(), jax.nn.initializers.kaiming_normal()),
    (lv.init.variance_scaling(0.5, "fan_out", "normal"),
     jax.nn.initializers.variance_scaling(0.5, "fan_out", "normal")),
    (lv.init.orthogonal(2.0), jax.nn.initializers.orthogonal(2.0)),
])
def test_same_as_jax(ours, theirs):
    np.testing.assert_array_equal(ours(KEY, (6, 5)), theirs(KEY, (6, 5), jnp.float32))
    assert ours(KEY, (6, 5), jnp.bfloat16).dtype == jnp.bfloat16


@pytest.mark.parametrize("ours, theirs, shape", [
    (lv.init.he_normal(), jax.nn.initializers.he_normal(), (3, 3, 4, 8)),  # a conv kernel
    (lv.init.glorot_uniform(), jax.nn.initializers.glorot_uniform(), (2, 6, 5)),
])
def test_same_as_jax_with_a_receptive_field(ours, theirs, shape):
    np.testing.assert_array_equal(ours(KEY, shape), theirs(KEY, shape, jnp.float32))


def test_uniform_bounds_and_vectors():
    w = lv.init.uniform(2.0, 3.0)(KEY, (1000,))
    assert float(w.min()) >= 2.0 and float(w.max()) < 3.0
    assert lv.init.he_normal()(KEY, (7,)).shape == (7,)  # 1-d: fan_in = fan_out = n
    assert lv.init.truncated_normal()(KEY, ()).shape == ()


def test_fans_given_by_a_notation_op_win_over_the_shape():
    w = lv.init.variance_scaling(1.0, "fan_in", "normal")(KEY, (64, 64), fans=(4, 64))
    assert abs(float(w.std()) - 0.5) < 0.02


def test_equality_and_repr():
    assert lv.init.normal(0.02) == lv.init.normal(0.02) != lv.init.normal(0.03)
    assert hash(lv.init.truncated_normal()) == hash(lv.init.truncated_normal())
    assert repr(lv.init.zeros) == "lv.init.zeros"
    assert repr(lv.init.normal(0.02)) == "lv.init.normal(stddev=0.02, mean=0.0)"
    assert lv.init.kaiming_uniform is lv.init.he_uniform
