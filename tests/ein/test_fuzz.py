"""Fuzz tests of `levante.ein`: whatever the user writes, the only failure is NotationError.

1. Random strings over the grammar's alphabet plus junk, fed to every kind of op with
   random small tensors and sizes: an op either returns or raises `ein.NotationError`.
2. Random well-formed expressions with shapes that sometimes fit and sometimes do not:
   an independent solver written here says which; the result must then equal a NumPy
   oracle, or the op must raise `ein.NotationError`.
"""

from __future__ import annotations

import math
import os
import random

import einops
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from levante import ein

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WELL_FORMED = settings(max_examples=150, deadline=None)

# ---------------------------------------------------------------- 1. junk in, NotationError out

JUNK = "#$%é\t\n-.>_0A{}*;:'"
TOKENS = ["a", "b", "c", "s", "1", "2", "(", ")", "[", "]", "+", ",", "->", "...", " ",
          "s...", "[a->b]", "(a b)", "[c]", "(1 + s)", *JUNK]

expressions = st.one_of(
    st.text(alphabet="abcs12()[]+,->. " + JUNK, max_size=24),
    st.lists(st.sampled_from(TOKENS), max_size=14).map("".join),
)

# an operand is a shape (a zero tensor of small ints, valid as an index anywhere) or None
# for a Python number
operand_shapes = st.lists(
    st.one_of(st.none(), st.lists(st.integers(1, 3), max_size=3).map(tuple)), max_size=3)

size_values = st.one_of(st.integers(0, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))
keyword_sizes = st.dictionaries(st.sampled_from(["a", "b", "c", "s", "k"]), size_values,
                                max_size=2)


def as_operands(shapes):
    return [0 if s is None else np.zeros(s, dtype=np.int64) for s in shapes]


def one(xs):
    """Ops whose signature names the tensor get at least one: calling them with none is a
    Python TypeError, not a question of notation."""
    return xs or [0]


OPS = {
    "rearrange": lambda e, xs, kw: ein.rearrange(e, *xs, **kw),
    "id": lambda e, xs, kw: ein.id(e, *xs, **kw),
    "sum": lambda e, xs, kw: ein.sum(e, *one(xs), **kw),
    "mean": lambda e, xs, kw: ein.mean(e, *one(xs), keepdims=True, **kw),
    "logsumexp": lambda e, xs, kw: ein.logsumexp(e, *one(xs), **kw),
    "count_nonzero": lambda e, xs, kw: ein.count_nonzero(e, *one(xs), **kw),
    "dot": lambda e, xs, kw: ein.dot(e, *xs, **kw),
    "add": lambda e, xs, kw: ein.add(e, *xs, **kw),
    "where": lambda e, xs, kw: ein.where(e, *xs, **kw),
    "logical_not": lambda e, xs, kw: ein.logical_not(e, *xs, **kw),
    "get_at": lambda e, xs, kw: ein.get_at(e, *xs, **kw),
    "set_at": lambda e, xs, kw: ein.set_at(e, *xs, **kw),
    "add_at": lambda e, xs, kw: ein.add_at(e, *xs, **kw),
    "softmax": lambda e, xs, kw: ein.softmax(e, *one(xs), **kw),
    "argmax": lambda e, xs, kw: ein.argmax(e, *one(xs), **kw),
    "roll": lambda e, xs, kw: ein.roll(e, one(xs)[0], shift=1, **kw),
    "flip": lambda e, xs, kw: ein.flip(e, *one(xs), **kw),
    "sort": lambda e, xs, kw: ein.sort(e, *one(xs), **kw),
    "arange": lambda e, xs, kw: ein.arange(e, *xs, **kw),
    "solve": lambda e, xs, kw: ein.solve(e, *xs, **kw),
    "matches": lambda e, xs, kw: ein.matches(e, *xs, **kw),
    "explain": lambda e, xs, kw: ein.explain("sum", e, *[np.shape(x) for x in xs], **kw),
}


def only_notation_errors(call):
    """Run `call`; a NotationError is a fine answer, any other exception is a bug."""
    try:
        call()
    except ein.NotationError as error:
        assert str(error)  # the message renders
    # every other exception propagates and fails the test with its own traceback


# near-valid expressions: drawn from the grammar, shapes drawn to (roughly) fit, then
# sometimes mutated by a character, so that the fuzz also reaches the solver and planners
NAMES = st.sampled_from(["a", "b", "c", "a", "b", "c", "s", "1", "2"])


def ellipsis_sometimes(text):
    return st.integers(0, 7).map(lambda k: text + "..." if k == 0 else text)


