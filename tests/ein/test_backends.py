"""The same notation calls on every backend and transformation, against a NumPy oracle.

Each case is an ein call plus a hand-written reference `ref(xp, *arrays)` in NumPy-style
code that runs on `np` (the oracle) and on `jnp` (for gradients). Every case runs on NumPy,
JAX eager, JAX under `jit` and `vmap`, and PyTorch eager; the differentiable cases also
compare `jax.grad` with the gradient of the hand-written `jnp` function, and a short list
runs under `torch.compile(fullgraph=True)`, so a graph break fails the test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest

from levante import ein

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-5, 1e-5  # float32


def normal(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ints(seed, high, *shape):
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.int32)


def permutation(seed, n):
    return np.random.default_rng(seed).permutation(n).astype(np.int32)


class Case(NamedTuple):
    id: str
    run: Callable  # (*tensors) -> ein result, the same code for every backend
    ref: Callable  # (xp, *arrays) -> hand-written result
    inputs: tuple  # NumPy arrays and Python scalars
    grad: tuple = ()  # positions of the float inputs to differentiate


# -- hand-written helpers that work on np and jnp alike


def _softmax(xp, x, axis):
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _logsumexp(xp, x, axis):
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.squeeze(xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m, axis=axis)


def _scatter(xp, kind, x, index, update):
    if xp is np:
        out = x.copy()
        if kind == "set":
            out[index] = update
        else:
            np.add.at(out, index, update if kind == "add" else -update)
        return out
    at = x.at[index]
    return at.set(update) if kind == "set" else at.add(update if kind == "add" else -update)


def _argmax2(xp, x):
    """argmax over the last two axes, as (row, column) stacked last."""
    b, h, w = x.shape
    flat = xp.argmax(xp.reshape(x, (b, h * w)), axis=1)
    return xp.stack([flat // w, flat % w], axis=1)


x4 = normal(0, 2, 3, 4, 5)  # b h w c
x3 = normal(1, 2, 6, 4)  # a b c
x2 = normal(2, 3, 4)
w45 = normal(3, 4, 5)
w56 = normal(4, 5, 6)
q = normal(5, 2, 3, 8)  # b q (h c)
k = normal(6, 2, 5, 8)  # b k (h c)
table = normal(7, 10, 4)  # v c
ids = ints(8, 10, 2, 3)  # b t
mask = normal(9, 2, 6, 4) > 0
positive = np.abs(normal(10, 2, 3, 4)) + 0.5
sparse = np.where(normal(11, 3, 5) > 0.3, normal(12, 3, 5), 0).astype(np.float32)
distinct = (permutation(13, 24).reshape(2, 12).astype(np.float32) - 11.5) / 4
image = normal(14, 5, 6, 3)  # h w c
points = np.stack([ints(15, 5, 2, 7), ints(16, 6, 2, 7)], axis=-1)  # b p [2]
rows = permutation(17, 10)[:6]  # unique rows for set_at
repeats = np.array([1, 4, 1, 0, 4, 4], np.int32)  # repeated rows for add_at

CASES = [
    # -- rearrange
    Case("rearrange-transpose", lambda x: ein.rearrange("b h w c -> b c h w", x),
         lambda xp, x: xp.transpose(x, (0, 3, 1, 2)), (x4,), (0,)),
    Case("rearrange-merge", lambda x: ein.rearrange("b h w c -> b (h w) c", x),
         lambda xp, x: xp.reshape(x, (2, 12, 5)), (x4,), (0,)),
    Case("rearrange-split", lambda x: ein.rearrange("a (s t) c -> a s t c", x, t=2),
         lambda xp, x: xp.reshape(x, (2, 3, 2, 4)), (x3,), (0,)),
    Case("rearrange-ellipsis", lambda x: ein.rearrange("b ... c -> b c ...", x),
         lambda xp, x: xp.moveaxis(x, -1, 1), (x4,), (0,)),
    Case("rearrange-concat", lambda x, y: ein.rearrange("a c, a b c -> a (1 + b) c", y, x),
         lambda xp, x, y: xp.concatenate([y[:, None], x], axis=1), (x3, x3[:, 0] * 2), (0, 1)),
    Case("rearrange-split-concat", lambda x: ein.rearrange("a (b + c) d -> a b d, a c d", x,
                                                              b=2),
         lambda xp, x: (x[:, :2], x[:, 2:]), (x3,), (0,)),
    Case("rearrange-diagonal", lambda x: ein.rearrange("a a -> a", x),
         lambda xp, x: xp.diagonal(x), (normal(18, 4, 4),), (0,)),
    Case("rearrange-broadcast", lambda x: ein.rearrange("a c -> a b c", x, b=3),
         lambda xp, x: xp.broadcast_to(x[:, None], (3, 3, 4)), (x2,), (0,)),
    Case("rearrange-unit-axes", lambda x: ein.rearrange("a 1 c -> c a 1", x),
         lambda xp, x: xp.transpose(x, (2, 0, 1)), (x2[:, None],), (0,)),
    # -- every reduction
    Case("sum-bracket", lambda x: ein.sum("a [b] c", x),
         lambda xp, x: xp.sum(x, axis=1), (x3,), (0,)),
    Case("mean-output", lambda x: ein.mean("b h w c -> c b", x),
         lambda xp, x: xp.mean(x, axis=(1, 2)).T, (x4,), (0,)),
    Case("var-two-axes", lambda x: ein.var("a [b c]", x),
         lambda xp, x: xp.var(x, axis=(1, 2)), (x3,), (0,)),
    Case("std-keepdims", lambda x: ein.std("a [b] c", x, keepdims=True),
         lambda xp, x: xp.std(x, axis=1, keepdims=True), (x3,), (0,)),
    Case("prod-two-axes", lambda x: ein.prod("[a] b [c]", x),
         lambda xp, x: xp.prod(x, axis=(0, 2)), (positive,), (0,)),
    Case("max-composition", lambda x: ein.max("a (b [c])", x, c=2),
         lambda xp, x: xp.max(xp.reshape(x, (2, 12, 2)), axis=2), (normal(19, 2, 24),), (0,)),
    Case("min-ellipsis", lambda x: ein.min("b [s...] c", x),
         lambda xp, x: xp.min(x, axis=(1, 2)), (x4,), (0,)),
    Case("logsumexp", lambda x: ein.logsumexp("a [b] c", x),
         lambda xp, x: _logsumexp(xp, x, 1), (x3,), (0,)),
    Case("any", lambda m: ein.any("a [b] c", m),
         lambda xp, m: xp.any(m, axis=1), (mask,)),
    Case("all", lambda m: ein.all("a b c -> c", m),
         lambda xp, m: xp.all(m, axis=(0, 1)), (mask,)),
    Case("count-nonzero", lambda x: ein.count_nonzero("a [b]", x),
         lambda xp, x: xp.sum(x != 0, axis=1), (sparse,)),
    # -- dot
    Case("dot-attention-scores", lambda q, k: ein.dot("b q (h c), b k (h c) -> b q k h", q, k,
                                                      h=2),
         lambda xp, q, k: xp.einsum("bqhc,bkhc->bqkh", xp.reshape(q, (2, 3, 2, 4)),
                                    xp.reshape(k, (2, 5, 2, 4))), (q, k), (0, 1)),
    Case("dot-shorthand", lambda x, w: ein.dot("a b [c->d]", x, w),
         lambda xp, x, w: x @ w, (x3, w45), (0, 1)),
    Case("dot-matmul", lambda x, w: ein.dot("a b, b c -> a c", x, w),
         lambda xp, x, w: x @ w, (x2, w45), (0, 1)),
    Case("dot-three", lambda x, v, u: ein.dot("a b, b c, c d -> a d", x, v, u),
         lambda xp, x, v, u: x @ v @ u, (x2, w45, w56), (0, 1, 2)),
    Case("dot-ellipsis-shorthand", lambda x, w: ein.dot("b [s...->t] c", x, w),
         lambda xp, x, w: xp.einsum("bhwc,hwt->btc", x, w), (x4, normal(20, 3, 4, 2)), (0, 1)),
    # -- elementwise
    Case("add-shorthand", lambda x, y: ein.add("b [s c]", x, y),
         lambda xp, x, y: x + y, (x3, x3[0]), (0, 1)),
    Case("multiply-explicit", lambda x, y: ein.multiply("a b c, a c -> a b c", x, y),
         lambda xp, x, y: x * y[:, None], (x3, x3[:, 0]), (0, 1)),
    Case("subtract-outer", lambda x, y: ein.subtract("a, b -> b a", x, y),
         lambda xp, x, y: x[None] - y[:, None], (x2[0], x2[:, 0]), (0, 1)),
    Case("maximum-implied-output", lambda x, y: ein.maximum("a b c, a", x, y),
         lambda xp, x, y: xp.maximum(x, y[:, None, None]), (x3, np.float32([0.1, -0.2])),
         (0, 1)),
    Case("where-scalar", lambda m, x: ein.where("a b c, a b c, ", m, x, 0.0),
         lambda xp, m, x: xp.where(m, x, 0.0), (mask, x3), (1,)),
    Case("less", lambda x, y: ein.less("a b, b", x, y),
         lambda xp, x, y: x < y, (x2, x2[0] * 0.5)),
    # -- indexing
    Case("get-at-embedding", lambda t, i: ein.get_at("[v] c, b s -> b s c", t, i),
         lambda xp, t, i: t[i], (table, ids), (0,)),
    Case("get-at-batch", lambda x, i: ein.get_at("b [t] c, b i -> b i c", x, i),
         lambda xp, x, i: x[xp.arange(2)[:, None], i], (x3, ints(21, 6, 2, 5)), (0,)),
    Case("get-at-2d-coordinates", lambda x, p: ein.get_at("[h w] c, b p [2] -> b p c", x, p),
         lambda xp, x, p: x[p[..., 0], p[..., 1]], (image, points), (0,)),
    Case("get-at-2d-separate", lambda x, i, j: ein.get_at("[h w] c, b p, b p -> b p c", x, i, j),
         lambda xp, x, i, j: x[i, j], (image, points[..., 0], points[..., 1]), (0,)),
    Case("set-at", lambda t, i, u: ein.set_at("[v] c, i, i c", t, i, u),
         lambda xp, t, i, u: _scatter(xp, "set", t, (i,), u), (table, rows, normal(22, 6, 4)),
         (0, 2)),
    Case("add-at-repeats", lambda t, i, u: ein.add_at("[v] c, i, i c", t, i, u),
         lambda xp, t, i, u: _scatter(xp, "add", t, (i,), u),
         (table, repeats, normal(23, 6, 4)), (0, 2)),
    Case("add-at-batch", lambda x, i, u: ein.add_at("b [t] c, b i, b i c", x, i, u),
         lambda xp, x, i, u: _scatter(xp, "add", x, (xp.arange(2)[:, None], i), u),
         (x3, ints(24, 6, 2, 3), normal(25, 2, 3, 4)), (0, 2)),
    Case("subtract-at", lambda t, i, u: ein.subtract_at("[v] c, i, i c", t, i, u),
         lambda xp, t, i, u: _scatter(xp, "subtract", t, (i,), u),
         (table, repeats, normal(26, 6, 4)), (0, 2)),
    # -- along axes
    Case("softmax", lambda x: ein.softmax("a b [c]", x),
         lambda xp, x: _softmax(xp, x, -1), (x3,), (0,)),
    Case("softmax-two-axes", lambda x: ein.softmax("b [h w] c", x),
         lambda xp, x: _softmax(xp, x, (1, 2)), (x4,), (0,)),
    Case("log-softmax-output", lambda x: ein.log_softmax("a [b] c -> a c b", x),
         lambda xp, x: xp.transpose(x - _logsumexp(xp, x, 1)[:, None], (0, 2, 1)), (x3,), (0,)),
    Case("roll", lambda x: ein.roll("a [b] c", x, shift=2),
         lambda xp, x: xp.roll(x, 2, axis=1), (x3,), (0,)),
    Case("roll-two-axes", lambda x: ein.roll("b [h w] c", x, shift=(1, -2)),
         lambda xp, x: xp.roll(x, (1, -2), axis=(1, 2)), (x4,), (0,)),
    Case("flip", lambda x: ein.flip("a [b] c", x),
         lambda xp, x: xp.flip(x, axis=1), (x3,), (0,)),
    Case("flip-two-axes", lambda x: ein.flip("[a] b [c]", x),
         lambda xp, x: xp.flip(x, axis=(0, 2)), (x3,), (0,)),
    Case("sort", lambda x: ein.sort("a [b]", x),
         lambda xp, x: xp.sort(x, axis=1), (distinct,), (0,)),
    Case("argsort", lambda x: ein.argsort("[a] b", x),
         lambda xp, x: xp.argsort(x, axis=0), (distinct.T,)),
    Case("argmax", lambda x: ein.argmax("a [b] c", x),  # a unit coordinate axis (einx 0.4)
         lambda xp, x: xp.argmax(x, axis=1)[:, None], (x3,)),
    Case("argmax-two-axes", lambda x: ein.argmax("b [h w]", x),
         lambda xp, x: _argmax2(xp, x), (x3,)),
    Case("argmin", lambda x: ein.argmin("a b [c] -> a b", x),
         lambda xp, x: xp.argmin(x, axis=2), (x3,)),
]
BY_ID = {case.id: case for case in CASES}


# -- conversions and comparison


def to_jax(value):
    return jnp.asarray(value) if isinstance(value, np.ndarray) else value


def to_torch(value):
    return torch.from_numpy(value.copy()) if isinstance(value, np.ndarray) else value


def as_numpy(value):
    if isinstance(value, (tuple, list)):
        return tuple(as_numpy(v) for v in value)
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def assert_matches(got, want):
    got, want = as_numpy(got), as_numpy(want)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_matches(g, w)
        return
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == bool:
        assert got.dtype == bool
        np.testing.assert_array_equal(got, want)
    elif np.issubdtype(want.dtype, np.integer):
        assert np.issubdtype(got.dtype, np.integer), got.dtype
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def oracle(case):
    return case.ref(np, *case.inputs)


ids_of = [case.id for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_numpy(case):
    got = case.run(*case.inputs)
    assert isinstance(got[0] if isinstance(got, tuple) else got, np.ndarray)
    assert_matches(got, oracle(case))


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_jax_eager(case):
    got = case.run(*map(to_jax, case.inputs))
    assert isinstance(got[0] if isinstance(got, tuple) else got, jax.Array)
    assert_matches(got, oracle(case))


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_jax_jit(case):
    tensors = [i for i, v in enumerate(case.inputs) if isinstance(v, np.ndarray)]
    scalars = {i: v for i, v in enumerate(case.inputs) if i not in tensors}

    def call(*arrays):
        values = dict(zip(tensors, arrays), **scalars)
        return case.run(*[values[i] for i in range(len(case.inputs))])

    got = jax.jit(call)(*[to_jax(case.inputs[i]) for i in tensors])
    assert_matches(got, oracle(case))


GRAD_CASES = [case for case in CASES if case.grad]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_jax_grad_matches_hand_written(case):
    """d/dx Σ cotangent * f(x): the ein op against the hand-written jnp function."""
    want = oracle(case)
    outputs = want if isinstance(want, tuple) else (want,)
    cotangents = [normal(100 + i, *np.shape(o)) for i, o in enumerate(outputs)]
    inputs = [to_jax(v) for v in case.inputs]

    def loss(function):
        def scalar(*differentiated):
            values = list(inputs)
            for position, value in zip(case.grad, differentiated):
                values[position] = value
            out = function(*values)
            out = out if isinstance(out, tuple) else (out,)
            return sum(jnp.sum(o * c) for o, c in zip(out, cotangents))

        return scalar

    arguments = [inputs[i] for i in case.grad]
    argnums = tuple(range(len(case.grad)))
    got = jax.jit(jax.grad(loss(case.run), argnums=argnums))(*arguments)
    expected = jax.jit(jax.grad(loss(lambda *v: case.ref(jnp, *v)), argnums=argnums))(
        *arguments)
    for g, e in zip(got, expected):
        assert np.abs(np.asarray(e)).sum() > 0  # the check is not vacuous
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=RTOL, atol=ATOL)


def _batched(value, seed):
    """Two different copies of an input stacked on a new leading axis."""
    if value.dtype == bool:
        other = ~value
    elif np.issubdtype(value.dtype, np.integer):
        other = value[::-1].copy() if value.ndim else value
    else:
        other = value * 1.5 + 0.25 * normal(seed, *value.shape)
        if value.min() > 0:  # keep positive inputs positive (prod)
            other = np.abs(other) + 0.5
    return np.stack([value, other.astype(value.dtype)])


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_jax_vmap_over_every_input(case):
    """vmap of the op equals the op on each slice (NumPy oracle per slice)."""
    batched = [_batched(v, 200 + i) if isinstance(v, np.ndarray) else v
               for i, v in enumerate(case.inputs)]
    axes = [0 if isinstance(v, np.ndarray) else None for v in case.inputs]
    got = jax.vmap(case.run, in_axes=axes)(*map(to_jax, batched))
    slices = [case.ref(np, *[b[n] if a == 0 else b for b, a in zip(batched, axes)])
              for n in range(2)]
    if isinstance(slices[0], tuple):
        want = tuple(np.stack(parts) for parts in zip(*slices))
    else:
        want = np.stack(slices)
    assert_matches(got, want)


# vmapped call vs the same op written with one more axis: (call under vmap, batched call,
# inputs, in_axes)
VMAP_AXIS = [
    ("rearrange", lambda x: ein.rearrange("h w c -> c (h w)", x),
     lambda x: ein.rearrange("n h w c -> n c (h w)", x), (x4,), (0,)),
    ("sum", lambda x: ein.sum("b [c]", x), lambda x: ein.sum("n b [c]", x), (x3,), (0,)),
    ("dot-shared-weight", lambda x, w: ein.dot("t [c->d]", x, w),
     lambda x, w: ein.dot("n t [c->d]", x, w), (x3, w45), (0, None)),
    ("add-shorthand", lambda x, b: ein.add("t [c]", x, b),
     lambda x, b: ein.add("n t [c]", x, b), (x3, x3[0, 0]), (0, None)),
    ("get-at-batched-ids", lambda t, i: ein.get_at("[v] c, s -> s c", t, i),
     lambda t, i: ein.get_at("[v] c, n s -> n s c", t, i), (table, ids), (None, 0)),
    ("get-at-batched-table", lambda t, i: ein.get_at("[v] c, s -> s c", t, i),
     lambda t, i: ein.get_at("n [v] c, n s -> n s c", t, i), (x3, ints(27, 6, 2, 3)), (0, 0)),
    ("set-at", lambda t, i, u: ein.set_at("[v] c, s, s c", t, i, u),
     lambda t, i, u: ein.set_at("n [v] c, s, n s c", t, i, u),
     (x3, rows[:3] % 6, normal(28, 2, 3, 4)), (0, None, 0)),
    ("softmax", lambda x: ein.softmax("q [k]", x), lambda x: ein.softmax("n q [k]", x),
     (x3,), (0,)),
    ("argmax-two-axes", lambda x: ein.argmax("[h w]", x), lambda x: ein.argmax("n [h w]", x),
     (x3,), (0,)),
    ("roll", lambda x: ein.roll("[t] c", x, shift=1), lambda x: ein.roll("n [t] c", x, shift=1),
     (x3,), (0,)),
]


@pytest.mark.parametrize("under, batched, inputs, axes", [pytest.param(*c[1:], id=c[0])
                                                          for c in VMAP_AXIS])
def test_jax_vmap_equals_extra_axis(under, batched, inputs, axes):
    arrays = [jnp.asarray(v) for v in inputs]
    got = jax.vmap(under, in_axes=axes)(*arrays)
    want = batched(*arrays)
    assert got.shape == want.shape
    assert_matches(got, want)
    assert_matches(jax.jit(jax.vmap(under, in_axes=axes))(*arrays), want)


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_torch_eager(case):
    got = case.run(*map(to_torch, case.inputs))
    assert isinstance(got[0] if isinstance(got, tuple) else got, torch.Tensor)
    assert_matches(got, oracle(case))


# compiled with inductor: kept short because compilation is slow on CPU; shapes differ from
# the eager cases so that the plans are built inside the compiled function (a cold call)
COMPILED = [
    Case("compiled-transpose-merge", lambda x: ein.rearrange("b h w c -> b c (h w)", x),
         lambda xp, x: xp.reshape(xp.transpose(x, (0, 3, 1, 2)), (2, 3, 20)),
         (normal(30, 2, 4, 5, 3),)),
    Case("compiled-split-concat", lambda x: ein.rearrange("a (b + c) -> a b, a c", x, b=1),
         lambda xp, x: (x[:, :1], x[:, 1:]), (normal(31, 3, 7),)),
    Case("compiled-mean", lambda x: ein.mean("a [b c]", x),
         lambda xp, x: xp.mean(x, axis=(1, 2)), (normal(32, 3, 5, 2),)),
    Case("compiled-dot", lambda q, k: ein.dot("b q (h c), b k (h c) -> b h q k", q, k, h=2),
         lambda xp, q, k: np.einsum("bqhc,bkhc->bhqk", q.reshape(1, 3, 2, 2),
                                    k.reshape(1, 4, 2, 2)),
         (normal(33, 1, 3, 4), normal(34, 1, 4, 4))),
    Case("compiled-add-shorthand", lambda x, y: ein.add("b [t c]", x, y),
         lambda xp, x, y: x + y, (normal(35, 2, 5, 3), normal(36, 5, 3))),
    Case("compiled-get-at", lambda t, i: ein.get_at("[v] c, b s -> b s c", t, i),
         lambda xp, t, i: t[i], (normal(37, 9, 3), ints(38, 9, 2, 4))),
    Case("compiled-add-at", lambda t, i, u: ein.add_at("[v] c, i, i c", t, i, u),
         lambda xp, t, i, u: _scatter(np, "add", t, (i,), u),
         (normal(39, 5, 2), np.array([0, 3, 3], np.int32), normal(40, 3, 2))),
    Case("compiled-softmax-two-axes", lambda x: ein.softmax("b [h w]", x),
         lambda xp, x: _softmax(xp, x, (1, 2)), (normal(41, 3, 2, 5),)),
    Case("compiled-argmax-two-axes", lambda x: ein.argmax("b [h w]", x),
         lambda xp, x: _argmax2(xp, x), (normal(42, 3, 4, 2),)),
]


@pytest.fixture(scope="module")
def torch_backend_loaded():
    """The PyTorch backend registers the ops with torch.compile when it loads: on the first
    eager call with a PyTorch tensor, or at `import levante.ein` when torch came first (see
    test_compile_first_call_after_importing_torch_first)."""
    ein.rearrange("a -> a", torch.zeros(1))


@pytest.mark.parametrize("case", COMPILED, ids=[c.id for c in COMPILED])
def test_torch_compile_fullgraph(case, torch_backend_loaded):
    torch._dynamo.reset()
    compiled = torch.compile(case.run, fullgraph=True)
    got = compiled(*map(to_torch, case.inputs))
    assert_matches(got, oracle(case))
    assert_matches(compiled(*map(to_torch, case.inputs)), oracle(case))  # warm call


def test_compile_first_call_after_importing_torch_first():
    """A fresh process: torch, then levante.ein, then a compiled function whose first call
    builds the plans. fullgraph=True fails on any graph break."""
    code = (
        "import torch\n"
        "from levante import ein\n"
        "x, w = torch.randn(2, 3, 4), torch.randn(4, 5)\n"
        "f = lambda x, w: ein.dot('a b [c->d]', ein.softmax('a [b] c', x), w)\n"
        "got = torch.compile(f, fullgraph=True, backend='aot_eager')(x, w)\n"
        "want = torch.softmax(x, dim=1) @ w\n"
        "assert torch.allclose(got, want, atol=1e-5), (got, want)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("expression, sizes, want", [
    ("n", {"n": 5}, np.arange(5)),
    ("h w [2]", {"h": 2, "w": 3}, np.stack(np.meshgrid(np.arange(2), np.arange(3),
                                                       indexing="ij"), -1)),
    ("(h w) [2]", {"h": 2, "w": 2}, np.array([[0, 0], [0, 1], [1, 0], [1, 1]])),
])
def test_arange(backend, expression, sizes, want):
    got = ein.arange(expression, backend=backend, **sizes)
    expected_type = {"numpy": np.ndarray, "jax": jax.Array, "torch": torch.Tensor}[backend]
    assert isinstance(got, expected_type)
    assert_matches(got, want)
    if backend == "jax":
        assert_matches(jax.jit(lambda: ein.arange(expression, backend="jax", **sizes))(), want)


def test_arange_float_dtype_on_every_backend():
    for backend in ("numpy", "jax", "torch"):
        got = as_numpy(ein.arange("n", backend=backend, dtype="float32", n=3))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, [0.0, 1.0, 2.0])


ARANGE_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64"]


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("dtype", ARANGE_DTYPES + [np.int16, np.dtype("uint8"), "i2", "f8"])
def test_arange_takes_every_integer_and_float_dtype(backend, dtype):
    """Any NumPy name or type of an integer or float dtype, on every backend (PyTorch has no
    range of the wider unsigned dtypes, made as int32 and converted)."""
    want = np.dtype(dtype)
    got = as_numpy(ein.arange("h w [2]", backend=backend, dtype=dtype, h=2, w=3))
    if backend == "jax" and want.itemsize == 8:  # without x64, JAX makes 32-bit arrays
        want = np.dtype(want.kind + "4")
    assert got.dtype == want
    np.testing.assert_array_equal(got, np.stack(np.meshgrid(np.arange(2), np.arange(3),
                                                            indexing="ij"), -1))
    source = ein.explain("arange", "n", n=3, dtype=dtype, backend=backend)
    assert np.dtype(dtype).name in source


@pytest.mark.parametrize("sizes, dtype, says", [
    ({"n": 2**62}, "int32", "axis `n` has size 4611686018427387904"),
    ({"n": 2**62}, "int64", "more than any array can hold: n=4611686018427387904"),
    ({"n": 2**31 + 1}, "int32", "up to 2147483648 are not exact in int32"),
    ({"n": 300}, "int8", "up to 299 are not exact in int8 (at most 127)"),
    ({"n": 2050}, "float16", "up to 2049 are not exact in float16 (at most 2048)"),
])
def test_arange_refuses_coordinates_its_dtype_cannot_hold(sizes, dtype, says):
    with pytest.raises(ein.NotationSizeError, match=re.escape(says)):
        ein.arange("n", dtype=dtype, **sizes)
    np.testing.assert_array_equal(ein.arange("n", n=2049, dtype="float16")[-2:], [2047, 2048])


@pytest.mark.parametrize("dtype", ["bool", "complex64", "datetime64", "nonsense", bool])
def test_arange_refuses_other_dtypes(dtype):
    with pytest.raises(ein.NotationError, match="an integer or float dtype"):
        ein.arange("n", n=3, dtype=dtype)


def test_cases_cover_every_op_family():
    """The registry of cases covers every op family named in the brief."""
    families = {case.id.split("-")[0] for case in CASES}
    assert {"rearrange", "sum", "mean", "var", "std", "prod", "max", "min", "logsumexp", "any",
            "all", "count", "dot", "add", "multiply", "subtract", "maximum", "where", "less",
            "get", "set", "softmax", "log", "roll", "flip", "sort", "argsort", "argmax",
            "argmin"} <= families
