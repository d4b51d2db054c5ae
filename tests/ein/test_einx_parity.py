"""levante.ein against einx 0.4.3: generated expressions, compared in shape and value.

Each case is an op, an expression, operands and sizes. Both libraries run it (on NumPy for
all, on JAX, `jax.jit` and PyTorch for the accepted ones of a sample): they agree when both
return equal values or both refuse (einx with any exception, levante with NotationError).
A refusal on one side only is either a documented choice (README, "Choices where einx 0.3
and 0.4 differ", listed in DOCUMENTED below with its reason) or a difference.

The module prints the counts (`pytest -s`); the test fails when a case differs that is not
listed, and when an undocumented difference appears in a class that agrees today.
"""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest

from levante import ein

einx = pytest.importorskip("einx")
jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jnp = jax.numpy

NAMES = "abcd"


class Case:
    def __init__(self, klass, op, expression, operands, sizes=None):
        self.klass, self.op, self.expression = klass, op, expression
        self.operands, self.sizes = tuple(operands), dict(sizes or {})

    def __repr__(self):
        shapes = [np.shape(x) for x in self.operands]
        return f"{self.op}({self.expression!r}, shapes={shapes}, sizes={self.sizes})"


def _call(lib, case, convert=lambda x: x):
    # copies: einx 0.4.3's add_at on NumPy writes into its first operand
    xs = [convert(x.copy()) if isinstance(x, np.ndarray) else x for x in case.operands]
    kwargs = dict(case.sizes)
    return getattr(lib, case.op)(case.expression, *xs, **kwargs)