# an unbracketed item: a name or number, a composition or (rarely) a concatenation
group = st.lists(NAMES, min_size=1, max_size=2).map(" ".join)
inner_item = st.one_of(
    *[NAMES] * 6, group.map(lambda t: f"({t})"),
    st.lists(group, min_size=2, max_size=2).map(lambda ts: "(" + " + ".join(ts) + ")"),
).flatmap(ellipsis_sometimes)
plain = st.one_of(*[inner_item] * 8, st.just("..."))
in_brackets = st.lists(inner_item, min_size=1, max_size=2).map(" ".join)


def operand(marks=None):
    """Plain items around an optional bracket (`marks`: a strategy for its text)."""
    parts = [st.lists(plain, max_size=2).map(" ".join)]
    if marks is not None:
        parts += [marks, st.lists(plain, max_size=1).map(" ".join)]
    return st.tuples(*parts).map(lambda ts: " ".join(t for t in ts if t))


bracket = in_brackets.map(lambda t: f"[{t}]")
arrow = st.tuples(in_brackets, in_brackets).map(lambda t: f"[{t[0]}->{t[1]}]")


def joined(count, marks=None):
    return st.lists(operand(marks), min_size=count, max_size=count).map(", ".join)


def explicit(count, outputs=1):
    """`count` plain operands and `outputs` plain outputs: (text, tensor count)."""
    return st.tuples(joined(count), joined(outputs)).map(lambda t: (f"{t[0]} -> {t[1]}",
                                                                     count))


def family(op):
    """The forms an op takes, each drawn as (expression, how many tensors it needs)."""
    shorthand = lambda count: operand(bracket).map(lambda t: (t, count))
    with_output = lambda marks, count: st.tuples(operand(marks), joined(1)).map(
        lambda t: (f"{t[0]} -> {t[1]}", count))
    if op in ("rearrange", "id"):
        return st.integers(1, 2).flatmap(lambda n: explicit(n, n))
    if op in ("sum", "mean", "logsumexp", "count_nonzero"):
        return st.one_of(shorthand(1), explicit(1), with_output(bracket, 1))
    if op == "dot":
        return st.one_of(st.integers(1, 3).flatmap(explicit),
                         operand(arrow).map(lambda t: (t, 2)))
    if op in ("add", "where", "logical_not"):
        arity = {"add": 2, "where": 3, "logical_not": 1}[op]
        return st.one_of(explicit(arity), shorthand(arity),
                         joined(arity).map(lambda t: (t, arity)))
    if op in ("get_at", "set_at", "add_at"):
        extra = 0 if op == "get_at" else 1
        return st.integers(1, 2).flatmap(lambda n: st.tuples(
            operand(bracket), st.lists(operand(st.one_of(st.none(), bracket)), min_size=n + extra,
                                       max_size=n + extra).map(", ".join),
            st.one_of(st.just(""), joined(1).map(lambda t: f" -> {t}"))).map(
            lambda t: (f"{t[0]}, {t[1]}{t[2]}", 1 + n + extra)))
    if op == "arange":
        return operand(bracket).map(lambda t: (t, 0))
    if op in ("solve", "matches", "explain"):
        return st.integers(1, 3).flatmap(lambda n: joined(n).map(lambda t: (t, n)))
    return st.one_of(shorthand(1), with_output(bracket, 1))  # softmax, argmax, roll, ...


def top_level_ranks(text):
    """How many dimensions each input operand of `text` writes at the top level."""
    ranks = []
    for written in text.split("->")[0].split(","):
        depth, count, fresh = 0, 0, True
        for char in written:
            if char in "([":
                count += depth == 0 and fresh
                depth += 1
                fresh = False
            elif char in ")]":
                depth -= 1
            elif char == " ":
                fresh = depth == 0 or fresh
            elif depth == 0 and fresh and char != ".":
                count += 1
                fresh = False
        ranks.append(count)
    return ranks


@st.composite
def near_valid(draw, op):
    """(expression, shapes) for `op`: its form, sometimes a character off, and shapes
    whose ranks follow the expression give or take one."""
    text, count = draw(family(op))
    if draw(st.integers(0, 4)) == 0:  # one character inserted, deleted or replaced
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from("abs12()[]+,->. "))
        text = text[:at] + draw(st.sampled_from([char, "", char + text[at:at + 1]])) + text[
            at + 1:]
    ranks = [min(r, 5) for r in top_level_ranks(text)[:count]]
    ranks += [draw(st.integers(0, 2)) for _ in range(count - len(ranks))]
    # small dims and sizes (1 or 2) so that many drawn expressions fit their operands
    return text, [tuple(draw(st.sampled_from([1, 2, 2, 4])) for _ in range(
        max(0, rank + draw(st.sampled_from([0] * 6 + [1, -1]))))) for rank in ranks]


