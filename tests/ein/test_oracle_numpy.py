"""Oracle tests: `levante.ein` on NumPy against independent implementations.

Every case is checked against an oracle written by hand with NumPy primitives (transpose,
reshape, concatenate, einsum, the reductions, explicit loops for indexing): none of them
goes through levante's parser or planner, so a bug there cannot hide on both sides of an
assertion. Where the notations overlap, the same case is also run through einops and einx
0.4 (which renamed `rearrange` to `einx.id` and dropped `arange` and the bracket shorthands
of `dot` and the elementwise ops: those are checked against NumPy alone).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable
from typing import NamedTuple

import einops
import einx
import numpy as np
import pytest

from levante import ein

# ---------------------------------------------------------------- helpers


class Case(NamedTuple):
    expr: str
    shapes: list  # operand shapes; None stands for a Python scalar
    sizes: dict
    oracle: Callable  # numpy operands -> expected result (or tuple of results)
    libs: frozenset = frozenset()  # which other libraries understand the expression


def seed_of(*parts):
    """A stable seed per case, so that every case draws different data."""
    return zlib.crc32(repr(parts).encode())


def make(shape, seed, kind="float"):
    """Test data of a kind that suits the op (no zero divisors, no ties where they matter)."""
    rng = np.random.default_rng(seed)
    if kind == "float":
        return rng.normal(size=shape)
    if kind == "positive":
        return rng.uniform(0.5, 1.5, size=shape)
    if kind == "bool":
        return rng.random(size=shape) > 0.5
    if kind == "int":
        return rng.integers(-2, 3, size=shape)
    if kind == "distinct":
        return rng.permutation(math.prod(shape)).reshape(shape).astype(float)
    raise ValueError(kind)


def operands(case, seed, kind="float", scalar=1.5):
    return [scalar if s is None else make(s, seed + i, kind) for i, s in enumerate(case.shapes)]


def assert_same(got, want, exact=True):
    """Equal values, shapes and dtypes."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w, exact)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def ids(cases):
    return [f"{c.expr}|{c.shapes}|{c.sizes}" for c in cases]


# ---------------------------------------------------------------- rearrange

SIZES4 = dict(zip("abcd", (2, 3, 4, 5)))
SHAPE4 = tuple(SIZES4.values())


def contiguous_groupings(items):
    """Every way to cut `items` into consecutive groups: [[a, b], [c], [d]], ..."""
    for cuts in itertools.product([False, True], repeat=len(items) - 1):
        groups, current = [], [items[0]]
        for item, cut in zip(items[1:], cuts):
            if cut:
                groups.append(current)
                current = [item]
            else:
                current.append(item)
        groups.append(current)
        yield groups


def written(groups):
    return " ".join(g[0] if len(g) == 1 else "(" + " ".join(g) + ")" for g in groups)


def permutation_cases():
    for perm in itertools.permutations(range(4)):
        out = " ".join("abcd"[p] for p in perm)
        yield Case(f"a b c d -> {out}", [SHAPE4], {},
                   lambda x, perm=perm: x.transpose(perm),
                   frozenset({"einops", "einx"}))


def composition_cases():
    """Transpose then group (compose), and the inverse: split then transpose."""
    perms = list(itertools.permutations("abcd"))[::6]  # 4 of the 24 orders
    for perm in perms:
        order = ["abcd".index(n) for n in perm]
        for groups in contiguous_groupings(list(perm)):
            lengths = [math.prod(SIZES4[n] for n in g) for g in groups]
            yield Case(f"a b c d -> {written(groups)}", [SHAPE4], {},
                       lambda x, order=order, lengths=lengths: x.transpose(order).reshape(lengths),
                       frozenset({"einops", "einx"}))
            # the last axis of each group is left for the solver
            given = {n: SIZES4[n] for g in groups for n in g[:-1]}
            inverse = list(np.argsort(order))
            yield Case(f"{written(groups)} -> a b c d", [tuple(lengths)], given,
                       lambda x, perm=perm, inverse=inverse: x.reshape(
                           [SIZES4[n] for n in perm]).transpose(inverse),
                       frozenset({"einops", "einx"}))


def ellipsis_cases():
    for rank in range(1, 5):
        shape = SHAPE4[4 - rank:]
        yield Case("... c -> c ...", [shape], {}, lambda x: np.moveaxis(x, -1, 0),
                   frozenset({"einops", "einx"}))
        yield Case("a ... -> ... a", [shape], {}, lambda x: np.moveaxis(x, 0, -1),
                   frozenset({"einops", "einx"}))
        yield Case("a ... -> a (...)", [shape], {},
                   lambda x: x.reshape(x.shape[0], -1), frozenset({"einx"}))
    for rank in range(2, 6):
        shape = (2, 3, 4, 5, 3)[:rank]
        yield Case("a s... d -> a d s...", [shape], {},
                   lambda x: np.moveaxis(x, -1, 1), frozenset({"einx"}))
        yield Case("s... -> (s...)", [shape], {}, lambda x: x.reshape(-1), frozenset({"einx"}))
        yield Case("a s... -> s... a", [shape], {}, lambda x: np.moveaxis(x, 0, -1),
                   frozenset({"einx"}))
    # groups under a named ellipsis: split each spatial axis into (s ds)
    split = lambda x: x.reshape(2, 3, 2, 4, 2, 5).transpose(0, 1, 3, 2, 4, 5)
    yield Case("b (s ds)... c -> b s... ds... c", [(2, 6, 8, 5)], {"ds": 2}, split,
               frozenset({"einx"}))
    yield Case("b (s ds)... c -> b s... ds... c", [(2, 6, 8, 5)], {"ds": (2, 2)}, split,
               frozenset({"einx"}))
    yield Case("b (s ds)... c -> b (s...) (ds... c)", [(2, 6, 8, 5)], {"s": (3, 4)},
               lambda x: split(x).reshape(2, 12, 20), frozenset({"einx"}))
    yield Case("b s... ds... c -> b (s ds)... c", [(2, 3, 4, 2, 2, 5)], {"s": (3, 4)},
               lambda x: x.transpose(0, 1, 3, 2, 4, 5).reshape(2, 6, 8, 5),
               frozenset({"einx"}))
    yield Case("b s... c -> b (s...) c", [(2, 3, 4, 5)], {},
               lambda x: x.reshape(2, 12, 5), frozenset({"einx"}))
    yield Case("b (s...) c -> b s... c", [(2, 12, 5)], {"s": (3, 4)},
               lambda x: x.reshape(2, 3, 4, 5), frozenset({"einx"}))
    yield Case("b (s...) c -> b s... c", [(2, 12, 5)], {"s": [3, 4]},
               lambda x: x.reshape(2, 3, 4, 5), frozenset({"einx"}))
    yield Case("... -> ...", [(2, 3)], {}, lambda x: x, frozenset({"einops", "einx"}))
    yield Case("... -> ...", [()], {}, lambda x: x, frozenset({"einx"}))


def unit_and_broadcast_cases():
    yield Case("a b -> a 1 b", [(2, 3)], {}, lambda x: x[:, None, :],
               frozenset({"einops", "einx"}))
    yield Case("a 1 b -> a b", [(2, 1, 3)], {}, lambda x: x[:, 0, :],
               frozenset({"einops", "einx"}))
    yield Case("1 a -> a 1", [(1, 3)], {}, lambda x: x.T, frozenset({"einops", "einx"}))
    yield Case("a b -> 1 (a b) 1", [(2, 3)], {}, lambda x: x.reshape(1, 6, 1),
               frozenset({"einops", "einx"}))
    yield Case("a (1 b) -> b a", [(2, 3)], {}, lambda x: x.T, frozenset({"einops", "einx"}))
    yield Case("a b -> (a 1 b)", [(2, 3)], {}, lambda x: x.reshape(6),
               frozenset({"einops", "einx"}))
    yield Case(" -> 1 1", [()], {}, lambda x: x.reshape(1, 1), frozenset({"einx"}))
    yield Case("a b -> a k b", [(2, 3)], {"k": 4},
               lambda x: np.broadcast_to(x[:, None, :], (2, 4, 3)),
               frozenset({"repeat", "einx"}))
    yield Case("a -> (a k)", [(3,)], {"k": 2}, lambda x: np.repeat(x, 2),
               frozenset({"repeat", "einx"}))
    yield Case("a -> (k a)", [(3,)], {"k": 2}, lambda x: np.tile(x, 2),
               frozenset({"repeat", "einx"}))
    yield Case("a b -> b (a k)", [(2, 3)], {"k": 2}, lambda x: np.repeat(x.T, 2, axis=1),
               frozenset({"repeat", "einx"}))
    yield Case(" -> k", [()], {"k": 3}, lambda x: np.broadcast_to(x, (3,)), frozenset({"einx"}))
    yield Case("a -> k a j", [(3,)], {"k": 2, "j": 2},
               lambda x: np.broadcast_to(x[None, :, None], (2, 3, 2)),
               frozenset({"repeat", "einx"}))


