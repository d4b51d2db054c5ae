"""Every misuse of the functional core raises a clear error: what was written, the full
parameter path, and (after `tl;dr:`) what to write instead."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import levante as lv
from levante import ein

X = jnp.ones((2, 3))


@contextlib.contextmanager
def raises(*fragments, kind=lv.ParamsError):
    with pytest.raises(kind) as info:
        yield info
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    if issubclass(kind, lv.ParamsError):
        assert "\ntl;dr: " in message


def linear(params, x, out):
    w = lv.validate(params["w"], (x.shape[-1], out), init=lv.init.truncated_normal())
    b = lv.validate(params["b"], (out,), init=lv.init.zeros)
    return x @ w + b


def nested(inner):
    """`inner(node)` run at params['encoder']['mlp'][0]."""
    return lambda params, x, *args: inner(params["encoder"]["mlp"][0], x, *args)


# -- the tracing params object is not an array ------------------------------------------------


@pytest.mark.parametrize("use, how", [
    (lambda p, x: x @ p["w"], "`@`"),
    (lambda p, x: p["w"] + 1.0, "`+`"),
    (lambda p, x: 2 * p["w"], "`*`"),
    (lambda p, x: -p["w"], "unary `-`"),
    (lambda p, x: np.asarray(p["w"]), "np.asarray"),
    (lambda p, x: float(p["w"]), "float()"),
    (lambda p, x: len(p["w"]), "len()"),
    (lambda p, x: list(p["w"]), "iteration"),
    (lambda p, x: p["w"] > 0, "`>`"),
])
def test_a_leaf_used_as_an_array_before_it_is_declared(use, how):
    with raises("params 'encoder/mlp/0/w' was used as an array", how,
                "nothing has declared it yet",
                "tl;dr: w = lv.validate(params['w'], shape, init=...)"):
        lv.trace(nested(lambda p, x: use(p, x)), 0, X)


def test_a_leaf_used_after_its_declaration_points_at_the_returned_array():
    def f(params, x):
        lv.validate(params["w"], (3, 3), init=lv.init.zeros)
        return x @ params["w"]

    with raises("params 'encoder/mlp/0/w' was used", "the declaration returned its array",
                "use the array the declaration returned"):
        lv.trace(nested(f), 0, X)


def test_a_group_used_as_an_array():
    def f(params, x):
        linear(params, x, 3)
        return x + params

    with raises("params 'encoder/mlp/0' was used as an array",
                "group of parameters holding 'w', 'b'", "index down to one parameter"):
        lv.trace(nested(f), 0, X)


def test_array_attributes_of_the_tracing_object():
    with raises("params 'encoder/mlp/0/w' has no attribute 'shape'") as info:
        lv.trace(nested(lambda p, x: p["w"].shape), 0, X)
    assert isinstance(info.value, AttributeError)
    assert lv.trace(lambda p, x: hasattr(p["w"], "T") or linear(p, x, 1), 0, X)


def test_passed_into_jax_functions_and_transforms():
    transforms = [
        lambda p, x: jnp.tanh(p["w"]),
        lambda p, x: jax.jit(linear, static_argnums=2)(p, x, 3),
        lambda p, x: jax.checkpoint(linear, static_argnums=2)(p, x, 3),
        lambda p, x: jax.vmap(linear, in_axes=(None, 0, None))(p, x, 3),
        lambda p, x: jax.lax.scan(lambda h, q: (linear(q, h, 3), None), x, p),
        lambda p, x: jax.lax.cond(True, lambda q: linear(q, x, 3), lambda q: x, p),
    ]
    for f in transforms:
        with raises("was passed into a JAX function or transform",
                    "close over params instead of passing it"):
            lv.trace(nested(f), 0, X)


def test_a_raw_node_passed_to_a_notation_op():
    with raises("params 'encoder/mlp/0/scale' was passed to ein.multiply('b [c]') as it is",
                "lv.param(params['scale'])", "shape (3,)"):
        lv.trace(nested(lambda p, x: ein.multiply("b [c]", x, p["scale"])), 0, X)


def test_lv_param_outside_a_notation_op():
    with raises("lv.param(params['s']) for params 'encoder/mlp/0/s' was used as an array (`*`)",
                "lv.validate(params['s'], shape"):
        lv.trace(nested(lambda p, x: x * lv.param(p["s"])), 0, X)
    with raises("lv.param(params['s'])", "passed into a JAX function"):
        lv.trace(nested(lambda p, x: jnp.tanh(lv.param(p["s"]))), 0, X)


def test_an_op_without_a_default_initializer():
    with raises("params 'encoder/mlp/0/floor' is made by ein.maximum('b [c]')",
                "no default initializer", "init=lv.init.zeros"):
        lv.trace(nested(lambda p, x: ein.maximum("b [c]", x, lv.param(p["floor"]))), 0, X)


def test_a_jitted_model_passed_to_trace():
    with raises("compiled with jax.jit", "give lv.trace the plain model",
                "jax.jit(lambda key, x: lv.trace(model, key, x))"):
        lv.trace(jax.jit(linear, static_argnums=2), 0, X, 3)
    with raises("compiled with jax.jit"):
        lv.trace_shapes(jax.jit(linear, static_argnums=2), 0, X, 3)


# -- keys and structure -----------------------------------------------------------------------


def test_mixing_string_and_integer_keys_in_one_level():
    def f(params, x):
        linear(params["encoder"]["proj"], x, 3)
        return linear(params["encoder"][0], x, 3)

    with raises("params 'encoder' has both string and integer keys ('proj' and 0)",
                "nest the list under a name: params['encoder']['layers'][0]"):
        lv.trace(f, 0, X)


@pytest.mark.parametrize("key, fragment", [
    ((0, 1), "a tuple"), (1.5, "a float"), (True, "a bool"), (-1, "count layers from 0"),
    ("a/b", "without '/'"), ("", "non-empty"),
])
def test_bad_keys(key, fragment):
    with raises("params 'encoder/mlp/0' was indexed with", fragment):
        lv.trace(nested(lambda p, x: p[key]), 0, X)


def test_one_path_is_either_an_array_or_a_group():
    def leaf_then_group(params, x):
        lv.validate(params["w"], (3,), init=0.0)
        return params["w"]["inner"]

    with raises("params 'encoder/mlp/0/w' was declared as one array and is now indexed"):
        lv.trace(nested(leaf_then_group), 0, X)

    def group_then_leaf(params, x):
        linear(params["w"], x, 3)
        return lv.validate(params["w"], (3,), init=0.0)

    with raises("params 'encoder/mlp/0/w' is declared as one array by lv.validate",
                "already a group of parameters"):
        lv.trace(nested(group_then_leaf), 0, X)


def test_declared_twice_differently():
    with raises("params 'encoder/mlp/0/w' is declared with shape (3, 4) by lv.validate and "
                "with shape (3, 5) by lv.validate", "its own name"):
        lv.trace(nested(lambda p, x: (linear(p, x, 4), linear(p, x, 5))), 0, X)
    with raises("declared with dtype float32", "dtype bfloat16"):
        lv.trace(nested(lambda p, x: (lv.validate(p["w"], (2,), init=0.0),
                                      lv.validate(p["w"], (2,), init=0.0, dtype="bfloat16"))),
                 0, X)
    with raises("declared with init=lv.init.zeros by lv.validate and with init=lv.init.ones"):
        lv.trace(nested(lambda p, x: (lv.validate(p["w"], (2,), init=lv.init.zeros),
                                      lv.validate(p["w"], (2,), init=lv.init.ones))), 0, X)
    with raises("declared with shape (3,) by ein.multiply('b [c]')", "(3, 3) by lv.validate"):
        lv.trace(nested(lambda p, x: (ein.multiply("b [c]", x, lv.param(p["w"])),
                                      lv.validate(p["w"], (3, 3)))), 0, X)


def test_declared_without_init():
    with raises("params 'encoder/mlp/0/w' is declared by lv.validate without init=...",
                "init=lv.init.truncated_normal()"):
        lv.trace(nested(lambda p, x: lv.validate(p["w"], (3, 3))), 0, X)


def test_shapes_must_be_static_ints():
    with raises("params 'encoder/mlp/0/w' is asked for shape (3, None)", "x.shape is static"):
        lv.trace(nested(lambda p, x: lv.validate(p["w"], (3, None), init=0.0)), 0, X)
    with raises("is asked for shape"):
        jax.jit(lambda n: lv.trace(lambda p, x: lv.validate(p["w"], (n,), init=0.0), 0, X))(3)


def test_bad_inits():
    with raises("params 'encoder/mlp/0/w': init=",
                "made shape (2,), but lv.validate asks for (3,)"):
        lv.trace(nested(lambda p, x: lv.validate(p["w"], (3,), init=lambda k, s, d: jnp.ones(2))),
                 0, X)
    with raises("params 'encoder/mlp/0/w' could not be made by init='ones'"):
        lv.trace(nested(lambda p, x: lv.validate(p["w"], (3,), init="ones")), 0, X)


def test_the_tracing_object_kept_past_its_trace():
    kept = []
    lv.trace(lambda params, x: kept.append(params["layer"]), 0, X)
    with raises("params 'layer' was used after lv.trace returned",
                "use the parameters lv.trace returned"):
        lv.validate(kept[0]["w"], (3,), init=0.0)


def test_assigning_to_the_tracing_object():
    def f(params, x):
        params["w"] = jnp.ones(3)

    with raises("was assigned to", "lv.validate(params['w']"):
        lv.trace(f, 0, X)


def test_bad_key_for_trace():
    with raises("lv.trace needs a random key", "lv.trace(model, 0, x)"):
        lv.trace(linear, "seed", X, 3)
    with raises("lv.trace needs a random key"):
        lv.trace(linear, jnp.ones(3), X, 3)


# -- apply time -------------------------------------------------------------------------------


def test_missing_parameters_list_the_keys_of_their_level():
    params = lv.trace(nested(linear), 0, X, 3)
    with raises("no parameters at 'encoder/mlp/1': 'encoder/mlp' holds 0",
                "lv.trace(model, key, ...)", kind=lv.MissingParamsError) as info:
        params["encoder"]["mlp"][1]
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith("no parameters")  # not KeyError's quoted repr
    with raises("no parameters at 'decoder': the root holds 'encoder'", kind=KeyError):
        linear(params["decoder"], X, 3)


def test_a_path_never_declared_while_tracing():
    layers = [lambda p, x: linear(p, x, 3), lambda p, x: jax.nn.relu(x)]
    params = lv.trace(lambda p, x: lv.chain(lv.thread_params(layers, p))(x), 0, X)
    assert params[1] == {}  # used by the model, so kept, but nothing was declared under it
    with raises("no parameters at '1/w': '1' holds nothing"):
        linear(params[1], X, 3)
    with raises("params '1' is a group of parameters holding nothing",
                "where lv.validate expects an array"):
        lv.validate(params[1], (3,))


def test_shape_mismatch_at_apply_time_names_the_path():
    params = lv.trace(nested(linear), 0, X, 3)
    with raises("params 'encoder/mlp/0/w' has shape (3, 3) but the model asks for (5, 3)",
                "make them again with lv.trace"):
        nested(linear)(params, jnp.ones((2, 5)), 3)
    with raises("params 'encoder/mlp/0/w' has shape (3, 3) but the model asks for (5, 3)"):
        jax.jit(nested(linear), static_argnums=2)(params, jnp.ones((2, 5)), 3)
    plain = {"w": np.ones((3, 3)), "b": np.ones(3)}
    with raises("a parameter (read from a plain dict: no path) has shape (3, 3)"):
        linear(plain, jnp.ones((2, 5)), 3)


def test_a_group_where_an_array_belongs():
    params = lv.trace(nested(linear), 0, X, 3)
    with raises("params 'encoder/mlp' is a group of parameters holding 0",
                "where lv.validate expects an array"):
        lv.validate(params["encoder"]["mlp"], (3, 3))
    with raises("where lv.param expects an array"):
        ein.multiply("b [c]", X, lv.param(params["encoder"]))


# -- holes, labels, initializers --------------------------------------------------------------


def test_holes_with_the_wrong_number_of_values():
    @lv.flexible
    def block(params, x, hidden, heads=1):
        return x

    partial = block(lv._, lv._, 4)
    with raises("block(_, _, 4) has 2 holes and got 1 argument", kind=TypeError):
        partial(None)
    with raises("block(_, _, 4) has 2 holes and got 3 arguments", kind=TypeError):
        partial(None, 1, 2)
    with raises("block(params, x, hidden, heads=1): too many positional arguments",
                kind=TypeError):
        block(lv._, lv._, 4, 1, 5)
    with raises("block(params, x, hidden, heads=1): got an unexpected keyword argument 'width'",
                kind=TypeError):
        block(lv._, lv._, width=4)
    with raises("got 'heads' again", kind=TypeError):
        block(lv._, lv._, 4, heads=2)(None, 1, heads=3)


def test_labels_must_cover_every_leaf():
    params = {"a": {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}}
    with raises("lv.label: no rule matches the parameters 'a/b'", "'**' matches every path"):
        lv.label(params, {"**/w": "decay"})
    with raises("a rule is a path pattern"):
        lv.label(params, {3: "x"})


def test_initializer_misuse():
    with raises("lv.init.zeros is already an initializer", "init=lv.init.zeros (no call)",
                kind=TypeError):
        lv.init.zeros()
    with raises("unknown mode 'fan_out_in'"):
        lv.init.variance_scaling(1.0, "fan_out_in")
    with raises("unknown distribution 'gaussian'"):
        lv.init.variance_scaling(1.0, "fan_in", "gaussian")
    with raises("orthogonal initializer needs a shape of two or more axes"):
        lv.trace(lambda p, x: lv.validate(p["w"], (3,), init=lv.init.orthogonal()), 0, X)