near_sizes = st.dictionaries(st.sampled_from(["a", "b", "c", "s"]), st.integers(1, 2),
                            max_size=4)


@FUZZ
@given(st.data(), st.sampled_from(sorted(OPS)), near_sizes)
def test_near_valid_expressions_raise_only_notation_errors(data, op, sizes):
    expr, shapes = data.draw(near_valid(op))
    only_notation_errors(lambda: OPS[op](expr, as_operands(shapes), sizes))


@pytest.mark.parametrize("op", sorted(OPS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, operand_shapes, keyword_sizes)
def test_junk_expressions_raise_only_notation_errors(op, expr, shapes, sizes):
    xs = as_operands(shapes)
    only_notation_errors(lambda: OPS[op](expr, xs, sizes))


@FUZZ
@given(st.sampled_from(sorted(OPS)), expressions, operand_shapes, keyword_sizes)
def test_junk_expressions_on_any_op(op, expr, shapes, sizes):
    only_notation_errors(lambda: OPS[op](expr, as_operands(shapes), sizes))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["rearrange", "sum", "add", "dot", "get_at", "softmax", "solve"]),
       st.one_of(st.integers(), st.floats(allow_nan=True), st.binary(max_size=4), st.none(),
                 st.lists(st.integers(), max_size=2)),
       operand_shapes)
def test_non_string_expressions_raise_notation_errors(op, expr, shapes):
    only_notation_errors(lambda: OPS[op](expr, as_operands(shapes), {}))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["rearrange", "sum", "add", "dot", "arange"]),
       st.dictionaries(st.sampled_from(["a", "b", "s"]),
                       st.one_of(st.integers(-2, 3), st.floats(-2, 3), st.text(max_size=2),
                                 st.none(), st.booleans(),
                                 st.lists(st.integers(0, 3), max_size=2)),
                       min_size=1, max_size=2))
def test_bad_sizes_raise_notation_errors(op, sizes):
    exprs = {"rearrange": "a -> a b", "sum": "a [b]", "add": "a b, b", "dot": "a [b->s]",
             "arange": "a"}
    xs = {"rearrange": [np.ones(2)], "sum": [np.ones((2, 3))], "add": [np.ones((2, 3)),
                                                                       np.ones(3)],
          "dot": [np.ones((2, 3)), np.ones((3, 2))], "arange": []}[op]
    only_notation_errors(lambda: OPS[op](exprs[op], xs, sizes))


# ---------------------------------------------------------------- 2. well-formed expressions


def grouped(draw, names):
    """`names` cut into consecutive groups."""
    groups, current = [], []
    for name in names:
        if current and draw(st.booleans()):
            groups.append(current)
            current = []
        current.append(name)
    return groups + ([current] if current else [])


def text_of(groups, bracketed=()):
    def atom(n):
        return f"[{n}]" if n in bracketed else n

    return " ".join(atom(g[0]) if len(g) == 1 else "(" + " ".join(map(atom, g)) + ")"
                    for g in groups)


class Problem:
    """A drawn expression: its input groups, hints, the true sizes and the operand shape."""

    def __init__(self, draw):
        names = draw(st.permutations("abcd").map(list))[:draw(st.integers(1, 4))]
        self.sizes = {n: draw(st.integers(1, 3)) for n in names}
        self.order = names
        self.groups = grouped(draw, names)
        if draw(st.booleans()):
            self.groups.insert(draw(st.integers(0, len(self.groups))), ["1"])
        self.ellipsis = draw(st.booleans())
        self.hints = {}
        for g in self.groups:
            if len(g) > 1:  # leave one name of each composition to the solver
                left = draw(st.sampled_from(g))
                self.hints.update({n: self.sizes[n] for n in g if n != left})
        extra = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
        self.hints.update({n: self.sizes[n] for n in extra})
        lead = [2] * draw(st.integers(0, 2)) if self.ellipsis else []
        shape = lead + [math.prod(self.sizes.get(n, 1) for n in g) for g in self.groups]
        self.shape = tuple(self._perturb(draw, shape))

    @staticmethod
    def _perturb(draw, shape):
        how = draw(st.sampled_from(["none", "none", "none", "grow", "shrink", "drop", "add"]))
        if how == "grow" and shape:
            i = draw(st.integers(0, len(shape) - 1))
            shape[i] += 1
        elif how == "shrink" and any(s > 1 for s in shape):
            i = draw(st.sampled_from([i for i, s in enumerate(shape) if s > 1]))
            shape[i] -= 1
        elif how == "drop" and shape:
            shape.pop(draw(st.integers(0, len(shape) - 1)))
        elif how == "add":
            shape.insert(draw(st.integers(0, len(shape))), 2)
        return shape

    def order_in_input(self):
        """The names in the order the operand holds them (unit axes left out)."""
        return [n for g in self.groups for n in g if n != "1"]

    def text(self, bracketed=()):
        body = text_of(self.groups, bracketed)
        return f"... {body}" if self.ellipsis else body

    def solve(self):
        """The sizes the shape implies, and the leading (ellipsis) shape; None if it does
        not fit. Written independently of levante's solver."""
        rank = len(self.groups)
        if len(self.shape) < rank or (not self.ellipsis and len(self.shape) != rank):
            return None
        lead, body = self.shape[:len(self.shape) - rank], self.shape[len(self.shape) - rank:]
        known = dict(self.hints)
        for g, length in zip(self.groups, body):
            if g == ["1"]:
                if length != 1:
                    return None
                continue
            missing = [n for n in g if n not in known]
            product = math.prod(known[n] for n in g if n in known)
            if not missing:
                if product != length:
                    return None
            elif length % product:
                return None
            else:
                known[missing[0]] = length // product
        return known, tuple(lead)


