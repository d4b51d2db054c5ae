"""Property tests of `levante.ein` on NumPy: random shapes, orders, groupings and brackets.

Each property draws an expression together with the shapes it describes and checks it
against NumPy (transpose, reshape, the reductions, np.einsum, broadcasting), or against
itself run backwards (a rearrangement followed by its inverse gives the input back).
"""

from __future__ import annotations

import math
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levante import ein

FAST = settings(max_examples=100, deadline=None)
NAMES = "abcdef"

# ---------------------------------------------------------------- strategies


@st.composite
def named_axes(draw, min_rank=1, max_rank=5):
    """Axis names with sizes: (["a", "b", ...], {"a": 2, ...})."""
    rank = draw(st.integers(min_rank, max_rank))
    names = list(NAMES[:rank])
    sizes = draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank))
    return names, dict(zip(names, sizes))


@st.composite
def grouping(draw, names):
    """`names` cut into consecutive groups: [["a", "b"], ["c"]]."""
    if not names:
        return []
    cuts = draw(st.lists(st.booleans(), min_size=len(names) - 1, max_size=len(names) - 1))
    groups, current = [], [names[0]]
    for name, cut in zip(names[1:], cuts):
        if cut:
            groups.append(current)
            current = [name]
        else:
            current.append(name)
    groups.append(current)
    return groups


def written(groups, bracketed=()):
    """Groups as notation, brackets around the names in `bracketed`: `(a [b]) c`."""
    def atom(n):
        return f"[{n}]" if n in bracketed else n

    return " ".join(atom(g[0]) if len(g) == 1 else "(" + " ".join(map(atom, g)) + ")"
                    for g in groups)


def lengths(groups, sizes):
    return tuple(math.prod(sizes[n] for n in g) for g in groups)


def solver_hints(groups, sizes):
    """Sizes the solver needs: every name of a composition but its last one."""
    return {n: sizes[n] for g in groups if len(g) > 1 for n in g[:-1]}


# ---------------------------------------------------------------- rearrange


@FAST
@given(st.data())
def test_rearrange_round_trip(data):
    names, sizes = data.draw(named_axes())
    source = data.draw(grouping(names))
    order = data.draw(st.permutations(names))
    target = data.draw(grouping(list(order)))
    x = np.arange(math.prod(sizes.values())).reshape(lengths(source, sizes))

    forward = f"{written(source)} -> {written(target)}"
    y = ein.rearrange(forward, x, **solver_hints(source, sizes))
    # the oracle: split every axis, transpose, group again
    want = x.reshape([sizes[n] for n in names]).transpose([names.index(n) for n in order])
    np.testing.assert_array_equal(y, want.reshape(lengths(target, sizes)))

    backward = f"{written(target)} -> {written(source)}"
    back = ein.rearrange(backward, y, **solver_hints(target, sizes))
    assert back.dtype == x.dtype
    np.testing.assert_array_equal(back, x)


@FAST
@given(st.data())
def test_rearrange_with_ellipsis_matches_moveaxis(data):
    rank = data.draw(st.integers(1, 5))
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)))
    x = np.arange(math.prod(shape)).reshape(shape)
    np.testing.assert_array_equal(ein.rearrange("a ... -> ... a", x), np.moveaxis(x, 0, -1))
    np.testing.assert_array_equal(ein.rearrange("s... z -> z s...", x), np.moveaxis(x, -1, 0))
    np.testing.assert_array_equal(ein.rearrange("... -> (...)", x), x.reshape(-1))


@FAST
@given(st.data())
def test_rearrange_broadcast_then_reduce_scales(data):
    names, sizes = data.draw(named_axes(max_rank=3))
    k = data.draw(st.integers(1, 4))
    x = np.arange(math.prod(sizes.values()), dtype=float).reshape(list(sizes.values()))
    expr = " ".join(names)
    spread = ein.rearrange(f"{expr} -> {expr} k", x, k=k)
    np.testing.assert_array_equal(ein.sum(f"{expr} [k]", spread), k * x)


