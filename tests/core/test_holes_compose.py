"""`_` and `@lv.flexible`, and chain / skip / thread*."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np

import levante as lv
from levante import _


@lv.flexible
def block(params, x, hidden, heads=1, *, scale=1.0):
    """A block."""
    return (params, x, hidden, heads, scale)


def test_no_holes_is_a_plain_call():
    assert block("p", "x", 4) == ("p", "x", 4, 1, 1.0)
    assert block.__name__ == "block" and block.__doc__ == "A block."


def test_holes_fill_left_to_right():
    partial = block(_, _, 4, heads=2)
    assert partial("p", "x") == ("p", "x", 4, 2, 1.0)
    assert block(_, "x", _)("p", 8) == ("p", "x", 8, 1, 1.0)
    assert block("p", "x", 4, heads=_)(3) == ("p", "x", 4, 3, 1.0)  # a keyword hole
    assert partial("p", "x", scale=0.5) == ("p", "x", 4, 2, 0.5)  # other arguments by keyword


def test_nested_partials():
    partial = block(_, _, _)
    one = partial(_, "x", 16)
    assert repr(one) == "block(_, 'x', 16)"
    assert one("p") == ("p", "x", 16, 1, 1.0)
    two = partial(_, _, 16)(_, "x")
    assert two("p") == ("p", "x", 16, 1, 1.0)


def test_partials_look_like_their_function():
    partial = block(_, _, 4)
    assert partial.__name__ == "block"
    assert partial.__doc__ == "A block."
    assert partial.__wrapped__ is inspect.unwrap(block)
    assert str(inspect.signature(partial)) == "(params, x, /, *, heads=1, scale=1.0)"
    assert repr(partial) == "block(_, _, 4)"
    assert repr(lv._) == "_"


def test_partials_under_jit_and_trace():
    @lv.flexible
    def dense(params, x, out, bias=True):
        y = x @ lv.validate(params["w"], (x.shape[-1], out), init=lv.init.truncated_normal())
        return y + lv.validate(params["b"], (out,), init=0.0) if bias else y

    model = dense(_, _, 5, bias=False)
    x = jnp.ones((2, 3))
    params = lv.trace(model, 0, x)
    assert list(params) == ["w"]
    np.testing.assert_allclose(jax.jit(model)(params, x), model(params, x), rtol=1e-6)
    assert jax.grad(lambda p: model(p, x).sum())(params)["w"].shape == (3, 5)


def test_chain_and_skip():
    assert lv.chain([])(3) == 3
    assert lv.chain([lambda x: x + 1, lambda x: 2 * x])(3) == 8
    assert lv.chain(lambda x: x + 1, lambda x: 2 * x)(3) == 8
    assert lv.skip(lambda x, k: k * x)(2, k=5) == 12
    np.testing.assert_array_equal(lv.skip(jnp.tanh)(jnp.zeros(2)), np.zeros(2))


def test_thread_functions():
    f = lambda a, x: (a, x)
    assert [g(0) for g in lv.thread_identity([f, f], "v")] == [("v", 0), ("v", 0)]
    assert [g(0) for g in lv.thread([f] * 3, 1, lambda n: (n, n + 1))] == [(1, 0), (2, 0), (3, 0)]
    assert [g(0) for g in lv.thread_params([f, f], {0: "a", 1: "b"})] == [("a", 0), ("b", 0)]
    assert [g(0) for g in lv.thread_key([f, f], None)] == [(None, 0), (None, 0)]
    keys = [g(0)[0] for g in lv.thread_key([f, f, f], jax.random.key(0))]
    bits = [jax.random.key_data(k).tolist() for k in keys]
    assert len({str(b) for b in bits}) == 3
    named = lv.thread_params([block], {0: "p"})[0]
    assert named.__name__ == "block"


def test_chain_of_threaded_blocks_traces_and_applies():
    def layer(params, key, x):
        w = lv.validate(params["w"], (x.shape[-1], x.shape[-1]), init=lv.init.orthogonal())
        return jnp.tanh(x @ w) + 0.01 * jax.random.normal(key, x.shape)

    def model(params, key, x):
        return lv.chain(lv.thread_key(lv.thread_params([layer] * 3, params), key))(x)

    x, key = jnp.ones((2, 4)), jax.random.key(5)
    params = lv.trace(model, 0, key, x)
    assert sorted(params) == [0, 1, 2]
    assert model(params, key, x).shape == (2, 4)
    assert not np.array_equal(params[0]["w"], params[1]["w"])