def expected_rearrange(x, problem, known, lead, out_groups):
    atoms = x.reshape(lead + tuple(known[n] for n in problem.order_in_input()))
    names = [n for g in out_groups for n in g if n != "1"]
    inputs = problem.order_in_input()
    y = atoms.transpose(list(range(len(lead)))
                        + [len(lead) + inputs.index(n) for n in names if n in inputs])
    y = y.reshape(lead + tuple(known[n] if n in inputs else 1 for n in names))
    y = np.broadcast_to(y, lead + tuple(known[n] for n in names))
    return y.reshape(lead + tuple(math.prod(known[n] for n in g if n != "1")
                                  for g in out_groups))


@WELL_FORMED
@given(st.data())
def test_well_formed_rearrange(data):
    problem = Problem(data.draw)
    names = problem.order_in_input()
    out = data.draw(st.permutations(names))
    extra = data.draw(st.sampled_from([[], ["k"], ["1"]]))
    out_groups = grouped(data.draw, list(out)) + [[n] for n in extra]
    hints = dict(problem.hints, **({"k": 2} if extra == ["k"] else {}))
    prefix = "... " if problem.ellipsis else ""
    expr = f"{problem.text()} -> {prefix}{text_of(out_groups)}"
    x = np.arange(math.prod(problem.shape)).reshape(problem.shape)
    solved = problem.solve()
    if solved is None:
        with pytest.raises(ein.NotationError):
            ein.rearrange(expr, x, **hints)
        return
    known, lead = solved
    known = dict(known, k=2)
    got = ein.rearrange(expr, x, **hints)
    np.testing.assert_array_equal(got, expected_rearrange(x, problem, known, lead, out_groups))


def implied_kept(groups, gone, known):
    """The shape a bracketed reduction leaves (after the ellipsis)."""
    shape = []
    for g in groups:
        kept = [n for n in g if n not in gone]
        if kept:
            shape.append(math.prod(known.get(n, 1) for n in kept if n != "1"))
        elif len(g) > 1:
            shape.append(1)
    return tuple(shape)


@WELL_FORMED
@given(st.data(), st.sampled_from(["sum", "max", "prod", "any"]))
def test_well_formed_reduction(data, kind):
    problem = Problem(data.draw)
    names = problem.order_in_input()
    gone = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    expr = problem.text(bracketed=gone)
    x = np.random.default_rng(0).integers(0, 3, size=problem.shape)
    solved = problem.solve()
    if solved is None:
        with pytest.raises(ein.NotationError):
            getattr(ein, kind)(expr, x, **problem.hints)
        return
    known, lead = solved
    atoms = x.reshape(lead + tuple(known[n] for n in names))
    axes = tuple(len(lead) + names.index(n) for n in gone)
    reduced = getattr(np, kind)(atoms, axis=axes)
    # a single reduced axis loses its place; a composition whose names are all reduced
    # stays as a unit axis (einx 0.4), and `1` stays a unit axis
    want = reduced.reshape(lead + implied_kept(problem.groups, gone, known))
    got = getattr(ein, kind)(expr, x, **problem.hints)
    np.testing.assert_array_equal(got, want)


