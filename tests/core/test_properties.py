"""Properties over many cases (hypothesis): init depends on the path alone; holes fill like a
direct call."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import levante as lv

NAMES = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=1, max_size=6,
                 unique=True)
INIT = lv.init.normal()


def layers(names):
    def model(params, x):
        for name in names:
            x = x @ lv.validate(params[name]["w"], (2, 2), init=INIT)
        return x

    return model


@settings(max_examples=25, deadline=None)
@given(NAMES, st.randoms())
def test_a_leaf_depends_on_its_path_alone(names, random):
    shuffled = list(names)
    random.shuffle(shuffled)
    kept = shuffled[: max(1, len(shuffled) // 2)]
    x = jnp.ones((1, 2))
    full = lv.trace(layers(names), 7, x)
    for other in (lv.trace(layers(shuffled), 7, x), lv.trace(layers(kept), 7, x)):
        for name in other:
            np.testing.assert_array_equal(other[name]["w"], full[name]["w"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=4, max_size=4), st.integers(0, 3))
def test_holes_fill_like_a_direct_call(holes, nested_at):
    @lv.flexible
    def f(a, b, c, d=0):
        return (a, b, c, d)

    values = [10, 20, 30, 40]
    partial = f(*[lv._ if h else v for h, v in zip(holes, values)])
    wanted = [v for h, v in zip(holes, values) if h]
    if not wanted:
        assert partial == tuple(values)
        return
    if nested_at < len(wanted):  # fill all but one hole, then the last one
        rest = [lv._ if i == nested_at else v for i, v in enumerate(wanted)]
        partial = partial(*rest)
        wanted = [wanted[nested_at]]
    assert partial(*wanted) == tuple(values)


def test_leaf_keys_differ_by_path():
    params = lv.trace(layers(["a", "b", "c"]), jax.random.key(0), jnp.ones((1, 2)))
    values = {name: np.asarray(params[name]["w"]).tobytes() for name in params}
    assert len(set(values.values())) == 3