# ---------------------------------------------------------------- reductions

REDUCERS = {
    "sum": np.sum,
    "mean": np.mean,
    "var": np.var,
    "std": np.std,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
    "logsumexp": lambda x, axis, keepdims=False: np.log(np.sum(np.exp(x), axis, keepdims=keepdims)),
    "any": np.any,
    "all": np.all,
    "count_nonzero": np.count_nonzero,
}


def reduction_data(kind, shape, seed):
    rng = np.random.default_rng(seed)
    if kind in ("any", "all"):
        return rng.random(shape) > 0.3
    if kind == "count_nonzero":
        return rng.integers(0, 2, shape)
    if kind == "prod":
        return rng.uniform(0.5, 1.5, shape)
    return rng.normal(size=shape)


@FAST
@given(st.data())
def test_reductions_match_numpy(data):
    names, sizes = data.draw(named_axes())
    kind = data.draw(st.sampled_from(sorted(REDUCERS)))
    gone = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    form = data.draw(st.sampled_from(["brackets", "keepdims", "output"]))
    x = reduction_data(kind, [sizes[n] for n in names], data.draw(st.integers(0, 2**16)))
    axes = tuple(sorted(names.index(n) for n in gone))
    kept = [n for n in names if n not in gone]

    if form == "output":
        out = data.draw(st.permutations(kept))
        got = getattr(ein, kind)(f"{' '.join(names)} -> {' '.join(out)}", x)
        want = np.transpose(REDUCERS[kind](x, axis=axes), [kept.index(n) for n in out])
    else:
        expr = " ".join(f"[{n}]" if n in gone else n for n in names)
        keepdims = form == "keepdims"
        got = getattr(ein, kind)(expr, x, keepdims=keepdims)
        want = REDUCERS[kind](x, axis=axes, keepdims=keepdims)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@FAST
@given(st.data())
def test_reductions_inside_compositions(data):
    names, sizes = data.draw(named_axes(min_rank=2))
    groups = data.draw(grouping(names))
    gone = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    x = np.random.default_rng(0).normal(size=lengths(groups, sizes))
    got = ein.sum(written(groups, gone), x, **solver_hints(groups, sizes))
    split = x.reshape([sizes[n] for n in names])
    summed = split.sum(axis=tuple(names.index(n) for n in gone))
    # a composition whose axes are all summed stays as a unit axis (einx 0.4)
    kept = [[n for n in g if n not in gone] or ([] if len(g) == 1 else ["1"]) for g in groups]
    want = summed.reshape(lengths([g for g in kept if g], dict(sizes, **{"1": 1})))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- dot

POOL = dict(zip("pqrstu", (2, 3, 4, 2, 3, 1)))


@st.composite
def contraction(draw):
    """1 to 3 operands over a pool of axes, and an output of some of their axes."""
    count = draw(st.integers(1, 3))
    operands = [draw(st.lists(st.sampled_from(sorted(POOL)), max_size=3, unique=True))
                for _ in range(count)]
    present = sorted({n for names in operands for n in names})
    output = draw(st.lists(st.sampled_from(present), unique=True)) if present else []
    return operands, output


@FAST
@given(contraction(), st.integers(0, 2**16))
def test_dot_matches_einsum(pattern, seed):
    operands, output = pattern
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=[POOL[n] for n in names]) for names in operands]
    expr = ", ".join(" ".join(names) for names in operands) + " -> " + " ".join(output)
    spec = ",".join("".join(names) for names in operands) + "->" + "".join(output)
    # einx 0.4's rules: two or more operands, each summed axis in exactly two of them
    summed = {n for names in operands for n in names} - set(output)
    if len(operands) < 2 or any(sum(n in names for names in operands) != 2 for n in summed):
        with pytest.raises(ein.NotationError):
            ein.dot(expr, *xs)
        return
    np.testing.assert_allclose(ein.dot(expr, *xs), np.einsum(spec, *xs), rtol=1e-10,
                               atol=1e-12)