@WELL_FORMED
@given(st.data())
def test_well_formed_elementwise_shorthand(data):
    problem = Problem(data.draw)
    names = problem.order_in_input()
    assume(problem.solve() is not None)
    known, lead = problem.solve()
    # bracket a tail of the groups: the second operand holds those axes
    cut = data.draw(st.integers(0, len(problem.groups)))
    tail = [n for g in problem.groups[cut:] for n in g if n != "1"]
    assume(tail)
    bracketed = set(tail)
    expr = problem.text(bracketed=bracketed)
    x = np.random.default_rng(1).integers(-3, 3, size=problem.shape)
    y = np.random.default_rng(2).integers(-3, 3, size=[known[n] for n in tail])
    got = ein.subtract(expr, x, y, **problem.hints)
    atoms = x.reshape(lead + tuple(known[n] for n in names))
    want = (atoms - y.reshape([1] * (len(names) - len(tail)) + list(y.shape))).reshape(x.shape)
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- 3. a hundred thousand calls
#
# Hypothesis above shrinks failures but costs about a millisecond per example; this part
# draws with `random` instead, so that one CI run makes at least BULK_CALLS calls across the
# ops in about a minute (repeated shapes hit the plan cache). Every call either returns a
# value equal to an independent oracle (NumPy, np.einsum, einops) or raises NotationError;
# junk and hostile inputs may only raise NotationError. LEVANTE_FUZZ_SEED and
# LEVANTE_FUZZ_CALLS change the seed and the count (a failure prints both).

BULK_CALLS = int(os.environ.get("LEVANTE_FUZZ_CALLS", "100000"))
BULK_SEED = int(os.environ.get("LEVANTE_FUZZ_SEED", "0"))
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64", "uint16")


class Drawn:
    """A random operand expression over the names a..d: groups, unit axes, an ellipsis,
    keyword hints for every composition, a shape that fits or (sometimes) does not."""

    def __init__(self, rng, perturb=0.15, ellipsis=0.3, unit=0.3):
        names = rng.sample("abcd", rng.randint(1, 4))
        self.sizes = {n: rng.randint(1, 3) for n in names}
        self.groups = _cut(rng, names)
        if rng.random() < unit:
            self.groups.insert(rng.randint(0, len(self.groups)), ["1"])
        self.ellipsis = rng.random() < ellipsis
        self.hints = {}
        for g in self.groups:
            if len(g) > 1:
                left = rng.choice(g)
                self.hints.update({n: self.sizes[n] for n in g if n != left and n != "1"})
        for n in rng.sample(names, rng.randint(0, min(2, len(names)))):
            self.hints[n] = self.sizes[n]
        lead = [2] * rng.randint(0, 2) if self.ellipsis else []
        shape = lead + [math.prod(self.sizes.get(n, 1) for n in g) for g in self.groups]
        if rng.random() < perturb:
            how = rng.choice(["grow", "shrink", "drop", "add"])
            if how == "grow" and shape:
                shape[rng.randrange(len(shape))] += 1
            elif how == "shrink" and any(s > 1 for s in shape):
                i = rng.choice([i for i, s in enumerate(shape) if s > 1])
                shape[i] -= 1
            elif how == "drop" and shape:
                shape.pop(rng.randrange(len(shape)))
            elif how == "add":
                shape.insert(rng.randint(0, len(shape)), 2)
        self.shape = tuple(shape)

    def names(self):
        return [n for g in self.groups for n in g if n != "1"]

    def text(self, bracketed=()):
        body = text_of(self.groups, bracketed)
        return f"... {body}" if self.ellipsis else body

    solve = Problem.solve  # the independent solver of part 2
    order_in_input = names


def _cut(rng, names):
    groups, current = [], []
    for name in names:
        if current and rng.random() < 0.5:
            groups.append(current)
            current = []
        current.append(name)
    return groups + ([current] if current else [])


def _atoms(x, p, known, lead):
    return x.reshape(lead + tuple(known[n] for n in p.names()))


class Expect:
    """What a drawn call must do: equal `value`, or raise NotationError (value None)."""

    def __init__(self, call, value=None, also=None, error=False):
        self.call, self.value, self.also, self.error = call, value, also, error


def _rearrange_case(rng):
    p = Drawn(rng)
    names = p.names()
    out = rng.sample(names, len(names))
    extra = rng.choice([[], [], ["k"], ["1"]])
    out_groups = _cut(rng, out) + [[n] for n in extra]
    hints = dict(p.hints, **({"k": 2} if extra == ["k"] else {}))
    prefix = "... " if p.ellipsis else ""
    expr = f"{p.text()} -> {prefix}{text_of(out_groups)}"
    x = np.arange(math.prod(p.shape)).reshape(p.shape)
    solved = p.solve()
    call = lambda: ein.rearrange(expr, x, **hints)
    if solved is None:
        return Expect(call, error=True)
    known, lead = solved
    want = expected_rearrange(x, p, dict(known, k=2), lead, out_groups)
    theirs = lambda: einops.repeat(x, expr, **hints)
    return Expect(call, want, theirs)