def diagonal_cases():
    yield Case("a a -> a", [(3, 3)], {}, np.diagonal, frozenset({"einx"}))
    yield Case("a b a -> b a", [(3, 2, 3)], {},
               lambda x: np.diagonal(x, axis1=0, axis2=2), frozenset({"einx"}))
    yield Case("a a a -> a", [(3, 3, 3)], {}, lambda x: np.einsum("iii->i", x),
               frozenset({"einx"}))
    yield Case("a a -> a k", [(3, 3)], {"k": 2},
               lambda x: np.broadcast_to(np.diagonal(x)[:, None], (3, 2)), frozenset({"einx"}))
    yield Case("(a a) -> a", [(9,)], {"a": 3}, lambda x: np.diagonal(x.reshape(3, 3)),
               frozenset({"einx"}))


def concatenation_cases():
    cat = np.concatenate
    yield Case("a b, a c -> a (b + c)", [(2, 3), (2, 4)], {},
               lambda x, y: cat([x, y], axis=1), frozenset({"einx"}))
    yield Case("a, b -> (a + b)", [(2,), (3,)], {}, lambda x, y: cat([x, y]),
               frozenset({"einx"}))
    yield Case("a b, c b -> (a + c) b", [(2, 3), (4, 3)], {},
               lambda x, y: cat([x, y]), frozenset({"einx"}))
    yield Case("a, b, c -> (a + b + c)", [(2,), (3,), (4,)], {},
               lambda x, y, z: cat([x, y, z]), frozenset({"einx"}))
    yield Case("a b, a c -> (b + c) a", [(2, 3), (2, 4)], {},
               lambda x, y: cat([x, y], axis=1).T, frozenset({"einx"}))
    yield Case("a, b -> k (a + b)", [(2,), (3,)], {"k": 2},
               lambda x, y: np.broadcast_to(cat([x, y]), (2, 5)), frozenset({"einx"}))
    yield Case("a b, a c, d b, d c -> (a + d) (b + c)", [(2, 3), (2, 4), (5, 3), (5, 4)], {},
               lambda p, q, r, s: np.block([[p, q], [r, s]]), frozenset({"einx"}))
    # splitting: a concatenation in an input
    yield Case("a (b + c) -> a b, a c", [(2, 7)], {"b": 3},
               lambda x: (x[:, :3], x[:, 3:]), frozenset({"einx"}))
    yield Case("(a + b) -> a, b", [(5,)], {"a": 2}, lambda x: (x[:2], x[2:]),
               frozenset({"einx"}))
    yield Case("(a + b) c -> c a, b c", [(5, 3)], {"b": 3},
               lambda x: (x[:2].T, x[2:]), frozenset({"einx"}))
    # a part of several axes is written as a composition (einx 0.4)
    yield Case("((a b) + c) -> a b, c", [(10,)], {"a": 2, "b": 3},
               lambda x: (x[:6].reshape(2, 3), x[6:]), frozenset({"einx"}))
    yield Case("(a + a) -> a, a", [(6,)], {}, lambda x: (x[:3], x[3:]), frozenset({"einx"}))
    # the class token: one vector per batch entry in front of the flattened grid (the
    # operands in the order of the parts, as einx 0.4 pairs them)
    for shape in [(2, 3, 4, 5), (2, 3, 5), (2, 2, 2, 2, 5)]:
        yield Case("c, b s... c -> b (1 + (s...)) c", [(5,), shape], {},
                   lambda t, x: cat([np.broadcast_to(t, (x.shape[0], 1, 5)),
                                     x.reshape(x.shape[0], -1, 5)], axis=1),
                   frozenset({"einx"}))
    yield Case("b (1 + s) c -> b c, b s c", [(2, 4, 5)], {},
               lambda x: (x[:, 0], x[:, 1:]), frozenset({"einx"}))


def multiple_output_cases():
    yield Case("a b, c -> b a, c", [(2, 3), (4,)], {}, lambda x, y: (x.T, y),
               frozenset({"einx"}))
    yield Case("a b, c d -> (a b), d c", [(2, 3), (4, 5)], {},
               lambda x, y: (x.reshape(6), y.T), frozenset({"einx"}))
    yield Case("a, b -> a k, (k b)", [(2,), (3,)], {"k": 2},
               lambda x, y: (np.broadcast_to(x[:, None], (2, 2)), np.tile(y, 2)),
               frozenset({"einx"}))


REARRANGE_CASES = [
    *permutation_cases(),
    *composition_cases(),
    *ellipsis_cases(),
    *unit_and_broadcast_cases(),
    *diagonal_cases(),
    *concatenation_cases(),
    *multiple_output_cases(),
]


@pytest.mark.parametrize("case", REARRANGE_CASES, ids=ids(REARRANGE_CASES))
def test_rearrange_against_numpy(case):
    xs = operands(case, seed_of(case.expr))
    assert_same(ein.rearrange(case.expr, *xs, **case.sizes), case.oracle(*xs))


EINOPS_REARRANGE = [c for c in REARRANGE_CASES if {"einops", "repeat"} & c.libs]


@pytest.mark.parametrize("case", EINOPS_REARRANGE, ids=ids(EINOPS_REARRANGE))
def test_rearrange_against_einops(case):
    (x,) = operands(case, seed_of(case.expr))
    theirs = einops.repeat if "repeat" in case.libs else einops.rearrange
    assert_same(ein.rearrange(case.expr, x, **case.sizes), theirs(x, case.expr, **case.sizes))


EINX_REARRANGE = [c for c in REARRANGE_CASES if "einx" in c.libs]


@pytest.mark.parametrize("case", EINX_REARRANGE, ids=ids(EINX_REARRANGE))
def test_rearrange_against_einx(case):
    xs = operands(case, seed_of(case.expr))
    assert_same(ein.rearrange(case.expr, *xs, **case.sizes),
                einx.id(case.expr, *xs, **case.sizes))


def test_id_is_rearrange():
    x = make((2, 3), 0)
    assert_same(ein.id("a b -> b a", x), x.T)


# ---------------------------------------------------------------- reductions