def outcome(lib, case, convert=lambda x: x):
    """("ok", value) or ("refused", message) or ("crash", message) for levante."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = _call(lib, case, convert)
    except ein.NotationError as error:
        return "refused", str(error).splitlines()[0]
    except Exception as error:  # einx refuses with its own exception types
        if lib is ein or not isinstance(error, einx.errors.EinxError):
            return "crash", f"{type(error).__name__}: {str(error).splitlines()[0]}"
        return "refused", f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return "ok", value


def same_value(a, b):
    if isinstance(a, dict) or isinstance(b, dict) or isinstance(a, bool):
        return a == b
    if isinstance(a, tuple) != isinstance(b, tuple):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        return np.array_equal(a, b)
    return np.allclose(a.astype(float), b.astype(float), equal_nan=True, atol=1e-5)


# ---------------------------------------------------------------- generators


def rnd(rng, shape, kind="float"):
    gen = np.random.default_rng(rng.randrange(1000))
    if kind == "int":
        return gen.integers(-3, 4, size=shape)
    if kind == "bool":
        return gen.integers(0, 2, size=shape).astype(bool)
    return gen.standard_normal(shape).round(2)


def groups_of(rng, names):
    out, current = [], []
    for n in names:
        if current and rng.random() < 0.4:
            out.append(current)
            current = []
        current.append(n)
    return out + ([current] if current else [])


def written(groups, marked=()):
    def one(n):
        return f"[{n}]" if n in marked else n

    return " ".join(one(g[0]) if len(g) == 1 else "(" + " ".join(map(one, g)) + ")"
                    for g in groups)


def operand(rng, names=None, units=True, ellipsis=True):
    """(groups, sizes, shape, hints, has_ellipsis)."""
    names = names or rng.sample(NAMES, rng.randint(1, 3))
    sizes = {n: rng.randint(1, 3) for n in names}
    groups = groups_of(rng, list(names))
    if units and rng.random() < 0.25:
        groups.insert(rng.randint(0, len(groups)), ["1"])
    has_ellipsis = ellipsis and rng.random() < 0.25
    hints = {}
    for g in groups:
        if len(g) > 1:
            hints.update({n: sizes[n] for n in g[1:]})
    lead = [2] if has_ellipsis else []
    shape = tuple(lead + [math.prod(sizes.get(n, 1) for n in g) for g in groups])
    return groups, sizes, shape, hints, has_ellipsis


def prefix(flag):
    return "... " if flag else ""


def gen_rearrange(rng):
    groups, _, shape, hints, ell = operand(rng)
    names = [n for g in groups for n in g if n != "1"]
    form = rng.random()
    x = rnd(rng, shape)
    if form < 0.15:  # no output: the identity
        return Case("rearrange", rng.choice(["id", "rearrange"]), prefix(ell) + written(groups),
                    [x], hints)
    out = rng.sample(names, len(names))
    if rng.random() < 0.2:
        out.append(rng.choice(["1", "e"]))
        if "e" in out:
            hints = dict(hints, e=2)
    if rng.random() < 0.1 and names:  # drop an axis: allowed only for unit axes
        out.remove(rng.choice(names))
    out_groups = groups_of(rng, out)
    return Case("rearrange", rng.choice(["id", "rearrange"]),
                f"{prefix(ell)}{written(groups)} -> {prefix(ell)}{written(out_groups)}", [x],
                hints)


def gen_concat(rng):
    n1, n2 = rng.randint(1, 3), rng.randint(1, 3)
    a, b = rnd(rng, (2, n1)), rnd(rng, (2, n2))
    form = rng.randrange(8)
    if form == 4:  # a class token, written before or after the grid (einx: before)
        token, grid = rnd(rng, (n1,)), rnd(rng, (2, n2, 2, n1))
        if rng.random() < 0.5:
            return Case("concat", "rearrange", "c, b s... c -> b (1 + (s...)) c", [token, grid])
        return Case("concat", "rearrange", "b s... c, c -> b (1 + (s...)) c", [grid, token])
    if form == 5:  # an empty part
        return Case("concat", "rearrange", rng.choice(["x a, x -> x (a +)", "x a, x -> x ( + a)"]),
                    [a, a[:, 0]])
    if form == 6:  # the parts of two input concatenations, kept or mixed
        return Case("concat", "rearrange", rng.choice(["(a + b), (c + d) -> (a + b + c + d)",
                                                       "(a + b), (c + d) -> (a + c), (b + d)",
                                                       "(a + b), (c + d) -> (a + b), (c + d)"]),
                    [rnd(rng, (n1 + n2,)), rnd(rng, (3,))], {"a": n1, "c": 1})
    if form == 7:  # split into parts written in another order
        return Case("concat", "rearrange", rng.choice(["(a + b) -> a, b", "(a + b) -> b, a"]),
                    [rnd(rng, (n1 + n2,))], {"a": n1})
    if form == 0:
        return Case("concat", "rearrange", "x a, x b -> x (a + b)", [a, b])
    if form == 1:
        return Case("concat", "rearrange", "x (a + b) -> x a, x b", [rnd(rng, (2, n1 + n2))],
                    {"a": n1})
    if form == 2:
        return Case("concat", "rearrange", "x a, x b -> x (b + a)", [a, b])
    return Case("concat", "rearrange", "x a, x b -> (a + b) x", [a, b])


REDUCTIONS = ("sum", "mean", "max", "min", "prod", "any", "all", "var", "std", "logsumexp",
              "count_nonzero")


def gen_reduce(rng):
    groups, _, shape, hints, ell = operand(rng)
    names = [n for g in groups for n in g if n != "1"]
    op = rng.choice(REDUCTIONS)
    kind = "bool" if op in ("any", "all") else "float"
    x = rnd(rng, shape, kind)
    gone = rng.sample(names, rng.randint(1, len(names)))
    form = rng.random()
    if form < 0.5:
        expr = prefix(ell) + written(groups, gone)
    elif form < 0.85:
        kept = [[n for n in g if n not in gone] for g in groups]
        expr = (f"{prefix(ell)}{written(groups, gone)} -> "
                f"{prefix(ell)}{written([g for g in kept if g])}")
    else:  # an output axis that the input lacks, or the diagonal: refused by einx
        expr = rng.choice([f"{prefix(ell)}{written(groups, gone)} -> {prefix(ell)} 1",
                           f"{prefix(ell)}{written(groups)} -> {prefix(ell)}"])
    return Case("reduce", op, expr, [x], hints)


ELEMENTWISE = ("add", "subtract", "multiply", "maximum", "minimum", "logaddexp", "where",
               "less", "equal", "logical_and")


def gen_elementwise(rng):
    op = rng.choice(ELEMENTWISE)
    arity = 3 if op == "where" else rng.choice([2, 2, 3, 4])
    if op in ("subtract", "less", "equal"):
        arity = 2
    names = rng.sample(NAMES, rng.randint(1, 3))
    sizes = {n: rng.randint(1, 3) for n in names}
    exprs, operands = [], []
    for i in range(arity):
        mine = rng.sample(names, rng.randint(0, len(names)))
        if i == 0 or rng.random() < 0.3:
            mine = rng.sample(names, len(names))
        exprs.append(" ".join(mine))
        kind = "bool" if (op == "logical_and" or (op == "where" and i == 0)) else "float"
        operands.append(rnd(rng, tuple(sizes[n] for n in mine), kind) if mine
                        else (1.5 if kind == "float" else True))
    expr = ", ".join(exprs)
    if rng.random() < 0.5:
        out = rng.sample(names, len(names))
        expr += " -> " + written(groups_of(rng, out))
    return Case("elementwise", op, expr, operands, {})


def gen_dot(rng):
    count = rng.choice([1, 2, 2, 2, 3])
    names = rng.sample(NAMES, rng.randint(2, 4))
    sizes = {n: rng.randint(1, 3) for n in names}
    exprs = [rng.sample(names, rng.randint(1, len(names))) for _ in range(count)]
    present = sorted({n for e in exprs for n in e})
    out = rng.sample(present, rng.randint(0, len(present)))
    expr = ", ".join(" ".join(e) for e in exprs) + " -> " + " ".join(out)
    return Case("dot", "dot", expr, [rnd(rng, tuple(sizes[n] for n in e)) for e in exprs])


def gen_index(rng):
    v, c, t = rng.randint(2, 4), rng.randint(1, 3), rng.randint(1, 3)
    gen = np.random.default_rng(rng.randrange(1000))
    ids = gen.integers(0, v, size=(2, t))
    table = rnd(rng, (v, c))
    form = rng.randrange(6)
    if form == 0:
        return Case("index", "get_at", "[v] c, b t -> b t c", [table, ids])
    if form == 1:
        return Case("index", "get_at", "[v] c, b t -> c t b", [table, ids])
    if form == 2:
        grid = rnd(rng, (v, 3, c))
        coords = np.stack([ids, gen.integers(0, 3, size=(2, t))], -1)
        return Case("index", "get_at", "[h w] c, b t [2] -> b t c", [grid, coords])
    if form == 3:
        batch = rnd(rng, (2, v, c))
        return Case("index", "get_at", "b [v] c, b t -> b t c", [batch, ids])
    updates = rnd(rng, (2, t, c))
    op = rng.choice(["set_at", "add_at", "subtract_at"])
    if op == "set_at":  # distinct indices: which repeated write wins is unspecified
        ids = np.stack([gen.permutation(v)[:t] for _ in range(2)]).reshape(2, t)
        updates = rnd(rng, (t, c))
        return Case("index", op, "[v] c, t, t c -> [v] c", [table, ids[0], updates])
    return Case("index", op, "[v] c, b t, b t c -> [v] c", [table, ids, updates])


ALONG = ("softmax", "log_softmax", "flip", "roll", "sort", "argsort", "argmax", "argmin")


def gen_along(rng):
    groups, _, shape, hints, ell = operand(rng, units=False)
    names = [n for g in groups for n in g]
    op = rng.choice(ALONG)
    count = 1 if op in ("sort", "argsort") else rng.choice([1, 1, 2])
    marked = rng.sample(names, min(count, len(names)))
    x = rnd(rng, shape)
    expr = prefix(ell) + written(groups, marked)
    if op in ("softmax", "log_softmax", "flip", "roll", "sort", "argsort") and rng.random() < 0.4:
        expr += f" -> {prefix(ell)}{written(groups, marked)}"
    elif op in ("argmax", "argmin") and rng.random() < 0.5:
        # the coordinate axis written in brackets, or (for one axis) left out
        rest = [[n for n in g if n not in marked] for g in groups]
        coordinate = rng.choice(["", f" [{len(marked)}]", " [2]"])
        expr += f" -> {prefix(ell)}{written([g for g in rest if g])}{coordinate}"
    sizes_kw = dict(hints)
    if op == "roll":
        sizes_kw["shift"] = rng.choice([1, -2])
    return Case("along", op, expr, [x], sizes_kw)


def gen_solve(rng):
    groups, _, shape, hints, ell = operand(rng)
    op = rng.choice(["matches", "solve"])
    if rng.random() < 0.3:  # a shape that does not fit
        shape = shape + (2,)
    return Case("solve", op, prefix(ell) + written(groups), [np.zeros(shape)], hints)


def gen_grammar(rng):
    """The rarer forms of einx 0.4's grammar, with drawn sizes."""
    b, h, w, c = (rng.randint(1, 3) for _ in range(4))
    x = rnd(rng, (b, h, w, c))
    forms = [
        ("sum", "[([a] ())] b -> 1 b", [rnd(rng, (h, w))], {}),
        ("argmin", "b [h->] w c", [x], {}),
        ("argmin", "b [h->1] w c", [x], {}),
        ("argmax", "b [h w] c", [x], {}),
        ("get_at", "b [h] c, b p [1] -> b p c",
         [x[..., 0], np.random.default_rng(b).integers(0, h, (b, 3, 1))], {}),
        ("get_at", "b p [i,->]", [rnd(rng, (b, 3, 4)), np.zeros((b, 3), int)], {}),
        ("id", "b (s...) (r...) c -> b (s...) r... c", [rnd(rng, (b, h, 2 * w, c))],
         {"r": (w, 2)}),
        ("flip", "a [b b] -> a [b b]", [rnd(rng, (b, h, h))], {}),
        ("roll", "a [b c]", [x[0]], {"shift": rng.choice([1, (1, 2)])}),
        ("add_at", "[v] c, t, t c -> c [v]",
         [rnd(rng, (h + 1, c)), np.zeros(2, int), np.ones((2, c))], {}),
        ("softmax", "[a] (b [c])", [rnd(rng, (h, b * c))], {"b": b}),
        ("id", "a b -> (a b)", [x[0, 0]], {}),
    ]
    op, expr, operands, sizes = rng.choice(forms)
    return Case("grammar", op, expr, operands, sizes)