REDUCE_KINDS = ("sum", "max", "min", "prod", "any", "mean")


def _reduce_case(rng):
    p = Drawn(rng)
    names = p.names()
    kind = rng.choice(REDUCE_KINDS)
    gone = rng.sample(names, rng.randint(1, len(names)))
    x = np.asarray(np.random.default_rng(rng.randrange(99)).integers(0, 3, size=p.shape))
    solved = p.solve()
    bracket_form = rng.random() < 0.5
    if bracket_form:
        expr = p.text(bracketed=gone)
    else:  # the output form: the kept groups written out
        kept = [[n for n in g if n not in gone] for g in p.groups]
        expr = f"{p.text()} -> {'... ' if p.ellipsis else ''}{text_of([g for g in kept if g])}"
    call = lambda: getattr(ein, kind)(expr, x, **p.hints)
    if solved is None:
        return Expect(call, error=True)
    known, lead = solved
    atoms = _atoms(x, p, known, lead)
    reduced = getattr(np, kind)(atoms, axis=tuple(len(lead) + names.index(n) for n in gone))
    kept = [[n for n in g if n not in gone] for g in p.groups]
    if bracket_form:
        want = reduced.reshape(lead + implied_kept(p.groups, gone, known))
    else:
        want = reduced.reshape(lead + tuple(math.prod(known.get(n, 1) for n in g if n != "1")
                                            for g in kept if g))
    return Expect(call, want)


def _letters(names):
    return "".join(names)


def _dot_case(rng):
    p = Drawn(rng, ellipsis=0.0)
    names = p.names()
    # the second operand: some of x's axes (the shared ones) and a new axis e
    shared = rng.sample(names, rng.randint(1, len(names)))
    y_names = rng.sample(shared + ["e"], len(shared) + 1)
    contracted = rng.sample(shared, rng.randint(0, len(shared)))
    kept = [n for n in names if n not in contracted] + ["e"]
    out = rng.sample(kept, len(kept))
    out_groups = _cut(rng, out)
    expr = f"{p.text()}, {' '.join(y_names)} -> {text_of(out_groups)}"
    gen = np.random.default_rng(rng.randrange(99))
    x = gen.integers(-2, 3, size=p.shape)
    solved = p.solve()
    sizes = dict(p.sizes, e=2)
    y = gen.integers(-2, 3, size=[sizes[n] for n in y_names])
    hints = dict(p.hints, e=2) if rng.random() < 0.3 else p.hints
    call = lambda: ein.dot(expr, x, y, **hints)
    if solved is None or any(solved[0][n] != p.sizes[n] for n in shared):
        return Expect(call, error=True)  # a perturbed shape no longer fits y
    known, lead = solved
    atoms = _atoms(x, p, known, lead)
    spec = f"{_letters(names)},{_letters(y_names)}->{_letters(out)}"
    solved_sizes = dict(known, e=2)
    want = np.einsum(spec, atoms, y).reshape(
        [math.prod(solved_sizes[n] for n in g) for g in out_groups])
    return Expect(call, want)


ELEMENTWISE_KINDS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
                     "maximum": np.maximum, "minimum": np.minimum, "less": np.less}


def _elementwise_case(rng):
    p = Drawn(rng)
    names = p.names()
    kind = rng.choice(sorted(ELEMENTWISE_KINDS))
    y_names = rng.sample(names, rng.randint(0, len(names)))
    out = rng.sample(names, len(names))
    out_groups = _cut(rng, out)
    prefix = "... " if p.ellipsis else ""
    expr = f"{p.text()}, {' '.join(y_names)} -> {prefix}{text_of(out_groups)}"
    gen = np.random.default_rng(rng.randrange(99))
    x = gen.integers(-3, 4, size=p.shape)
    y = gen.integers(-3, 4, size=[p.sizes[n] for n in y_names]) if y_names else 2
    solved = p.solve()
    call = lambda: getattr(ein, kind)(expr, x, y, **p.hints)
    if solved is None or any(solved[0][n] != p.sizes[n] for n in y_names):
        return Expect(call, error=True)
    known, lead = solved
    atoms = _atoms(x, p, known, lead)
    if y_names:
        order = sorted(y_names, key=names.index)
        y_aligned = np.transpose(y, [y_names.index(n) for n in order]).reshape(
            [known[n] if n in y_names else 1 for n in names])
    else:
        y_aligned = y
    z = ELEMENTWISE_KINDS[kind](atoms, y_aligned)
    z = z.transpose(list(range(len(lead))) + [len(lead) + names.index(n) for n in out])
    want = z.reshape(lead + tuple(math.prod(known[n] for n in g) for g in out_groups))
    return Expect(call, want)