@FAST
@given(st.data())
def test_dot_shorthand_is_a_matrix_product(data):
    names, sizes = data.draw(named_axes(max_rank=3))
    split = data.draw(st.integers(0, len(names)))
    batch, contracted = names[:split], names[split:]
    out_names = data.draw(st.lists(st.sampled_from("xyz"), max_size=2, unique=True))
    out_sizes = {n: data.draw(st.integers(1, 3)) for n in out_names}
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.normal(size=[sizes[n] for n in names])
    w = rng.normal(size=[sizes[n] for n in contracted] + [out_sizes[n] for n in out_names])
    expr = f"{' '.join(batch)} [{' '.join(contracted)}->{' '.join(out_names)}]"
    got = ein.dot(expr, x, w)
    c = math.prod(sizes[n] for n in contracted)
    o = math.prod(out_sizes.values())
    want = x.reshape(-1, c) @ w.reshape(c, o)
    np.testing.assert_allclose(
        got, want.reshape([sizes[n] for n in batch] + list(out_sizes.values())),
        rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- elementwise

BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
          "maximum": np.maximum, "less": np.less, "not_equal": np.not_equal}


def by_name(x, have, out):
    """Operand `x` with axes `have` moved into the order of `out`, unit axes for the rest:
    what NumPy broadcasting needs to line axes up by name."""
    ordered = [n for n in out if n in have]
    x = np.transpose(x, [have.index(n) for n in ordered])
    return x.reshape([x.shape[ordered.index(n)] if n in have else 1 for n in out])


@FAST
@given(st.data())
def test_elementwise_broadcasts_by_name(data):
    names, sizes = data.draw(named_axes(max_rank=4))
    first = data.draw(st.permutations(names).flatmap(
        lambda p: st.lists(st.sampled_from(p), unique=True)))
    second = data.draw(st.lists(st.sampled_from(names), unique=True))
    out = data.draw(st.permutations(sorted(set(first) | set(second))))
    op = data.draw(st.sampled_from(sorted(BINARY)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.integers(-2, 3, size=[sizes[n] for n in first])
    y = rng.integers(-2, 3, size=[sizes[n] for n in second])
    expr = f"{' '.join(first)}, {' '.join(second)} -> {' '.join(out)}"
    got = getattr(ein, op)(expr, x, y)
    want = BINARY[op](by_name(x, first, out), by_name(y, second, out))
    assert np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)


@FAST
@given(st.data())
def test_elementwise_inferred_output_is_the_widest_operand(data):
    names, sizes = data.draw(named_axes(max_rank=4))
    full = data.draw(st.permutations(names))
    part = data.draw(st.lists(st.sampled_from(names), unique=True))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.normal(size=[sizes[n] for n in full])
    y = rng.normal(size=[sizes[n] for n in part])
    expr = f"{' '.join(full)}, {' '.join(part)}"
    if sorted(part) == sorted(full) and part != full:  # two layouts hold every axis
        with pytest.raises(ein.NotationError, match="several operands hold every axis"):
            ein.multiply(expr, x, y)
    else:
        np.testing.assert_array_equal(ein.multiply(expr, x, y), x * by_name(y, part, full))
    # the bracket shorthand says the same when the part is the bracketed tail
    tail = full[len(full) - len(part):]
    if sorted(tail) == sorted(part) and part:
        y_tail = by_name(y, part, list(tail)).reshape([sizes[n] for n in tail])
        expr = " ".join(full[:len(full) - len(part)] + [f"[{' '.join(tail)}]"])
        np.testing.assert_array_equal(ein.multiply(expr, x, y_tail), x * y_tail)


@FAST
@given(st.sampled_from(string.ascii_lowercase), st.integers(1, 5), st.floats(-3, 3))
def test_elementwise_with_a_python_number(name, size, number):
    x = np.linspace(-1, 1, size)
    np.testing.assert_array_equal(ein.add(f"{name}, ", x, number), x + number)
    np.testing.assert_array_equal(ein.where(f"{name}, {name}, ", x > 0, x, number),
                                  np.where(x > 0, x, number))