GENERATORS = {"rearrange": gen_rearrange, "concat": gen_concat, "reduce": gen_reduce,
              "elementwise": gen_elementwise, "dot": gen_dot, "index": gen_index,
              "along": gen_along, "solve": gen_solve, "grammar": gen_grammar}
PER_CLASS = 60


def generated():
    rng = random.Random(4)
    return [gen(rng) for klass, gen in GENERATORS.items() for _ in range(PER_CLASS)]


# the inputs of the einx 0.4.3 comparison report, by class
x234 = np.arange(24.0).reshape(2, 3, 4)
CURATED = [
    Case("curated", "add", "a b, a b 1, l -> b l a 1",
         [np.ones((2, 3)), np.ones((2, 3, 1)), np.arange(4.0)]),
    Case("curated", "multiply", "a, a, a -> a", [np.arange(3.0)] * 3),
    Case("curated", "maximum", "a, a, a", [np.arange(3.0), -np.arange(3.0), np.ones(3)]),
    Case("curated", "id", "a b c", [x234]),
    Case("curated", "rearrange", "t", [np.arange(5.0)]),
    Case("curated", "id", "a b c -> a b", [np.ones((2, 3, 1))]),
    Case("curated", "logaddexp", "a, a", [np.arange(3.0), np.ones(3)]),
    Case("curated", "sum", "a [b]", [np.ones((2, 3))], {"zz": 5}),
    Case("curated", "dot", "a b1, c b2 -> a c", [np.ones((2, 3)), np.ones((4, 3))]),
    Case("curated", "dot", "a b -> a", [np.ones((2, 3))]),
    Case("curated", "dot", "a b, a c -> b", [np.ones((2, 3)), np.ones((2, 4))]),
    Case("curated", "dot", "a [b], a [b] -> 1", [np.ones((2, 3)), np.ones((2, 3))]),
    Case("curated", "dot", "[a b] ->", [np.ones((2, 3))]),
    Case("curated", "dot", "a b -> b a", [np.ones((2, 3))]),
    Case("curated", "sum", "a [b] -> 1", [np.ones((2, 3))]),
    Case("curated", "sum", "a b", [np.ones((2, 3))]),  # the documented choice
    Case("curated", "sum", "a a b -> b", [np.ones((2, 2, 3))]),
    Case("curated", "rearrange", "a, b -> (b + a)", [np.ones(2), np.ones(3)]),
    Case("curated", "rearrange", "c, b s... c -> b (1 + (s...)) c",
         [np.arange(3.0), np.arange(48.0).reshape(2, 4, 2, 3)]),
    Case("curated", "rearrange", "b s... c, c -> b (1 + (s...)) c",
         [np.arange(48.0).reshape(2, 4, 2, 3), np.arange(3.0)]),
    Case("curated", "rearrange", "a, -> (a +)", [np.ones(2), 1.0]),
    Case("curated", "rearrange", "( + a) -> a", [np.ones(2)]),
    Case("curated", "rearrange", "(a + b), (c + d) -> (a + c), (b + d)",
         [np.arange(5.0), np.arange(4.0)], {"a": 2, "c": 1}),
    Case("curated", "rearrange", "(a + b), c -> (a + c + b)", [np.arange(5.0), np.ones(2)],
         {"a": 2}),
    Case("curated", "rearrange", "(a + b) -> b, a", [np.arange(5.0)], {"a": 2}),
    Case("curated", "rearrange", "a, b -> b, a", [np.ones(2), np.ones(3)]),
    Case("curated", "rearrange", "(a + a) -> a, a", [np.arange(4.0)]),
    Case("curated", "rearrange", "(a + a) -> a, a", [np.arange(5.0)]),
    Case("curated", "rearrange", "(a + b a) -> a, b a", [np.arange(6.0)], {"b": 2}),
    Case("curated", "rearrange", "(a + (b a)) -> a, b a", [np.arange(6.0)], {"b": 2}),
    Case("curated", "rearrange", "(s... + c) -> s..., c", [np.arange(6.0)], {"c": 2}),
    Case("curated", "argmin", "(b [h]) [w] c", [x234.reshape(6, 2, 2)], {"b": 2}),
    Case("curated", "softmax", "[a b] -> [b a]", [np.ones((2, 3))]),
    Case("curated", "roll", "[shift]", [np.arange(3.0)], {"shift": 1}),
    Case("curated", "matches", "(a b) c", [np.ones((6, 4))]),
    Case("curated", "id", "(k k) -> k", [np.arange(49.0)]),
    Case("curated", "id", "b x... c -> b c x...", [np.ones((2, 3))], {"x": ()}),
    Case("curated", "sum", "[a a] b", [x234[:, :2, :2].reshape(2, 2, 2) * 1.0]),
    Case("curated", "flip", "a [b b] -> a [b b]", [np.arange(18.0).reshape(2, 3, 3)]),
    Case("curated", "softmax", "a [b b] -> a [b b]", [np.arange(18.0).reshape(2, 3, 3)]),
    Case("curated", "get_at", "b [h h] c, b p [2] -> b p c",
         [np.arange(72.0).reshape(2, 3, 3, 4), np.arange(20).reshape(2, 5, 2) % 3]),
    Case("curated", "argmin", "b [h] w c", [x234.reshape(2, 3, 4, 1)]),
    Case("curated", "argmax", "b [h] w c", [np.random.default_rng(1).normal(size=(2, 3, 4, 5))]),
    Case("curated", "argmax", "(b [h]) w c", [x234.reshape(6, 2, 2)], {"b": 2}),
    Case("curated", "argmax", "b [h 1] c", [x234.reshape(2, 3, 1, 4)]),
    Case("curated", "argmax", "b [1] c", [x234.reshape(6, 1, 4)]),
    Case("curated", "argmin", "b [1] c [1] -> b c [2]", [x234.reshape(6, 1, 4, 1)]),
    Case("curated", "argmax", "b [h] w c -> b w c", [x234.reshape(2, 3, 2, 2)]),
    Case("curated", "argmax", "b [h w] c -> b c 2", [x234.reshape(2, 3, 2, 2)]),
    Case("curated", "argmax", "b [h] w c -> b [2] w c", [x234.reshape(2, 3, 2, 2)]),
    Case("curated", "argmax", "b [h w] c -> b [2] [1] c", [x234.reshape(2, 3, 2, 2)]),
    Case("curated", "mean", "([p q]) c", [x234.reshape(6, 4)]),
    Case("curated", "mean", "[(p q)] c", [x234.reshape(6, 4)]),
    Case("curated", "id", "(u v) (w z) -> (u v w z)", [x234.reshape(6, 4)]),
    Case("curated", "dot", "(a b) c, (a b) d -> c d", [x234.reshape(6, 4), np.ones((6, 2))]),
    Case("curated", "sum", "a [(b c)]", [x234.reshape(2, 12)], {"b": 3}),
    Case("curated", "sum", "a [b [c]]", [x234]),
    Case("curated", "sum", "[([a] ())] b -> 1 b", [x234[0]]),
    Case("curated", "argmin", "b [h->] w c", [x234.reshape(2, 3, 2, 2)]),
    Case("curated", "argmin", "b [h->1] w c", [x234.reshape(2, 3, 2, 2)]),
    Case("curated", "set_at", "[v] c, t, t c -> c [v]",
         [x234[0], np.array([2, 0]), -np.ones((2, 4))]),
    Case("curated", "id", "b (s...) (r...) c -> b (s...) r... c",
         [np.arange(720.0).reshape(2, 6, 20, 3)], {"r": (10, 2)}),
    Case("curated", "get_at", "b p [i,->]", [x234, np.array([[0, 3, 1], [2, 2, 3]])]),
    Case("curated", "set_at", "b p [i,,->i]",
         [x234, np.array([[0, 3, 1], [2, 2, 0]]), -np.ones((2, 3))]),
    Case("curated", "get_at", "[h w] c, b p [1, 1] -> b p c",
         [x234, np.array([[[1], [0]]]), np.array([[[2], [0]]])]),
    Case("curated", "get_at", "[h w] c, b p [,] -> b p c",
         [x234, np.array([[1, 0]]), np.array([[2, 0]])]),
    Case("curated", "set_at", "[w] b c [h], [2] b p, c b p -> b [w h] c",
         [np.arange(120.0).reshape(4, 2, 3, 5), np.array([[[0, 3]] * 2, [[4, 1]] * 2]),
          -np.ones((3, 2, 2))]),
]

