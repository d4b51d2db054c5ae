"""einx 0.4's adapters in levante: the ops they make against einx's own and NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from levante import ein

einx = pytest.importorskip("einx")
jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jnp = jax.numpy

x = np.random.default_rng(0).normal(size=(2, 3, 4))


def l2(t, axis):
    return (t * t).sum(axis) ** 0.5


@pytest.mark.parametrize("expr", ["a [b] c", "a [b c]", "[a] b c", "a b c -> c a", "a b ([c])"])
def test_numpylike_reduce_equals_einx(expr):
    mine = ein.numpy.adapt_numpylike_reduce(l2)
    theirs = einx.numpy.adapt_numpylike_reduce(l2)
    np.testing.assert_allclose(mine(expr, x), theirs(expr, x))


def test_numpylike_reduce_runs_on_every_backend():
    for module, convert in ((ein.jax, jnp.asarray), (ein.torch, torch.from_numpy)):
        op = module.adapt_numpylike_reduce(lambda t, axis: (t * t).sum(axis) ** 0.5)
        np.testing.assert_allclose(np.asarray(op("a [b] c", convert(x))), l2(x, 1), rtol=1e-6)
    jitted = jax.jit(lambda t: ein.jax.adapt_numpylike_reduce(l2)("a [b] c", t))
    np.testing.assert_allclose(jitted(jnp.asarray(x)), l2(x, 1), rtol=1e-6)


@pytest.mark.parametrize("expr,shapes", [("a b, b", [(2, 3), (3,)]),
                                         ("a, b -> b a", [(2,), (3,)]),
                                         ("a b, b a, a -> a b", [(2, 3), (3, 2), (2,)])])
def test_numpylike_elementwise_equals_einx(expr, shapes):
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=s) for s in shapes]

    def f(*ts):
        assert len({t.ndim for t in ts}) == 1  # the same rank, as einx promises
        return sum(ts[1:], ts[0] * 2)

    mine = ein.numpy.adapt_numpylike_elementwise(f)
    theirs = einx.numpy.adapt_numpylike_elementwise(f)
    np.testing.assert_allclose(mine(expr, *xs), theirs(expr, *xs))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_with_vmap_equals_einx(backend):
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(6, 4))

    def f(x, y):  # x: b c, y: c -> c b
        return (x * y[None, :]).T

    convert = jnp.asarray if backend == "jax" else torch.from_numpy
    mine = getattr(ein, backend).adapt_with_vmap(f)
    theirs = getattr(einx, backend).adapt_with_vmap(f)
    expr = "a [b c] x, d [c] -> a d x [c b]"
    want = np.asarray(theirs(expr, convert(a), convert(b)))
    got = np.asarray(mine(expr, convert(a), convert(b)))
    assert got.shape == (2, 6, 5, 4, 3)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_with_vmap_errors_are_notation_errors():
    op = ein.jax.adapt_with_vmap(lambda t: t)
    with pytest.raises(ein.NotationError, match="needs its output"):
        op("a [b]", jnp.ones((2, 3)))
    with pytest.raises(ein.NotationError, match="plain axis names"):
        op("... [b] -> ... [b]", jnp.ones((2, 3)))