def _index_case(rng):
    v, c, t = rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 3)
    gen = np.random.default_rng(rng.randrange(99))
    table = gen.integers(0, 9, size=(v, c))
    dtype = rng.choice(INT_DTYPES)
    low = 0 if dtype.startswith("u") else -v
    ids = gen.integers(low, v, size=(2, t))
    wrong = rng.random()
    if wrong < 0.08:  # one index out of range
        ids = ids.reshape(-1)
        if ids.size:
            ids[rng.randrange(ids.size)] = rng.choice([v, v + 3, -v - 1 if low else v + 1])
        ids = ids.reshape(2, t)
    ids = ids.astype(dtype) if wrong >= 0.04 else ids.astype(rng.choice(["float32", "bool"]))
    bad = wrong < 0.04 or (wrong < 0.08 and ids.size > 0)
    kind = rng.choice(["get_at", "get_at", "set_at", "add_at"])
    if kind == "get_at":
        expr = rng.choice(["[v] c, b t -> b t c", "[v] c, b t", "[v] c, b t -> c t b"])
        call = lambda: ein.get_at(expr, table, ids)
        if bad:
            return Expect(call, error=True)
        want = table[ids.astype(np.int64)]
        return Expect(call, want.transpose(2, 1, 0) if expr.endswith("c t b") else want)
    updates = gen.integers(1, 5, size=(2, t, c))
    call = lambda: getattr(ein, kind)("[v] c, b t, b t c", table, ids, updates)
    if bad:
        return Expect(call, error=True)
    want = table.copy()
    flat_ids, flat_updates = ids.astype(np.int64).reshape(-1), updates.reshape(-1, c)
    if kind == "add_at":
        np.add.at(want, flat_ids, flat_updates)
        return Expect(call, want)
    if len(set((flat_ids % max(v, 1)).tolist())) != flat_ids.size:
        return Expect(call, None)  # repeated writes: which one wins is not specified
    want[flat_ids] = flat_updates
    return Expect(call, want)


def _along_case(rng):
    p = Drawn(rng)
    names = p.names()
    kind = rng.choice(["softmax", "flip", "roll", "sort", "argmax", "cumulative"])
    axis_name = rng.choice(names)
    x = np.random.default_rng(rng.randrange(99)).integers(-5, 5, size=p.shape)
    expr = p.text(bracketed=[axis_name])
    solved = p.solve()
    if kind == "cumulative":  # not an op: an unknown keyword is a TypeError by Python
        kind = "flip"
    call = {
        "softmax": lambda: ein.softmax(expr, x.astype(float), **p.hints),
        "flip": lambda: ein.flip(expr, x, **p.hints),
        "roll": lambda: ein.roll(expr, x, shift=2, **p.hints),
        "sort": lambda: ein.sort(expr, x, **p.hints),
        "argmax": lambda: ein.argmax(expr, x, **p.hints),
    }[kind]
    if solved is None:
        return Expect(call, error=True)
    known, lead = solved
    atoms = _atoms(x, p, known, lead)
    axis = len(lead) + names.index(axis_name)
    if kind == "softmax":
        e = np.exp(atoms - atoms.max(axis=axis, keepdims=True))
        want = (e / e.sum(axis=axis, keepdims=True)).reshape(p.shape)
    elif kind == "flip":
        want = np.flip(atoms, axis).reshape(p.shape)
    elif kind == "roll":
        want = np.roll(atoms, 2, axis).reshape(p.shape)
    elif kind == "sort":
        want = np.sort(atoms, axis).reshape(p.shape)
    else:
        # a coordinate axis of length one takes the bracketed axis' place (einx 0.4)
        want = np.argmax(atoms, axis).reshape(
            lead + tuple(math.prod(known.get(n, 1) for n in g if n not in ("1", axis_name))
                         for g in p.groups))
    return Expect(call, want)


def _junk_case(rng):
    op = rng.choice(sorted(OPS))
    if rng.random() < 0.5:
        expr = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 14)))
    else:
        alphabet = "abcs12()[]+,->. " + JUNK
        expr = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
    shapes = [None if rng.random() < 0.2 else tuple(rng.randint(1, 3)
                                                    for _ in range(rng.randint(0, 3)))
              for _ in range(rng.randint(0, 3))]
    sizes = {k: rng.choice([0, 1, 2, 3, (1, 2), (2,)])
             for k in rng.sample(["a", "b", "c", "s", "k"], rng.randint(0, 2))}
    xs = as_operands(shapes)
    return Expect(lambda: OPS[op](expr, xs, sizes), None)