# deliberate differences (README, "Choices where einx 0.3 and 0.4 differ"): a predicate
# on the case and both outcomes, and the reason
DOCUMENTED = [
    (lambda c, theirs, mine: c.op in REDUCTIONS and "[" not in c.expression
     and "->" not in c.expression and theirs[0] == "ok" and mine[0] == "refused",
     "a reduction needs brackets or an output: einx 0.4 returns the input unchanged"),
]


def documented(case, theirs, mine):
    return next((reason for test, reason in DOCUMENTED if test(case, theirs, mine)), None)


def compare(cases):
    """Counts (agree, documented choices, einx fails, differ) and the differing rows.

    "einx fails": einx raises an exception of its own machinery (not one of its notation
    errors, `einx.errors.EinxError`), e.g. `solve("a d 1", ...)` in 0.4.3 raises
    "ValueError: Maximum allowed dimension exceeded"; there is no behaviour to compare.
    """
    agree, differ, chosen, broken, rows = 0, 0, 0, 0, []
    for case in cases:
        theirs, mine = outcome(einx, case), outcome(ein, case)
        if theirs[0] == "crash" and mine[0] != "crash":
            broken += 1
            continue
        if mine[0] == "crash":
            same = False
        elif theirs[0] == mine[0] == "refused":
            same = True
        elif theirs[0] == mine[0] == "ok":
            same = same_value(theirs[1], mine[1])
        else:
            same = False
        if same:
            agree += 1
        elif documented(case, theirs, mine):
            chosen += 1
        else:
            differ += 1
            rows.append((case, theirs, mine))
    return agree, chosen, broken, differ, rows


