"""Fuzz tests of `levante.ein`: whatever the user writes, the only failure is NotationError.

1. Random strings over the grammar's alphabet plus junk, fed to every kind of op with
   random small tensors and sizes: an op either returns or raises `ein.NotationError`.
2. Random well-formed expressions with shapes that sometimes fit and sometimes do not:
   an independent solver written here says which; the result must then equal a NumPy
   oracle, or the op must raise `ein.NotationError`.
"""

from __future__ import annotations

import math

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
    kept = [[n for n in g if n not in gone] for g in problem.groups]
    # a group loses its place when every name in it is reduced; `1` stays a unit axis
    want = reduced.reshape(lead + tuple(math.prod(known.get(n, 1) for n in g if n != "1")
                                        for g in kept if g))
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
