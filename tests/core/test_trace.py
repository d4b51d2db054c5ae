"""lv.trace: one initialization per leaf, path-derived keys, values used == values returned,
JAX transforms inside the model, and tracing under jit / eval_shape / vmap."""

import copy
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import levante as lv
from levante import ein


def linear(params, x, out):
    w = lv.validate(params["w"], (x.shape[-1], out), init=lv.init.truncated_normal())
    b = lv.validate(params["b"], (out,), init=lv.init.zeros)
    return x @ w + b


def mlp(params, x):
    x = jax.nn.relu(linear(params["a"], x, 16))
    return linear(params["b"], x, 4)


def traced_with_output(f, key, *args, **kwargs):
    """(parameters, the model's output while tracing)."""
    seen = []
    params = lv.trace(lambda p, *a, **k: seen.append(f(p, *a, **k)) or seen[-1], key, *args,
                      **kwargs)
    return params, seen[0]


X = jax.random.normal(jax.random.key(1), (5, 3))


def test_returns_params_of_arrays():
    params = lv.trace(mlp, jax.random.key(0), X)
    assert isinstance(params, lv.Params) and isinstance(params["a"], lv.Params)
    assert params["a"].path == ("a",)
    assert jax.tree.map(jnp.shape, params) == {"a": {"w": (3, 16), "b": (16,)},
                                               "b": {"w": (16, 4), "b": (4,)}}
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(params))
    assert lv.trace(lambda params, x: x, 0, X) == {}


def test_trace_time_outputs_equal_apply_time_outputs():
    params, during = traced_with_output(mlp, jax.random.key(0), X)
    np.testing.assert_array_equal(during, mlp(params, X))
    np.testing.assert_allclose(jax.jit(mlp)(params, X), during, rtol=1e-6)


def test_values_used_while_tracing_are_the_values_returned():
    used = {}

    def f(params, x):
        used["w"] = lv.validate(params["w"], (3, 2), init=lv.init.normal())
        return x @ used["w"]

    params = lv.trace(f, 0, X)
    assert used["w"] is params["w"]


def test_each_leaf_is_made_once_and_shared_by_path():
    calls = []

    def init(key, shape, dtype):
        calls.append(shape)
        return jnp.full(shape, 0.5, dtype)

    def f(params, x):
        for _ in range(3):  # the same path three times: one weight
            x = x @ lv.validate(params["w"], (3, 3), init=init)
        return lv.validate(params["w"], (3, 3)) @ x.T  # init may be left out when sharing

    params = lv.trace(f, 0, X)
    assert calls == [(3, 3)]
    assert list(params) == ["w"]


def test_init_depends_on_the_path_alone():
    def two(params, x):
        return linear(params["second"], linear(params["first"], x, 8), 2)

    def three(params, x):  # a new layer between, declared in another order
        h = linear(params["second"], linear(params["middle"], linear(params["first"], x, 8), 8), 2)
        return h

    key = jax.random.key(0)
    a, b = lv.trace(two, key, X), lv.trace(three, key, X)
    for name in ("first", "second"):
        np.testing.assert_array_equal(a[name]["w"], b[name]["w"])
    assert not np.array_equal(a["first"]["w"][:, :2], a["second"]["w"][:2])
    assert not np.array_equal(lv.trace(two, 1, X)["first"]["w"], a["first"]["w"])


def test_key_may_be_a_seed_a_typed_key_or_a_raw_key():
    typed = lv.trace(mlp, jax.random.key(0), X)
    seed = lv.trace(mlp, 0, X)
    raw = lv.trace(mlp, jax.random.PRNGKey(0), X)
    for other in (seed, raw):
        jax.tree.map(np.testing.assert_array_equal, typed, other)


def test_jit_grad_and_an_optimizer_step_over_apply():
    params = lv.trace(mlp, 0, X)
    loss = lambda p, x: jnp.mean(mlp(p, x) ** 2)
    grads = jax.jit(jax.grad(loss))(params, X)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert isinstance(grads, lv.Params)
    optimizer = optax.adam(1e-2)
    state = optimizer.init(params)
    updates, state = optimizer.update(grads, state, params)
    new = optax.apply_updates(params, updates)
    assert jax.tree.structure(new) == jax.tree.structure(params)
    assert float(loss(new, X)) < float(loss(params, X))


def test_trace_under_jit_matches_eager():
    eager = lv.trace(mlp, jax.random.key(0), X)
    jitted = jax.jit(functools.partial(lv.trace, mlp))(jax.random.key(0), X)
    assert isinstance(jitted, lv.Params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 eager, jitted)