def short(result):
    kind, value = result
    if kind == "ok":
        return f"ok {getattr(value, 'shape', value)}"
    return f"{kind}: {value[:90]}"


def report(title, counts, rows):
    agree, chosen, broken, differ = counts
    print(f"\n{title}: {agree} agree, {chosen} documented choices, {broken} where einx "
          f"fails internally, {differ} differ")
    for case, theirs, mine in rows:
        print(f"  {case!r}\n    einx: {short(theirs)}\n    ein:  {short(mine)}")


# classes where every generated case agrees (or differs by a documented choice): a new
# difference there is a regression
AGREEING = ("concat", "index", "solve", "reduce", "rearrange", "elementwise", "dot", "along",
            "grammar")


def test_generated_expressions_agree_with_einx():
    by_class = {}
    for case in generated():
        by_class.setdefault(case.klass, []).append(case)
    total = [0, 0, 0, 0]
    failures = []
    for klass, cases in by_class.items():
        *counts, rows = compare(cases)
        report(f"einx 0.4.3 parity, {klass}", counts, rows)
        total = [t + c for t, c in zip(total, counts)]
        if klass in AGREEING:
            failures += rows
    report(f"einx 0.4.3 parity, all {sum(total)} generated cases", total, [])
    assert not [r for r in failures if r[2][0] == "crash"], "levante raised a raw exception"
    assert not failures, f"{len(failures)} undocumented differences, first: {failures[0]}"