HOSTILE_SIZES = (float("inf"), float("-inf"), float("nan"), 2**63, 2**64 + 1, 10**30, -1,
                 -(2**70), 2.5, "3", "", None, True, 1j, (), (1,) * 70, (2**62, 2**62),
                 np.float64(2.0), np.int64(3), [1, [2]], {"a": 1}, b"2")


def _hostile_case(rng):
    v = np.zeros(6)
    how = rng.randrange(5)
    if how == 0:
        op = rng.choice(["rearrange", "sum", "add", "dot", "arange", "solve", "explain"])
        expr = {"rearrange": "a -> a b", "sum": "a [b]", "add": "a b, b", "dot": "a [b->s]",
                "arange": "b", "solve": "a b", "explain": "a [b]"}[op]
        xs = {"rearrange": [v], "sum": [np.ones((6, 2))], "add": [np.ones((6, 2)), np.ones(2)],
              "dot": [np.ones((6, 2)), np.ones((2, 3))], "arange": [],
              "solve": [np.ones((6, 2))], "explain": [np.ones((6, 2))]}[op]
        sizes = {rng.choice("bs"): rng.choice(HOSTILE_SIZES)}
        return Expect(lambda: OPS[op](expr, xs, sizes), None)
    if how == 1:  # deep nesting
        depth = rng.choice([30, 33, 100, 400, 2000])
        opening, closing = rng.choice([("(", ")"), ("[", "]"), ("((", "))")])
        expr = "a -> " + opening * depth + "a" + closing * depth
        op = rng.choice(["rearrange", "sum", "solve", "softmax"])
        return Expect(lambda: OPS[op](expr, [v], {}), None)
    if how == 2:  # many axes
        count = rng.choice([60, 64, 65, 70, 200])
        expr = "a -> a " + rng.choice(["1 ", "(1) ", "1..."]) * count
        return Expect(lambda: ein.rearrange(expr, v), None)
    if how == 3:  # explain with values that are not ints or names
        value = rng.choice(HOSTILE_SIZES + ("int32); import os; (1", "float64", np.int32))
        which = rng.choice(["dtype", "shift", "backend", "shape"])
        if which == "dtype":
            return Expect(lambda: ein.explain("arange", "n", n=3, dtype=value), None)
        if which == "shift":
            return Expect(lambda: ein.explain("roll", "[a]", (6,), shift=value), None)
        if which == "backend":
            return Expect(lambda: ein.explain("sum", "[a]", (6,), backend=value), None)
        return Expect(lambda: ein.explain("sum", "[a]", (value,)), None)
    # indices of every kind on a scalar read
    index = rng.choice([True, False, 1.0, -4, 3, 2, -3, np.int8(1), np.uint8(2), np.float32(1),
                        np.bool_(True)])
    ok = isinstance(index, (int, np.integer)) and not isinstance(index, bool) and -3 <= index < 3
    call = lambda: ein.get_at("[v], -> ", np.arange(3.0), index)
    return Expect(call, np.arange(3.0)[int(index)] if ok else None, error=not ok)


BULK_KINDS = ((_rearrange_case, 3), (_reduce_case, 3), (_dot_case, 2), (_elementwise_case, 2),
              (_index_case, 2), (_along_case, 2), (_junk_case, 4), (_hostile_case, 1))


def test_a_hundred_thousand_calls_raise_only_notation_errors_and_agree_with_oracles():
    rng = random.Random(BULK_SEED)
    kinds = [k for k, weight in BULK_KINDS for _ in range(weight)]
    counts = {"calls": 0, "compared": 0, "einops": 0, "refused": 0}
    for number in range(BULK_CALLS):
        draw = rng.choice(kinds)
        case = draw(rng)
        counts["calls"] += 1
        where = f"LEVANTE_FUZZ_SEED={BULK_SEED}, call {number} ({draw.__name__})"
        try:
            got = case.call()
        except ein.NotationError as error:
            assert str(error)
            counts["refused"] += 1
            if case.value is not None:  # the oracle accepted it
                raise AssertionError(f"{where}: refused what the oracle accepts: {error}") from None
            continue
        assert not case.error, f"{where}: returned {got!r} where a NotationError was due"
        if case.value is not None:
            np.testing.assert_allclose(np.asarray(got), case.value, err_msg=where)
            counts["compared"] += 1
            if case.also is not None:
                np.testing.assert_array_equal(np.asarray(got), case.also(), err_msg=where)
                counts["einops"] += 1
    print(f"bulk fuzz: {counts}")
    assert counts["calls"] >= BULK_CALLS
    # the oracles saw a good share of the calls, and so did the refusals
    assert counts["compared"] > BULK_CALLS // 4 and counts["refused"] > BULK_CALLS // 5, counts