def _logsumexp(x, axis, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


REDUCERS = {
    "sum": np.sum,
    "mean": np.mean,
    "var": np.var,
    "std": np.std,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
    "logsumexp": _logsumexp,
    "any": np.any,
    "all": np.all,
    "count_nonzero": np.count_nonzero,
}
DATA_FOR = {"prod": "positive", "any": "bool", "all": "bool", "count_nonzero": "int"}
EINOPS_REDUCERS = {"sum", "mean", "max", "min", "prod", "any", "all"}


class ReducePattern(NamedTuple):
    expr: str
    shape: tuple
    sizes: dict
    oracle: Callable  # (x, reducer) -> expected
    keepdims: bool = False
    einx: bool = True


def _r(axes, then=lambda y: y):
    return lambda x, f: then(f(x, axis=axes))


REDUCE_PATTERNS = [
    ReducePattern("a [b] c", (2, 3, 4), {}, _r((1,))),
    ReducePattern("[a] b c", (2, 3, 4), {}, _r((0,))),
    ReducePattern("a b [c]", (2, 3, 4), {}, _r((2,))),
    ReducePattern("[a b] c", (2, 3, 4), {}, _r((0, 1))),
    ReducePattern("a [b c]", (2, 3, 4), {}, _r((1, 2))),
    ReducePattern("[a] b [c]", (2, 3, 4), {}, _r((0, 2))),
    ReducePattern("[a b c]", (2, 3, 4), {}, _r((0, 1, 2))),
    ReducePattern("... [c]", (2, 3, 4, 5), {}, _r((3,))),
    ReducePattern("[...] c", (2, 3, 4), {}, _r((0, 1))),
    ReducePattern("b [s...] c", (2, 3, 4, 5), {}, _r((1, 2))),
    ReducePattern("b [s]... c", (2, 3, 4, 5), {}, _r((1, 2))),
    ReducePattern("b (s [ds])... c", (2, 6, 8, 5), {"ds": 2},
                  lambda x, f: f(x.reshape(2, 3, 2, 4, 2, 5), axis=(2, 4))),
    ReducePattern("b ([s] ds)... c", (2, 6, 8, 5), {"ds": 2},
                  lambda x, f: f(x.reshape(2, 3, 2, 4, 2, 5), axis=(1, 3))),
    ReducePattern("([a] b) c", (6, 4), {"b": 3},
                  lambda x, f: f(x.reshape(2, 3, 4), axis=0)),
    ReducePattern("a b c -> a", (2, 3, 4), {}, _r((1, 2))),
    ReducePattern("a b c -> c a", (2, 3, 4), {}, _r((1,), lambda y: y.T)),
    ReducePattern("a b c -> (c a)", (2, 3, 4), {}, _r((1,), lambda y: y.T.reshape(-1))),
    ReducePattern("a b -> ", (2, 3), {}, _r((0, 1))),
    ReducePattern("a [b] c -> c a", (2, 3, 4), {}, _r((1,), lambda y: y.T)),
    ReducePattern("a [b] c -> a 1 c", (2, 3, 4), {}, _r((1,), lambda y: y[:, None])),
    ReducePattern("(a b) c -> b", (6, 4), {"a": 2},
                  lambda x, f: f(x.reshape(2, 3, 4), axis=(0, 2))),
    ReducePattern("a [b] c", (2, 3, 4), {}, lambda x, f: f(x, axis=(1,), keepdims=True),
                  keepdims=True, einx=False),
    ReducePattern("[a] b [c]", (2, 3, 4), {},
                  lambda x, f: f(x, axis=(0, 2), keepdims=True), keepdims=True, einx=False),
    ReducePattern("b (s [ds]) c", (2, 6, 5), {"ds": 2},
                  lambda x, f: f(x.reshape(2, 3, 2, 5), axis=2), keepdims=True, einx=False),
]
REDUCE_CASES = [(kind, p) for kind in REDUCERS for p in REDUCE_PATTERNS]


def reduce_id(item):
    kind, p = item
    return f"{kind}:{p.expr}{':keepdims' if p.keepdims else ''}"


def reduce_data(kind, p):
    return make(p.shape, seed_of(kind, p.expr), DATA_FOR.get(kind, "float"))


@pytest.mark.parametrize("item", REDUCE_CASES, ids=[reduce_id(i) for i in REDUCE_CASES])
def test_reduction_against_numpy(item):
    kind, p = item
    x = reduce_data(kind, p)
    got = getattr(ein, kind)(p.expr, x, keepdims=p.keepdims, **p.sizes)
    assert_same(got, p.oracle(x, REDUCERS[kind]), exact=False)


# einx parses every reduction alike, so a few kinds check the notation; NumPy checks all
EINX_REDUCE = [i for i in REDUCE_CASES
               if i[1].einx and i[0] in ("sum", "var", "logsumexp", "count_nonzero")]


@pytest.mark.parametrize("item", EINX_REDUCE, ids=[reduce_id(i) for i in EINX_REDUCE])
def test_reduction_against_einx(item):
    kind, p = item
    x = reduce_data(kind, p)
    got = getattr(ein, kind)(p.expr, x, **p.sizes)
    assert_same(got, getattr(einx, kind)(p.expr, x, **p.sizes), exact=False)


EINOPS_REDUCE = [i for i in REDUCE_CASES
                 if i[0] in EINOPS_REDUCERS and "[" not in i[1].expr and "->" in i[1].expr]


@pytest.mark.parametrize("item", EINOPS_REDUCE, ids=[reduce_id(i) for i in EINOPS_REDUCE])
def test_reduction_against_einops(item):
    kind, p = item
    x = reduce_data(kind, p)
    got = getattr(ein, kind)(p.expr, x, **p.sizes)
    assert_same(got, einops.reduce(x, p.expr, kind, **p.sizes), exact=False)


def test_logsumexp_is_stable():
    # exp(1000) overflows; the stable form subtracts the maximum first
    x = np.array([[1000.0, 1000.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(ein.logsumexp("a [b]", x), [1000 + np.log(2), -1000 + np.log(2)])


def test_reductions_of_integers_keep_numpy_dtypes():
    x = np.arange(12).reshape(3, 4)
    assert ein.sum("a [b]", x).dtype == x.sum(axis=1).dtype
    assert ein.max("[a] b", x).dtype == x.dtype
    assert_same(ein.count_nonzero("[a b]", x), np.count_nonzero(x))


@pytest.mark.parametrize("expr,kwargs", [
    ("a b", {}),  # nothing to reduce: no brackets, no output
    ("a b -> a b", {}),  # every axis is kept
    ("a [b] -> a b", {}),  # bracketed and kept
    ("a b -> a", {"keepdims": True}),  # keepdims goes with brackets
    ("a [b], a -> a", {}),  # one operand
    ("a [b] -> a, a", {}),  # one output
    ("a [b] c", {}),  # rank mismatch
])
def test_reduction_errors(expr, kwargs):
    with pytest.raises(ein.NotationError):
        ein.sum(expr, np.ones((2, 3)), **kwargs)


# ---------------------------------------------------------------- dot


def einsum(spec):
    return lambda *xs: np.einsum(spec, *xs)


DOT_CASES = [
    Case("a b, b c -> a c", [(2, 3), (3, 4)], {}, einsum("ab,bc->ac"),
         frozenset({"einx", "einops"})),
    Case("a b, b c -> c a", [(2, 3), (3, 4)], {}, einsum("ab,bc->ca"),
         frozenset({"einx", "einops"})),
    Case("a b c, c d -> a b d", [(2, 3, 4), (4, 5)], {}, einsum("abc,cd->abd"),
         frozenset({"einx", "einops"})),
    Case("a, a -> ", [(3,), (3,)], {}, einsum("a,a->"), frozenset({"einx", "einops"})),
    Case("a, b -> a b", [(2,), (3,)], {}, einsum("a,b->ab"), frozenset({"einx", "einops"})),
    Case("a b, b c, c d -> a d", [(2, 3), (3, 4), (4, 5)], {}, einsum("ab,bc,cd->ad"),
         frozenset({"einx", "einops"})),
    Case("a b, a b -> a", [(2, 3), (2, 3)], {}, einsum("ab,ab->a"),
         frozenset({"einx", "einops"})),
    Case("a b, a b -> b", [(2, 3), (2, 3)], {}, einsum("ab,ab->b"),
         frozenset({"einx", "einops"})),
    Case("a b, a b -> ", [(2, 3), (2, 3)], {}, einsum("ab,ab->"),
         frozenset({"einx", "einops"})),
    Case("a b c, a c d, a d e -> a b e", [(2, 3, 4), (2, 4, 5), (2, 5, 3)], {},
         einsum("abc,acd,ade->abe"), frozenset({"einx", "einops"})),
    Case("b q (h c), b k (h c) -> b q k h", [(2, 5, 8), (2, 6, 8)], {"h": 2},
         lambda q, k: np.einsum("bqhc,bkhc->bqkh", q.reshape(2, 5, 2, 4), k.reshape(2, 6, 2, 4)),
         frozenset({"einx"})),
    Case("b q k h, b k (h c) -> b q (h c)", [(2, 5, 6, 2), (2, 6, 8)], {"h": 2},
         lambda a, v: np.einsum("bqkh,bkhc->bqhc", a, v.reshape(2, 6, 2, 4)).reshape(2, 5, 8),
         frozenset({"einx"})),
    Case("(a b), b c -> a c", [(6,), (3, 4)], {"a": 2},
         lambda x, y: x.reshape(2, 3) @ y, frozenset({"einx"})),
    Case("x y, y z -> (x z)", [(2, 3), (3, 4)], {}, lambda x, y: (x @ y).reshape(-1),
         frozenset({"einx"})),
    Case("a b, b -> a k", [(2, 3), (3,)], {"k": 3},
         lambda x, y: np.broadcast_to((x @ y)[:, None], (2, 3)), frozenset({"einx"})),
    Case("a [b], [b] c -> a c", [(2, 3), (3, 4)], {}, einsum("ab,bc->ac"), frozenset({"einx"})),
    Case("[a] b, [a] c -> b c", [(3, 2), (3, 4)], {}, einsum("ab,ac->bc"), frozenset({"einx"})),
    # the shorthand `[left->right]`: the second operand is laid out `left right`
    Case("b [c1->c2]", [(2, 3), (3, 4)], {}, lambda x, w: x @ w),
    Case("b t [c1->c2]", [(2, 3, 4), (4, 5)], {}, lambda x, w: x @ w),
    Case("[a->b]", [(3,), (3, 4)], {}, lambda x, w: x @ w),
    Case("... [c1->c2]", [(2, 3, 4), (4, 5)], {}, lambda x, w: x @ w),
    Case("... [c1->c2]", [(4,), (4, 5)], {}, lambda x, w: x @ w),
    Case("b [s...->s2] c", [(2, 3, 4, 5), (3, 4, 6)], {}, einsum("bxyc,xyz->bzc")),
    Case("b [c->h d]", [(2, 3), (3, 4, 5)], {}, einsum("bc,chd->bhd")),
    Case("b [c d->e]", [(2, 3, 4), (3, 4, 5)], {}, einsum("bcd,cde->be")),
    Case("b [c->] ", [(2, 3), (3,)], {}, lambda x, w: x @ w),
    Case("[c1->c2] b", [(3, 2), (3, 4)], {}, einsum("ab,ac->cb")),
]


@pytest.mark.parametrize("case", DOT_CASES, ids=ids(DOT_CASES))
def test_dot_against_numpy(case):
    xs = operands(case, seed_of(case.expr, case.shapes))
    assert_same(ein.dot(case.expr, *xs, **case.sizes), case.oracle(*xs), exact=False)


EINX_DOT = [c for c in DOT_CASES if "einx" in c.libs]


@pytest.mark.parametrize("case", EINX_DOT, ids=ids(EINX_DOT))
def test_dot_against_einx(case):
    xs = operands(case, seed_of(case.expr, case.shapes))
    assert_same(ein.dot(case.expr, *xs, **case.sizes),
                einx.dot(case.expr, *xs, **case.sizes), exact=False)


EINOPS_DOT = [c for c in DOT_CASES if "einops" in c.libs]


@pytest.mark.parametrize("case", EINOPS_DOT, ids=ids(EINOPS_DOT))
def test_dot_against_einops(case):
    xs = operands(case, seed_of(case.expr, case.shapes))
    assert_same(ein.dot(case.expr, *xs), einops.einsum(*xs, case.expr), exact=False)


@pytest.mark.parametrize("expr,shapes", [
    ("a b, b c", [(2, 3), (3, 4)]),  # no output
    ("a b, b c -> a c, c", [(2, 3), (3, 4)]),  # two outputs
    ("a [b], b c -> a [b]", [(2, 3), (3, 4)]),  # bracket in the output
    ("a [b], b c -> a c", [(2, 3), (3, 4)]),  # b inside and outside brackets
    ("a b, b c -> a c", [(2, 3), (4, 4)]),  # b is 3 and 4
    ("b [c1->c2], x", [(2, 3), (3, 4)]),  # shorthand with a second expression
    ("b [c1->c2]", [(2, 3)]),  # shorthand with one tensor
    ("a b, b c -> a c", [(2, 3)]),  # operand count
])
def test_dot_errors(expr, shapes):
    with pytest.raises(ein.NotationError):
        ein.dot(expr, *[np.ones(s) for s in shapes])


# ---------------------------------------------------------------- elementwise

BINARY = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "true_divide": np.true_divide,
    "floor_divide": np.floor_divide,
    "power": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "equal": np.equal,
    "not_equal": np.not_equal,
}
LOGICAL = {"logical_and", "logical_or"}
COMPARISONS = {"less", "less_equal", "greater", "greater_equal", "equal", "not_equal"}
SCALAR_FOR = {"logical_and": True, "logical_or": False}


def binary_data(op, shapes, seed):
    """Operands that keep the op well defined: positive bases and divisors, ties for ==."""
    if op in LOGICAL:
        kinds = ("bool", "bool")
    elif op in COMPARISONS:
        kinds = ("int", "int")
    elif op == "power":
        kinds = ("positive", "float")
    elif op in ("divide", "true_divide", "floor_divide"):
        kinds = ("float", "positive")
    else:
        kinds = ("float", "float")
    scalar = SCALAR_FOR.get(op, 1 if op in COMPARISONS else 0.75)
    return [scalar if s is None else make(s, seed + i, kind)
            for i, (s, kind) in enumerate(zip(shapes, kinds))]


class Form(NamedTuple):
    expr: str
    shapes: list
    sizes: dict
    oracle: Callable  # (numpy function, x, y) -> expected
    einx: bool = True


BINARY_FORMS = [
    # explicit: one expression per operand, and the output
    Form("a b, b -> a b", [(2, 3), (3,)], {}, lambda f, x, y: f(x, y[None])),
    Form("a, b -> a b", [(2,), (3,)], {}, lambda f, x, y: f(x[:, None], y[None])),
    Form("a b, b a -> b a", [(2, 3), (3, 2)], {}, lambda f, x, y: f(x.T, y)),
    Form("a, a -> a", [(3,), (3,)], {}, lambda f, x, y: f(x, y)),
    Form("a (b c), c -> a b c", [(2, 6), (3,)], {"c": 3},
         lambda f, x, y: f(x.reshape(2, 2, 3), y)),
    Form("a b, a -> (a b)", [(2, 3), (2,)], {}, lambda f, x, y: f(x, y[:, None]).reshape(-1)),
    Form("a, a -> a k", [(2,), (2,)], {"k": 3},
         lambda f, x, y: np.broadcast_to(f(x, y)[:, None], (2, 3))),
    Form("a b, -> b a", [(2, 3), None], {}, lambda f, x, y: f(x, y).T),
    # inferred: the output is the operand that holds every axis
    Form("a b, b", [(2, 3), (3,)], {}, lambda f, x, y: f(x, y[None])),
    Form("b, a b", [(3,), (2, 3)], {}, lambda f, x, y: f(x[None], y)),
    # einx asks for an output here; levante takes the first operand with every axis
    Form("a b, b a -> a b", [(2, 3), (3, 2)], {}, lambda f, x, y: f(x, y.T), einx=False),
    Form("a b, ", [(2, 3), None], {}, lambda f, x, y: f(x, y)),
    Form(", a b", [None, (2, 3)], {}, lambda f, x, y: f(x, y)),
    # the shorthand: the second operand holds the bracketed axes
    Form("a [b]", [(2, 3), (3,)], {}, lambda f, x, y: f(x, y[None]), einx=False),
    Form("... [c]", [(2, 3, 4), (4,)], {}, lambda f, x, y: f(x, y), einx=False),
    Form("b [s... c]", [(2, 3, 4), (3, 4)], {}, lambda f, x, y: f(x, y[None]), einx=False),
    Form("[a] b", [(2, 3), (2,)], {}, lambda f, x, y: f(x, y[:, None]), einx=False),
    Form("b (s [ds])...", [(2, 6, 8), (2, 2)], {"ds": 2},
         lambda f, x, y: f(x.reshape(2, 3, 2, 4, 2), y[:, None, :]).reshape(2, 6, 8),
         einx=False),
]
BINARY_CASES = [(op, form) for op in BINARY for form in BINARY_FORMS]


def binary_id(item):
    op, form = item
    return f"{op}:{form.expr}"


@pytest.mark.parametrize("item", BINARY_CASES, ids=[binary_id(i) for i in BINARY_CASES])
def test_binary_against_numpy(item):
    op, form = item
    x, y = binary_data(op, form.shapes, seed_of(op, form.expr))
    got = getattr(ein, op)(form.expr, x, y, **form.sizes)
    assert_same(got, form.oracle(BINARY[op], x, y), exact=False)


# einx parses every elementwise op alike, so a few ops check the notation; NumPy checks all
EINX_BINARY = [i for i in BINARY_CASES
               if i[1].einx and i[0] in ("add", "floor_divide", "logical_or", "less_equal")]


@pytest.mark.parametrize("item", EINX_BINARY, ids=[binary_id(i) for i in EINX_BINARY])
def test_binary_against_einx(item):
    op, form = item
    x, y = binary_data(op, form.shapes, seed_of(op, form.expr))
    got = getattr(ein, op)(form.expr, x, y, **form.sizes)
    assert_same(got, getattr(einx, op)(form.expr, x, y, **form.sizes), exact=False)


def test_binary_of_two_python_numbers():
    assert_same(ein.add(", ", 1.5, 2.0), 3.5)
    assert_same(ein.multiply(", -> 1", 1.5, 2.0), np.array([3.0]))
    assert_same(ein.add(", -> k", 1.5, 2.0, k=2), np.array([3.5, 3.5]))


WHERE_FORMS = [
    Form("a b, a b, ", [(2, 3), (2, 3), None], {}, lambda c, x, y: np.where(c, x, y)),
    Form("a b, b, a -> a b", [(2, 3), (3,), (2,)], {},
         lambda c, x, y: np.where(c, x[None], y[:, None])),
    Form("a, a b, a b", [(2,), (2, 3), (2, 3)], {}, lambda c, x, y: np.where(c[:, None], x, y)),
    Form("b a, a b, -> a b", [(3, 2), (2, 3), None], {}, lambda c, x, y: np.where(c.T, x, y)),
    Form("a [b]", [(2, 3), (3,), (3,)], {}, lambda c, x, y: np.where(c, x[None], y[None]),
         einx=False),
    Form(", a, a", [None, (3,), (3,)], {}, lambda c, x, y: np.where(c, x, y)),
]


def where_data(form, seed):
    c = True if form.shapes[0] is None else make(form.shapes[0], seed, "bool")
    rest = [0.25 if s is None else make(s, seed + 1 + i) for i, s in enumerate(form.shapes[1:])]
    return [c, *rest]


@pytest.mark.parametrize("form", WHERE_FORMS, ids=[f.expr for f in WHERE_FORMS])
def test_where_against_numpy(form):
    xs = where_data(form, seed_of("where", form.expr))
    assert_same(ein.where(form.expr, *xs, **form.sizes), form.oracle(*xs))


EINX_WHERE = [f for f in WHERE_FORMS if f.einx]


@pytest.mark.parametrize("form", EINX_WHERE, ids=[f.expr for f in EINX_WHERE])
def test_where_against_einx(form):
    xs = where_data(form, seed_of("where", form.expr))
    assert_same(ein.where(form.expr, *xs, **form.sizes), einx.where(form.expr, *xs, **form.sizes))


def test_where_with_a_python_fill_value():
    cond, x = make((2, 3), 1, "bool"), make((2, 3), 2)
    assert_same(ein.where("a b, a b, ", cond, x, 0.0), np.where(cond, x, 0.0))


@pytest.mark.parametrize("expr,sizes,oracle", [
    ("a b", {}, np.logical_not),
    ("a b -> b a", {}, lambda x: np.logical_not(x).T),
    ("a b -> a b k", {"k": 2},
     lambda x: np.broadcast_to(np.logical_not(x)[..., None], (2, 3, 2))),
    ("(a b) -> b a", {"a": 2}, lambda x: np.logical_not(x.reshape(2, 3)).T),
])
def test_logical_not_against_numpy(expr, sizes, oracle):
    x = make((2, 3) if "(" not in expr else (6,), seed_of(expr), "bool")
    assert_same(ein.logical_not(expr, x, **sizes), oracle(x))


@pytest.mark.parametrize("op,expr,shapes", [
    ("add", "a b", [(2, 3), (2, 3)]),  # one expression, no brackets
    ("add", "a, b", [(2,), (3,)]),  # no operand holds every axis
    ("add", "a [b], b", [(2, 3), (3,)]),  # brackets with one expression per operand
    ("add", "a [b] -> a b", [(2, 3), (3,)]),  # brackets with an output
    ("add", "a b, b -> a", [(2, 3), (3,)]),  # an axis missing from the output
    ("add", "a b, b -> a b, a", [(2, 3), (3,)]),  # two outputs
    ("add", "a b, b", [(2, 3), (4,)]),  # b is 3 and 4
    ("add", "a b, b, b", [(2, 3), (3,)]),  # three expressions, two tensors
    ("logical_not", "a b, a b", [(2, 3), (2, 3)]),  # unary op with two tensors
    ("where", "a, a", [(2,), (2,)]),  # ternary op with two tensors
])
def test_elementwise_errors(op, expr, shapes):
    with pytest.raises(ein.NotationError):
        getattr(ein, op)(expr, *[np.ones(s) for s in shapes])


# ---------------------------------------------------------------- indexing


def ints(shape, high, seed, low=0):
    return np.random.default_rng(seed).integers(low, high, size=shape)


def loop_gather_rows(table, ids):
    """`[v] c, b t -> b t c` by an explicit loop."""
    out = np.empty(ids.shape + table.shape[1:], table.dtype)
    for where in np.ndindex(ids.shape):
        out[where] = table[ids[where]]
    return out


def loop_gather_batch(x, idx):
    """`b [t] c, b i -> b i c`: each batch entry indexes its own slice."""
    out = np.empty((x.shape[0], idx.shape[1], x.shape[2]), x.dtype)
    for b, i in np.ndindex(idx.shape):
        out[b, i] = x[b, idx[b, i]]
    return out


def loop_gather_2d(x, rows, cols):
    """`[h w] c, b p, b p -> b p c`."""
    out = np.empty(rows.shape + x.shape[2:], x.dtype)
    for where in np.ndindex(rows.shape):
        out[where] = x[rows[where], cols[where]]
    return out


def test_get_at_table_lookup():
    table, ids = make((7, 3), 1), ints((2, 4), 7, 2)
    want = loop_gather_rows(table, ids)
    assert_same(ein.get_at("[v] c, b t -> b t c", table, ids), want)
    assert_same(ein.get_at("[v] c, b t", table, ids), want)
    assert_same(ein.get_at("[v] c, b t -> c b t", table, ids), want.transpose(2, 0, 1))
    assert_same(einx.get_at("[v] c, b t -> b t c", table, ids), want)


def test_get_at_batch_axes():
    x, idx = make((2, 5, 3), 3), ints((2, 4), 5, 4)
    want = loop_gather_batch(x, idx)
    assert_same(ein.get_at("b [t] c, b i -> b i c", x, idx), want)
    assert_same(ein.get_at("b [t] c, b i", x, idx), want)
    assert_same(einx.get_at("b [t] c, b i -> b i c", x, idx), want)


def test_get_at_one_index_per_batch_entry():
    x, idx = make((2, 5, 3), 5), ints((2,), 5, 6)
    want = np.stack([x[b, idx[b]] for b in range(2)])
    assert_same(ein.get_at("b [t] c, b -> b c", x, idx), want)


def test_get_at_two_axes_coordinate_operand():
    x, coords = make((4, 5, 3), 7), np.stack([ints((2, 6), 4, 8), ints((2, 6), 5, 9)], -1)
    want = loop_gather_2d(x, coords[..., 0], coords[..., 1])
    assert_same(ein.get_at("[h w] c, b p [2] -> b p c", x, coords), want)
    assert_same(ein.get_at("[h w] c, b p [2]", x, coords), want)
    assert_same(einx.get_at("[h w] c, b p [2] -> b p c", x, coords), want)


def test_get_at_two_axes_separate_operands():
    x, rows, cols = make((4, 5, 3), 10), ints((2, 6), 4, 11), ints((2, 6), 5, 12)
    want = loop_gather_2d(x, rows, cols)
    assert_same(ein.get_at("[h w] c, b p, b p -> b p c", x, rows, cols), want)
    assert_same(einx.get_at("[h w] c, b p, b p -> b p c", x, rows, cols), want)


def test_get_at_vector_and_scalar_indices():
    v = make((6,), 13)
    idx = ints((4,), 6, 14)
    assert_same(ein.get_at("[v], i -> i", v, idx), v[idx])
    table = make((6, 3), 15)
    assert_same(ein.get_at("[v] c, -> c", table, 4), table[4])
    assert_same(ein.get_at("[v] c, -> c", table, np.int64(2)), table[2])
    grid = make((4, 5), 16)
    assert_same(ein.get_at("[h w], [2] -> ", grid, np.array([3, 1])), grid[3, 1])


def test_get_at_negative_indices_count_from_the_end_on_numpy():
    table, ids = make((5, 3), 17), -ints((2, 3), 5, 18, low=1)
    assert_same(ein.get_at("[v] c, b t -> b t c", table, ids), table[ids])


def test_get_at_out_of_range_is_a_notation_error():
    # documented: indices lie in [-n, n) whenever they are concrete
    with pytest.raises(ein.NotationError, match="out of range"):
        ein.get_at("[v] c, b t -> b t c", np.ones((5, 3)), np.full((2, 2), 5))


def loop_scatter(kind, x, where, updates):
    """Apply `updates[k]` at `where[k]` one by one: the reference for set/add/subtract."""
    out = x.copy()
    for index, u in zip(where, updates):
        if kind == "set_at":
            out[index] = u
        elif kind == "add_at":
            out[index] = out[index] + u
        else:
            out[index] = out[index] - u
    return out


def distinct_ints(shape, high, seed):
    return np.random.default_rng(seed).permutation(high)[:math.prod(shape)].reshape(shape)


SCATTERS = ("set_at", "add_at", "subtract_at")


@pytest.mark.parametrize("kind", SCATTERS)
def test_scatter_rows(kind):
    x, u = make((8, 3), 20), make((2, 3, 3), 21)
    # set_at with repeated indices is order-dependent, so it gets distinct ones
    ids = distinct_ints((2, 3), 8, 22) if kind == "set_at" else ints((2, 3), 3, 22)
    where = [(ids[b, t],) for b, t in np.ndindex(ids.shape)]
    want = loop_scatter(kind, x, where, [u[b, t] for b, t in np.ndindex(ids.shape)])
    assert_same(getattr(ein, kind)("[v] c, b t, b t c", x, ids, u), want, exact=False)
    assert_same(getattr(ein, kind)("[v] c, b t, b t c -> v c", x, ids, u), want, exact=False)
    assert_same(getattr(einx, kind)("[v] c, b t, b t c -> [v] c", x, ids, u), want, exact=False)


@pytest.mark.parametrize("kind", SCATTERS)
def test_scatter_batch_axes(kind):
    x, u = make((2, 6, 3), 23), make((2, 4, 3), 24)
    ids = (np.stack([distinct_ints((4,), 6, 25 + b) for b in range(2)]) if kind == "set_at"
           else ints((2, 4), 2, 25))
    where = [(b, ids[b, i]) for b, i in np.ndindex(ids.shape)]
    want = loop_scatter(kind, x, where, [u[b, i] for b, i in np.ndindex(ids.shape)])
    assert_same(getattr(ein, kind)("b [t] c, b i, b i c", x, ids, u), want, exact=False)
    assert_same(getattr(einx, kind)("b [t] c, b i, b i c -> b [t] c", x, ids, u), want,
                exact=False)


@pytest.mark.parametrize("kind", SCATTERS)
def test_scatter_two_axes(kind):
    x, u = make((4, 5, 3), 26), make((6, 3), 27)
    flat = distinct_ints((6,), 20, 28) if kind == "set_at" else ints((6,), 3, 28)
    coords = np.stack([flat // 5, flat % 5], -1)
    where = [tuple(c) for c in coords]
    want = loop_scatter(kind, x, where, list(u))
    assert_same(getattr(ein, kind)("[h w] c, p [2], p c", x, coords, u), want, exact=False)
    assert_same(getattr(ein, kind)("[h w] c, p, p, p c", x, coords[:, 0], coords[:, 1], u),
                want, exact=False)


@pytest.mark.parametrize("kind", SCATTERS)
def test_scatter_broadcast_updates(kind):
    # an update without the index axis goes to every indexed position
    x, u = make((5, 3), 29), make((3,), 30)
    ids = np.array([1, 3]) if kind == "set_at" else np.array([1, 1, 3])
    want = loop_scatter(kind, x, [(i,) for i in ids], [u] * len(ids))
    assert_same(getattr(ein, kind)("[v] c, i, c", x, ids, u), want, exact=False)
    want = loop_scatter(kind, x, [(i,) for i in ids], [2.0] * len(ids))
    assert_same(getattr(ein, kind)("[v] c, i, ", x, ids, 2.0), want, exact=False)


def test_add_at_repeated_indices_accumulate():
    got = ein.add_at("[v], i, i", np.zeros(4), np.array([1, 1, 1, 3]), np.array([1.0, 2, 3, 4]))
    assert_same(got, np.array([0.0, 6.0, 0.0, 4.0]))
    got = ein.subtract_at("[v], i, i", np.zeros(3), np.array([2, 2]), np.array([1.0, 2.0]))
    assert_same(got, np.array([0.0, 0.0, -3.0]))


def test_scatter_leaves_the_input_unchanged():
    x = np.zeros((4, 2))
    ein.set_at("[v] c, i, i c", x, np.array([0, 2]), np.ones((2, 2)))
    ein.add_at("[v] c, i, i c", x, np.array([0, 0]), np.ones((2, 2)))
    assert not x.any()


@pytest.mark.parametrize("op,expr,shapes", [
    ("get_at", "v c, b t -> b t c", [(5, 3), (2, 4)]),  # nothing bracketed
    ("get_at", "[v] c", [(5, 3)]),  # no indices
    ("set_at", "[v] c, b t", [(5, 3), (2, 4)]),  # no updates
    ("get_at", "[h w] c, b p [3] -> b p c", [(4, 5, 3), (2, 6, 3)]),  # 2 axes, 3 coordinates
    ("get_at", "[h w] c, b p -> b p c", [(4, 5, 3), (2, 6)]),  # 2 axes, one index operand
    ("set_at", "[v] c, b t, b t z", [(5, 3), (2, 4), (2, 4, 7)]),  # stray update axis
])
def test_indexing_errors(op, expr, shapes):
    xs = [np.zeros(s, int) for s in shapes]
    with pytest.raises(ein.NotationError):
        getattr(ein, op)(expr, *xs)


# ---------------------------------------------------------------- along axes


def softmax_ref(x, axes):
    shifted = np.exp(x - x.max(axis=axes, keepdims=True))
    return shifted / shifted.sum(axis=axes, keepdims=True)


def log_softmax_ref(x, axes):
    return x - np.log(np.exp(x).sum(axis=axes, keepdims=True))


class Along(NamedTuple):
    expr: str
    shape: tuple
    axes: tuple  # the bracketed axes, as NumPy axes of the input
    after: Callable = lambda y: y  # what the output expression does to the result


ALONG = [
    Along("b [k]", (2, 5), (1,)),
    Along("[a] b", (3, 4), (0,)),
    Along("a [b c] d", (2, 3, 4, 5), (1, 2)),
    Along("[a] b [c]", (2, 3, 4), (0, 2)),
    Along("... [c]", (2, 3, 4), (2,)),
    Along("b [s...] c", (2, 3, 4, 5), (1, 2)),
    Along("b [k] -> k b", (2, 5), (1,), lambda y: y.T),
    Along("b q [k] h -> b h q k", (2, 3, 4, 5), (2,), lambda y: y.transpose(0, 3, 1, 2)),
]


@pytest.mark.parametrize("kind,ref", [("softmax", softmax_ref), ("log_softmax", log_softmax_ref)])
@pytest.mark.parametrize("case", ALONG, ids=[c.expr for c in ALONG])
def test_softmax_against_numpy(kind, ref, case):
    x = make(case.shape, seed_of(kind, case.expr))
    got = getattr(ein, kind)(case.expr, x)
    assert_same(got, case.after(ref(x, case.axes)), exact=False)
    if "->" not in case.expr:
        assert_same(got, getattr(einx, kind)(case.expr, x), exact=False)


def test_softmax_inside_a_composition():
    x = make((2, 6), 31)
    want = softmax_ref(x.reshape(2, 2, 3), (2,)).reshape(2, 6)
    assert_same(ein.softmax("b (h [c])", x, h=2), want, exact=False)


def test_softmax_is_stable():
    got = ein.softmax("[k]", np.array([1000.0, 1000.0, -1000.0]))
    np.testing.assert_allclose(got, [0.5, 0.5, 0.0])


ROLL = [
    ("a [b]", (2, 5), 1, (1,)),
    ("a [b]", (2, 5), -2, (1,)),
    ("[a] b", (4, 3), 3, (0,)),
    ("a [b c] d", (2, 3, 4, 5), (1, 2), (1, 2)),
    ("a [b c] d", (2, 3, 4, 5), 2, (1, 2)),
    ("a [b c] d", (2, 3, 4, 5), [-1, 5], (1, 2)),
    ("[a] b [c]", (2, 3, 4), (1, -1), (0, 2)),
]


@pytest.mark.parametrize("expr,shape,shift,axes", ROLL, ids=[f"{r[0]}:{r[2]}" for r in ROLL])
def test_roll_against_numpy(expr, shape, shift, axes):
    x = make(shape, seed_of("roll", expr))
    shifts = (shift,) * len(axes) if isinstance(shift, int) else tuple(shift)
    want = np.roll(x, shifts, axis=axes)
    assert_same(ein.roll(expr, x, shift=shift), want)
    assert_same(einx.roll(expr, x, shift=shift), want)


def test_roll_accepts_numpy_integers():
    x = make((2, 5), 32)
    assert_same(ein.roll("a [b]", x, shift=np.int64(2)), np.roll(x, 2, axis=1))
    assert_same(ein.roll("a [b c]", make((2, 3, 4), 33), shift=(np.int32(1), 2)),
                np.roll(make((2, 3, 4), 33), (1, 2), axis=(1, 2)))


@pytest.mark.parametrize("shift", [None, 1.5, "1", (1,), (1, 2, 3), (1.0, 2)])
def test_roll_bad_shift(shift):
    with pytest.raises(ein.NotationError):
        ein.roll("a [b c]", np.ones((2, 3, 4)), shift=shift)


FLIP = [("a [b]", (2, 5), (1,)), ("[a b]", (2, 5), (0, 1)), ("a [b] [c]", (2, 3, 4), (1, 2)),
        ("[a] b c", (2, 3, 4), (0,)), ("... [c]", (2, 3, 4), (2,))]


@pytest.mark.parametrize("expr,shape,axes", FLIP, ids=[f[0] for f in FLIP])
def test_flip_against_numpy(expr, shape, axes):
    x = make(shape, seed_of("flip", expr))
    assert_same(ein.flip(expr, x), np.flip(x, axis=axes))
    assert_same(einx.flip(expr, x), np.flip(x, axis=axes))


SORT = [("a [b]", (2, 5), 1), ("[a] b", (4, 3), 0), ("a [b] c", (2, 3, 4), 1),
        ("... [c]", (2, 3, 4), 2), ("b [t] -> t b", (2, 5), 1)]


@pytest.mark.parametrize("kind", ["sort", "argsort"])
@pytest.mark.parametrize("expr,shape,axis", SORT, ids=[s[0] for s in SORT])
def test_sort_against_numpy(kind, expr, shape, axis):
    x = make(shape, seed_of(kind, expr), "distinct")  # distinct values: no ties in argsort
    want = getattr(np, kind)(x, axis=axis)
    if "->" in expr:
        want = want.T
    else:
        assert_same(getattr(einx, kind)(expr, x), want)
    assert_same(getattr(ein, kind)(expr, x), want)


ARG_SINGLE = [
    # (expression, shape, axis, the NumPy result laid out as the expression's output)
    ("a [b]", (2, 5), 1, lambda y: y[:, None]),  # a unit coordinate axis, as einx 0.4
    ("[a] b", (4, 3), 0, lambda y: y[None]),
    ("a [b] c", (2, 3, 4), 1, lambda y: y[:, None]),
    ("(a [b]) c", (6, 4), None, lambda y: y),  # (a 1) is a
    ("a [b] -> a", (2, 5), 1, lambda y: y),  # an output without brackets drops it
    ("a [b] c -> c a", (2, 3, 4), 1, lambda y: y.T),
    ("a [b] c -> c a [1]", (2, 3, 4), 1, lambda y: y.T[..., None]),
    ("a [b->1] c", (2, 3, 4), 1, lambda y: y[:, None]),
    ("a [b->] c", (2, 3, 4), 1, lambda y: y),
]


@pytest.mark.parametrize("kind", ["argmax", "argmin"])
@pytest.mark.parametrize("expr,shape,axis,after", ARG_SINGLE, ids=[a[0] for a in ARG_SINGLE])
def test_arg_single_axis(kind, expr, shape, axis, after):
    x = make(shape, seed_of(kind, expr), "distinct")
    sizes = {"a": 2} if axis is None else {}
    ref = getattr(np, kind)(x.reshape(2, 3, 4), axis=1) if axis is None else \
        getattr(np, kind)(x, axis=axis)
    want = after(ref)
    assert_same(getattr(ein, kind)(expr, x, **sizes), want)
    assert_same(getattr(einx, kind)(expr, x, **sizes), want)


def unravel_arg(kind, x, axes):
    """argmax over several axes as coordinates, through np.unravel_index."""
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = x.transpose(rest + list(axes))
    flat = moved.reshape(moved.shape[:len(rest)] + (-1,))
    coords = np.unravel_index(getattr(np, kind)(flat, axis=-1), [x.shape[a] for a in axes])
    return np.stack(coords, axis=-1)  # rest..., coordinate


ARG_MULTI = [
    ("a [b c] d", (2, 3, 4, 5), (1, 2), lambda y: y.transpose(0, 2, 1)),
    ("[a b]", (3, 4), (0, 1), lambda y: y),
    ("[a] b [c] -> b [2]", (2, 3, 4), (0, 2), lambda y: y),
    ("b [h w] c -> b c [2]", (2, 3, 4, 5), (1, 2), lambda y: y),
    ("b [h w] c -> [2] c b", (2, 3, 4, 5), (1, 2), lambda y: y.transpose(2, 1, 0)),
]


@pytest.mark.parametrize("kind", ["argmax", "argmin"])
@pytest.mark.parametrize("expr,shape,axes,after", ARG_MULTI, ids=[a[0] for a in ARG_MULTI])
def test_arg_several_axes(kind, expr, shape, axes, after):
    x = make(shape, seed_of(kind, expr), "distinct")
    want = after(unravel_arg(kind, x, axes))
    assert_same(getattr(ein, kind)(expr, x), want)
    assert_same(getattr(einx, kind)(expr, x), want)


def test_arg_ties_take_the_first():
    assert_same(ein.argmax("[t]", np.array([1, 3, 3, 0])), np.array([1]))
    assert_same(ein.argmax("[t] ->", np.array([1, 3, 3, 0])), np.int64(1))
    assert_same(ein.argmin("a [t]", np.array([[2, 0, 0]])), np.array([[1]]))


@pytest.mark.parametrize("op,expr,kwargs", [
    ("softmax", "a b", {}),  # no brackets
    ("sort", "[a b]", {}),  # sort takes one axis
    ("argsort", "a b", {}),
    ("flip", "a [b], c", {}),  # one operand
    ("softmax", "a [b] -> a", {}),  # output drops an axis
    ("argmax", "a [b] -> a b", {}),  # output keeps the reduced axis
    ("softmax", "[a b] -> [b a]", {}),  # the bracketed axes change order
])
def test_along_errors(op, expr, kwargs):
    with pytest.raises(ein.NotationError):
        getattr(ein, op)(expr, np.ones((2, 3)), **kwargs)


# ---------------------------------------------------------------- arange


def grid(*sizes):
    return np.stack(np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij"), axis=-1)


ARANGE = [
    ("h w [2]", {"h": 3, "w": 4}, lambda: grid(3, 4)),
    ("[2] h w", {"h": 3, "w": 4}, lambda: np.moveaxis(grid(3, 4), -1, 0)),
    ("h [2] w", {"h": 3, "w": 4}, lambda: np.moveaxis(grid(3, 4), -1, 1)),
    ("h w c [3]", {"h": 2, "w": 3, "c": 4}, lambda: grid(2, 3, 4)),
    ("(h w) [2]", {"h": 2, "w": 3}, lambda: grid(2, 3).reshape(6, 2)),
    ("n", {"n": 5}, lambda: np.arange(5)),
    ("n [1]", {"n": 5}, lambda: np.arange(5)[:, None]),
    ("s... [2]", {"s": (2, 3)}, lambda: grid(2, 3)),
    ("(n 1)", {"n": 4}, lambda: np.arange(4)),
    ("h 1 w [2]", {"h": 2, "w": 3}, lambda: grid(2, 3)[:, None]),
]


@pytest.mark.parametrize("expr,sizes,oracle", ARANGE, ids=[a[0] for a in ARANGE])
def test_arange_against_numpy(expr, sizes, oracle):
    assert_same(ein.arange(expr, **sizes), oracle().astype(np.int32))  # int32 by default


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
def test_arange_dtypes(dtype):
    got = ein.arange("h w [2]", dtype=dtype, h=2, w=3)
    assert got.dtype == np.dtype(dtype)
    assert_same(got, grid(2, 3).astype(dtype))


@pytest.mark.parametrize("expr,kwargs", [
    ("h w", {"h": 2, "w": 3}),  # several axes, no coordinate axis
    ("h w [3]", {"h": 2, "w": 3}),  # coordinate axis of the wrong size
    ("h w [2] [2]", {"h": 2, "w": 3}),  # two coordinate axes
    ("h [2]", {}),  # h unknown
    ("h, w", {"h": 2, "w": 2}),  # two expressions
    ("n", {"n": 3, "dtype": "complex64"}),  # unsupported dtype
    ("n", {"n": 3, "backend": "cupy"}),  # unknown backend
])
def test_arange_errors(expr, kwargs):
    with pytest.raises(ein.NotationError):
        ein.arange(expr, **kwargs)


# ---------------------------------------------------------------- solve, matches, check

SOLVE = [
    ("b (s w)... c", [(2, 32, 64, 3)], {"w": 16}, {"b": 2, "s": (2, 4), "w": (16, 16), "c": 3}),
    ("a b, b c", [(2, 3), (3, 4)], {}, {"a": 2, "b": 3, "c": 4}),
    ("(a + b)", [(5,)], {"a": 2}, {"a": 2, "b": 3}),
    ("b s... c", [(2, 3, 4, 5)], {}, {"b": 2, "s": (3, 4), "c": 5}),
    ("b ... c", [(2, 3, 4, 5)], {}, {"b": 2, "c": 5}),
    ("(a b) 1", [(6, 1)], {"b": 3}, {"a": 2, "b": 3}),
    ("a [b] c", [(2, 3, 4)], {}, {"a": 2, "b": 3, "c": 4}),
    ("a, a b -> b a", [(2,), (2, 7)], {}, {"a": 2, "b": 7}),
]


@pytest.mark.parametrize("expr,shapes,sizes,want", SOLVE, ids=[s[0] for s in SOLVE])
def test_solve(expr, shapes, sizes, want):
    xs = [np.ones(s) for s in shapes]
    assert ein.solve(expr, *xs, **sizes) == want
    assert ein.matches(expr, *xs, **sizes)
    assert ein.check(expr, *xs, **sizes) is None


def test_solve_agrees_with_einx():
    x = np.ones((2, 32, 64, 3))
    theirs = einx.solve("b (s w)... c", x, w=16)
    ours = ein.solve("b (s w)... c", x, w=16)
    assert {k: tuple(np.atleast_1d(v)) for k, v in theirs.items()} == {
        k: tuple(np.atleast_1d(v)) for k, v in ours.items()}


MISMATCH = [
    ("a b", [(3,)], {}),  # rank
    ("a b, b", [(2, 3), (4,)], {}),  # b conflicts
    ("(a b)", [(7,)], {"a": 2}),  # does not divide
    ("a b", [(2, 3)], {"a": 3}),  # given size conflicts
    ("1 a", [(2, 3)], {}),  # a unit axis of size 2
]


def test_consistent_but_undetermined_matches_as_in_einx():
    x = np.ones((6, 4))
    assert ein.matches("(a b) c", x) and einx.matches("(a b) c", x)
    ein.check("(a b) c", x)
    with pytest.raises(ein.NotationSizeError, match="cannot determine"):
        ein.solve("(a b) c", x)


def test_sizes_of_axes_not_written_are_accepted_as_in_einx():
    x = np.ones((2, 3))
    sizes = ein.solve("a b", x)
    assert ein.sum("a [b]", x, **sizes, z=9).shape == (2,)
    assert ein.matches("a", np.ones(2), z=3)


@pytest.mark.parametrize("expr,shapes,sizes", MISMATCH, ids=[m[0] for m in MISMATCH])
def test_mismatch(expr, shapes, sizes):
    xs = [np.ones(s) for s in shapes]
    assert not ein.matches(expr, *xs, **sizes)
    with pytest.raises(ein.NotationError):
        ein.check(expr, *xs, **sizes)
    with pytest.raises(ein.NotationError):
        ein.solve(expr, *xs, **sizes)


@pytest.mark.parametrize("expr", ["a (b", "a ]", "a $ b", "a -> b -> c", "[[a]"])
def test_matches_raises_on_malformed_expressions(expr):
    with pytest.raises(ein.NotationSyntaxError):
        ein.matches(expr, np.ones(3))


# ---------------------------------------------------------------- tensor factories


def recording_factory(fill, seen):
    def factory(shape):
        seen.append(tuple(shape))
        return np.full(shape, fill)

    return factory


def test_factory_receives_the_solved_shape():
    x, seen = make((2, 3, 4), 40), []
    got = ein.multiply("... [c]", x, recording_factory(2.0, seen))
    assert seen == [(4,)]
    assert_same(got, x * 2.0)


def test_factory_in_dot_shorthand():
    x, seen = make((2, 3), 41), []
    got = ein.dot("b [c1->c2]", x, recording_factory(1.0, seen), c2=5)
    assert seen == [(3, 5)]
    assert_same(got, x @ np.ones((3, 5)), exact=False)


def test_factory_in_rearrange_and_add():
    seen = []
    got = ein.rearrange("a, b -> (a + b)", np.arange(2.0), recording_factory(7.0, seen), b=3)
    assert seen == [(3,)]
    assert_same(got, np.array([0.0, 1.0, 7.0, 7.0, 7.0]))
    got = ein.add("a b, b", np.ones((2, 3)), recording_factory(1.0, seen))
    assert seen[-1] == (3,)
    assert_same(got, np.full((2, 3), 2.0))


class Recorder(ein.TensorFactory):
    def __init__(self):
        self.calls = []

    def create(self, shape, context):
        self.calls.append((tuple(shape), context))
        return np.ones(shape, np.float32)


def test_tensor_factory_receives_its_context():
    x, factory = np.ones((2, 3), np.float32), Recorder()
    ein.dot("b [c1->c2]", x, factory, c2=4)
    ((shape, context),) = factory.calls
    assert shape == (3, 4)
    assert (context.op, context.index, context.fan_in, context.fan_out) == ("dot", 1, 3, 4)
    assert context.dtype == np.float32
    assert context.expression == "b [c1->c2]"


def test_factory_errors():
    x = np.ones((2, 3))
    with pytest.raises(ein.NotationSizeError):  # wrong shape back
        ein.add("a b, b", x, lambda shape: np.ones(5))
    with pytest.raises(ein.NotationError):  # c2 cannot be solved
        ein.dot("b [c1->c2]", x, lambda shape: np.ones(shape))
    with pytest.raises(ein.NotationError):  # not a tensor at all
        ein.add("a b, b", x, [1.0, 2.0, 3.0])


# ---------------------------------------------------------------- errors are NotationErrors


def test_notation_error_repeats_the_expression_and_marks_the_axis():
    with pytest.raises(ein.NotationError) as caught:
        ein.sum("a [b]", np.ones((2, 3, 4)))
    message = str(caught.value)
    assert "a [b]" in message and "^" in message and "(2, 3, 4)" in message
    assert isinstance(caught.value, ValueError)


def test_cached_plans_stay_correct_across_shapes():
    # a warm plan must not be reused for another shape of the same expression
    for shape in [(2, 3), (3, 2), (2, 3), (4, 1)]:
        x = make(shape, seed_of(shape))
        assert_same(ein.rearrange("a b -> b a", x), x.T)
        assert_same(ein.sum("a [b]", x), x.sum(1), exact=False)



# ---------------------------------------------------------------- regressions found here


def test_a_float_shift_is_refused_even_after_the_int_plan_is_cached():
    # plan keys compare with ==, and (1.0, 2) == (1, 2): the check must come first
    x = make((2, 3, 4), 50)
    assert_same(ein.roll("a [b c]", x, shift=(1, 2)), np.roll(x, (1, 2), axis=(1, 2)))
    with pytest.raises(ein.NotationError):
        ein.roll("a [b c]", x, shift=(1.0, 2))


@pytest.mark.parametrize("expr", [[], {}, None, 3, b"a b"])
def test_an_expression_must_be_a_string(expr):
    with pytest.raises(ein.NotationSyntaxError):
        ein.sum(expr, np.ones((2, 3)))


def test_python_numbers_as_whole_operands():
    assert_same(ein.rearrange(" -> 1", 3.0), np.array([3.0]))
    assert_same(ein.rearrange(" -> k", 2, k=3), np.array([2, 2, 2]))


@pytest.mark.parametrize("expr,shapes", [
    ("a a... -> a", [(2, 2)]),  # `a` is an axis and an ellipsis
    ("a [a]...", [(1, 1)]),
    ("()... -> ", [(4,)]),  # an ellipsis over nothing
])
def test_ambiguous_names_and_empty_ellipses(expr, shapes):
    with pytest.raises(ein.NotationError):
        ein.solve(expr, *[np.ones(s) for s in shapes])


def test_nested_ellipses_solve_into_one_tuple():
    assert ein.solve("((b)...)...", np.ones((1, 1)), b=1) == {"b": (1, 1, 1, 1)}


def test_bracketed_unit_axes_carry_nothing():
    x = make((2, 3), 51, "distinct")
    # `(1 b)` is b: the unit axis inside the bracket changes nothing
    assert_same(ein.softmax("a [(1 b)]", x), softmax_ref(x, (1,)), exact=False)
    assert_same(ein.argmax("a [(1 b)] -> a", x), np.argmax(x, axis=1))
    assert_same(ein.sort("a [(1 b)]", x), np.sort(x, axis=1))
    # a coordinate axis of length one: the index operand is the coordinate itself
    table, ids = make((4, 3), 52), np.array([[1], [3]])
    assert_same(ein.get_at("[v] c, b [1] -> b c", table, ids), table[ids[:, 0]])
    assert_same(ein.get_at("[(1 v)] c, b -> b c", table, ids[:, 0]), table[ids[:, 0]])
    # only unit axes in brackets: nothing to work along or to index
    with pytest.raises(ein.NotationError):
        ein.softmax("a b [1]", x[..., None])
    with pytest.raises(ein.NotationError):
        ein.get_at("[1] c, b -> b c", np.ones((1, 3)), np.zeros(2, int))