def test_the_reported_cases_agree_with_einx():
    *counts, rows = compare(CURATED)
    report("einx 0.4.3 parity, reported cases", counts, rows)
    assert not rows, f"{len(rows)} differ: {rows[0]}"


CONVERTERS = {
    "jax": jnp.asarray,
    "jit": jnp.asarray,
    "torch": lambda x: torch.from_numpy(np.ascontiguousarray(x)),
}


@pytest.mark.parametrize("backend", sorted(CONVERTERS))
def test_accepted_cases_agree_on_every_backend(backend):
    """Every 4th generated case that both accept: on JAX, under jax.jit and on PyTorch,
    levante gives einx's values (or, for a documented choice, its own NumPy values)."""
    convert = CONVERTERS[backend]
    checked = 0
    for case in generated()[::4]:
        if case.op in ("solve", "matches"):
            continue
        theirs, on_numpy = outcome(einx, case), outcome(ein, case)
        if theirs[0] != "ok" or on_numpy[0] != "ok":
            continue
        # einx's value where the two agree on NumPy, levante's own where a documented
        # choice differs (argmax over one axis)
        want = theirs[1] if same_value(theirs[1], on_numpy[1]) else on_numpy[1]
        if backend == "jit":
            arrays = [i for i, x in enumerate(case.operands) if isinstance(x, np.ndarray)]

            def run(*xs, case=case, arrays=arrays):
                operands = list(case.operands)
                for i, x in zip(arrays, xs):
                    operands[i] = x
                return getattr(ein, case.op)(case.expression, *operands, **case.sizes)

            mine = jax.jit(run)(*[jnp.asarray(case.operands[i]) for i in arrays])
        else:
            mine = _call(ein, case, convert)
        to_numpy = (lambda y: y.numpy()) if backend == "torch" else np.asarray
        mine = tuple(map(to_numpy, mine)) if isinstance(mine, tuple) else to_numpy(mine)
        assert same_value(want, mine), (backend, case)
        checked += 1
    assert checked > 40