def test_trace_shapes_allocates_nothing():
    def huge(params, x):  # 4e10 parameters: 160 GB in float32
        w = lv.validate(params["w"], (x.shape[-1], 200_000), init=lv.init.truncated_normal())
        return ein.multiply("... [c]", x @ w, lv.param(params["scale"]))

    x = jax.ShapeDtypeStruct((2, 200_000), jnp.float32)
    before = len(jax.live_arrays())
    shapes = lv.trace_shapes(huge, 0, x)
    assert len(jax.live_arrays()) == before
    assert shapes["w"] == jax.ShapeDtypeStruct((200_000, 200_000), jnp.float32)
    assert shapes["scale"].shape == (200_000,)
    assert lv.count(shapes) == 200_000 * 200_001
    also = jax.eval_shape(lambda k, x: lv.trace(huge, k, x), jax.random.key(0), x)
    assert jax.tree.map(lambda s: s.shape, also) == jax.tree.map(lambda s: s.shape, shapes)


def test_trace_shapes_passes_non_arrays_as_they_are():
    shapes = lv.trace_shapes(linear, jax.random.key(0), X, 7)
    assert shapes["w"].shape == (3, 7)


def test_trace_under_vmap_gives_stacked_params_for_a_scan_over_layers():
    def block(params, h):
        return jnp.tanh(linear(params, h, 3))

    stacked = jax.vmap(lambda k: lv.trace(block, k, X))(jax.random.split(jax.random.key(0), 4))
    assert jax.tree.map(jnp.shape, stacked) == {"w": (4, 3, 3), "b": (4, 3)}
    y, _ = jax.lax.scan(lambda h, p: (block(p, h), None), X, stacked)
    expected = X
    for i in range(4):
        expected = block(jax.tree.map(lambda a: a[i], stacked), expected)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


# -- JAX transforms inside the model --------------------------------------------------------


def with_transforms(params, x):
    def step(h, _):  # a scan body closing over params: one weight for every step
        return jnp.tanh(linear(params["cell"], h, 3)), None

    h, _ = jax.lax.scan(step, x, None, length=3)
    h = jax.vmap(lambda row: linear(params["per_row"], row, 3))(h)
    h = jax.checkpoint(functools.partial(linear, params["remat"], out=3))(h)
    h = jax.lax.cond(True, lambda h: linear(params["cond"], h, 3), lambda h: h * 0.0, h)
    h = jax.jit(lambda h: ein.dot("b [c1->c2]", h, lv.param(params["jit"]), c2=2))(h)
    return ein.multiply("b [c]", h, lv.param(params["scale"]))


def test_transforms_inside_the_model_while_tracing():
    params, during = traced_with_output(with_transforms, jax.random.key(0), X)
    assert jax.tree.map(jnp.shape, params) == {
        "cell": {"w": (3, 3), "b": (3,)}, "per_row": {"w": (3, 3), "b": (3,)},
        "remat": {"w": (3, 3), "b": (3,)}, "cond": {"w": (3, 3), "b": (3,)},
        "jit": (3, 2), "scale": (2,)}
    assert all(not isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(params))
    np.testing.assert_array_equal(during, with_transforms(params, X))
    np.testing.assert_allclose(jax.jit(with_transforms)(params, X), during, rtol=1e-5)
    # the same weights whether the trace ran eagerly, under jit or under eval_shape
    jitted = jax.jit(lambda k: lv.trace(with_transforms, k, X))(jax.random.key(0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
                 params, jitted)
    shapes = lv.trace_shapes(with_transforms, jax.random.key(0), X)
    assert jax.tree.map(jnp.shape, shapes) == jax.tree.map(jnp.shape, params)


def test_a_leaf_declared_in_a_transform_and_again_outside_is_one_leaf():
    def f(params, x):
        inside = jax.vmap(lambda row: row @ lv.validate(params["w"], (3, 3), init=1.0))(x)
        return inside + x @ lv.validate(params["w"], (3, 3))

    for run in (lambda: lv.trace(f, 0, X),
                lambda: jax.jit(lambda k: lv.trace(f, k, X))(jax.random.key(0))):
        params = run()
        np.testing.assert_array_equal(params["w"], np.ones((3, 3)))


# -- Params -----------------------------------------------------------------------------------


def test_params_from_dicts_combine_with_traced_params():
    params = lv.trace(mlp, 0, X)
    plain = jax.tree.map(np.asarray, {k: dict(v) for k, v in params.items()})
    loaded = lv.as_params(plain)
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    jax.tree.map(np.testing.assert_array_equal, loaded, params)
    np.testing.assert_allclose(mlp(loaded, X), mlp(params, X), rtol=1e-6)
    copied = copy.deepcopy(params)
    assert isinstance(copied["a"], lv.Params) and copied["a"].path == ("a",)
    with pytest.raises(KeyError):
        loaded["c"]


def test_sharded_initialization_under_jit():
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    shapes = lv.trace_shapes(mlp, 0, X)
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    shardings = jax.tree.map(lambda s: replicated, shapes)
    params = jax.jit(lambda k, x: lv.trace(mlp, k, x), out_shardings=shardings)(
        jax.random.key(0), X)
    assert all(leaf.sharding == replicated for leaf in jax.tree.leaves(params))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
                 params, lv.trace(mlp, 0, X))


def test_the_root_itself_may_be_one_array():
    weight = lv.trace(lambda params, x: x @ lv.validate(params, (3, 2), init=1.0), 0, X)
    np.testing.assert_array_equal(weight, np.ones((3, 2)))
