"""Every notation mistake raises `NotationError` carrying the user's own words.

Each case checks the exception class, that the message repeats the expression, that the `^`
line sits exactly under the offending part (column and text), and the operand-shapes and
given-sizes lines. A second group checks that odd inputs never leak a bare KeyError,
IndexError, AssertionError, TypeError or a backend's own error.
"""

from __future__ import annotations

import numpy as np
import pytest

from levante import ein

SyntaxE, RankE, SizeE, AnyE = (ein.NotationSyntaxError, ein.NotationRankError,
                               ein.NotationSizeError, ein.NotationError)

x234 = np.ones((2, 3, 4), np.float32)
x23 = np.ones((2, 3), np.float32)
x3 = np.ones(3, np.float32)


def _torch():
    torch = pytest.importorskip("torch")
    return torch


def check_message(error, expression, caret, shapes, sizes):
    """The rendered message: expression, caret under `caret=(column, text)`, shapes, sizes."""
    text = str(error)
    lines = text.splitlines()
    assert f"    {expression}" in lines, text
    row = lines.index(f"    {expression}")
    assert row + 1 < len(lines), text
    mark = lines[row + 1][4:]
    assert lines[row + 1].startswith("    ") and set(mark.strip()) == {"^"}, text
    start = len(mark) - len(mark.lstrip(" "))
    width = len(mark.strip())
    column, part = caret
    assert (start, expression[start:start + width]) == (column, part), text
    assert expression[column:column + len(part)] == part  # the case itself is consistent
    assert f"  operand shapes: {shapes}" in lines, text
    given = [line for line in lines if line.startswith("  given sizes:")]
    if sizes is None:
        assert given == [], text
    else:
        assert given == [f"  given sizes: {sizes}"], text
    # the reason comes first, before the expression
    assert row >= 1 and lines[0].strip(), text


def raises(kind, call):
    with pytest.raises(ein.NotationError) as info:
        call()
    error = info.value
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    assert isinstance(error, ValueError)
    return error


# (id, call, exception class, expression, (caret column, caret text), shapes, sizes, reason)
CASES = [
    # -- unknown characters
    ("unknown-character", lambda: ein.rearrange("a b $ -> a b", x23, a=2), SyntaxE,
     "a b $ -> a b", (4, "$"), "(2, 3)", "a=2", "unexpected character '$'"),
    ("unknown-unicode", lambda: ein.sum("a [β]", x23), SyntaxE,
     "a [β]", (3, "β"), "(2, 3)", None, "unexpected character"),
    ("unknown-semicolon", lambda: ein.add("a b; b", x23, x3), SyntaxE,
     "a b; b", (3, ";"), "(2, 3), (3,)", None, "unexpected character ';'"),
    # -- unbalanced ( ) [ ]
    ("unclosed-paren-before-arrow", lambda: ein.rearrange("a (b c -> a b c", x234), SyntaxE,
     "a (b c -> a b c", (2, "("), "(2, 3, 4)", None, "unbalanced '('"),
    ("unclosed-paren-at-end", lambda: ein.rearrange("a b c -> a (b c", x234), SyntaxE,
     "a b c -> a (b c", (11, "("), "(2, 3, 4)", None, "unbalanced '('"),
    ("stray-close-paren", lambda: ein.rearrange("a b) c -> a b c", x234), SyntaxE,
     "a b) c -> a b c", (3, ")"), "(2, 3, 4)", None, "unbalanced ')'"),
    ("unclosed-bracket", lambda: ein.sum("a [b c", x234, b=3), SyntaxE,
     "a [b c", (2, "["), "(2, 3, 4)", "b=3", "unbalanced '['"),
    ("unclosed-bracket-before-comma", lambda: ein.add("a [b, c", x23, x3), SyntaxE,
     "a [b, c", (2, "["), "(2, 3), (3,)", None, "unbalanced '['"),
    ("stray-close-bracket", lambda: ein.sum("a b] c", x234), SyntaxE,
     "a b] c", (3, "]"), "(2, 3, 4)", None, "unbalanced ']'"),
    ("paren-closed-by-bracket", lambda: ein.sum("a [(b c]", x234), SyntaxE,
     "a [(b c]", (3, "("), "(2, 3, 4)", None, "unbalanced '('"),
    # -- nested brackets
    # -- an axis both inside and outside brackets
    ("inside-and-outside-reduce", lambda: ein.sum("a [b] b", np.ones((2, 3, 3)), a=2), AnyE,
     "a [b] b", (3, "b"), "(2, 3, 3)", "a=2", "both inside and outside"),
    ("inside-and-outside-softmax", lambda: ein.softmax("[a] b a", np.ones((2, 3, 2))), AnyE,
     "[a] b a", (1, "a"), "(2, 3, 2)", None, "both inside and outside"),
    ("inside-and-outside-dot", lambda: ein.dot("a [b], b c -> a c", x23, np.ones((3, 4))),
     AnyE, "a [b], b c -> a c", (3, "b"), "(2, 3), (3, 4)", None, "both inside and outside"),
    # -- unsolvable sizes
    ("unsolvable-composition", lambda: ein.rearrange("(a b) c -> a b c", x23), SizeE,
     "(a b) c -> a b c", (1, "a"), "(2, 3)", None, "cannot determine the size of axis `a`"),
    ("unsolvable-output-axis", lambda: ein.rearrange("a b -> a b n", x23, a=2), SizeE,
     "a b -> a b n", (11, "n"), "(2, 3)", "a=2", "cannot determine the size of axis `n`"),
    # -- conflicting sizes
    ("conflict-between-operands", lambda: ein.add("a b, a b", x23, np.ones((2, 4))), SizeE,
     "a b, a b", (7, "b"), "(2, 3), (2, 4)", None, "conflicting sizes"),
    ("conflict-with-given", lambda: ein.rearrange("a b -> b a", x23, a=5), SizeE,
     "a b -> b a", (0, "a"), "(2, 3)", "a=5", "conflicting sizes"),
    ("conflict-in-dot", lambda: ein.dot("a b, b c -> a c", x23, np.ones((4, 5))), SizeE,
     "a b, b c -> a c", (5, "b"), "(2, 3), (4, 5)", None, "conflicting sizes"),
    ("conflict-in-composition", lambda: ein.rearrange("(a b) -> a b", np.ones(6), a=2, b=4),
     SizeE, "(a b) -> a b", (0, "(a b)"), "(6,)", "a=2, b=4", "conflicting sizes"),
    # -- a size that does not divide
    ("does-not-divide", lambda: ein.rearrange("b (s w) -> b s w", np.ones((2, 30)), w=16),
     SizeE, "b (s w) -> b s w", (2, "(s w)"), "(2, 30)", "w=16", "does not divide"),
    ("does-not-divide-ellipsis",
     lambda: ein.rearrange("b (s w)... -> b s... w...", np.ones((2, 32, 30)), w=16), SizeE,
     "b (s w)... -> b s... w...", (2, "(s w)..."), "(2, 32, 30)", "w=16", "does not divide"),
    # -- wrong rank
    ("rank-too-high", lambda: ein.sum("a [b]", x234), RankE,
     "a [b]", (0, "a [b]"), "(2, 3, 4)", None, "operand 1 has rank 3"),
    ("rank-second-operand", lambda: ein.add("a b, b", x23, x23), RankE,
     "a b, b", (5, "b"), "(2, 3), (2, 3)", None, "operand 2 has rank 2"),
    ("rank-ellipsis-too-short", lambda: ein.rearrange("a b c ... -> a", x23), RankE,
     "a b c ... -> a", (0, "a b c ..."), "(2, 3)", None, "at least 3 axes"),
    # -- a vectorized axis missing from the output
    ("missing-from-output-rearrange", lambda: ein.rearrange("a b c -> a b", x234), AnyE,
     "a b c -> a b", (4, "c"), "(2, 3, 4)", None, "`c` is missing from the output"),
    ("missing-from-output-elementwise", lambda: ein.add("a b, b -> b", x23, x3), AnyE,
     "a b, b -> b", (0, "a"), "(2, 3), (3,)", None, "`a` of an operand is missing"),
    ("missing-from-output-elementwise-second",
     lambda: ein.multiply("a, a b -> a", np.ones(2), x23), AnyE,
     "a, a b -> a", (5, "b"), "(2,), (2, 3)", None, "`b` of an operand is missing"),
    ("missing-from-output-softmax", lambda: ein.softmax("a [b] -> a", x23), AnyE,
     "a [b] -> a", (3, "b"), "(2, 3)", None, "`b` of an operand is missing"),
    # -- wrong number of operands
    ("operands-rearrange", lambda: ein.rearrange("a b -> b a", x23, x23), RankE,
     "a b -> b a", (0, "a b -> b a"), "(2, 3), (2, 3)", None, "describes 1 operands but 2"),
    ("operands-elementwise", lambda: ein.subtract("a b, b, b", x23, x3, x3), RankE,
     "a b, b, b", (0, "a b, b, b"), "(2, 3), (3,), (3,)", None,
     "2 operands for subtract but 3"),
    ("operands-where", lambda: ein.where("a [b]", x23, x3), RankE,
     "a [b]", (0, "a [b]"), "(2, 3), (3,)", None, "3 operands for where but 2"),
    ("operands-dot-shorthand", lambda: ein.dot("a [b->c]", x23, c=4), RankE,
     "a [b->c]", (0, "a [b->c]"), "(2, 3)", "c=4", "describes 2 operands but 1"),
    ("operands-reduction", lambda: ein.sum("a [b]", x23, x23), RankE,
     "a [b]", (0, "a [b]"), "(2, 3), (2, 3)", None, "describes 1 operands but 2"),
    ("operands-softmax", lambda: ein.softmax("a [b]", x23, x23), RankE,
     "a [b]", (0, "a [b]"), "(2, 3), (2, 3)", None, "but 2"),
    ("operands-arange", lambda: ein.arange("n", x3, n=3), RankE,
     "n", (0, "n"), "(3,)", "n=3", "but 1"),
    # -- a reduction with nothing to reduce (einx 0.4 returns x unchanged)
    ("nothing-to-reduce", lambda: ein.sum("a b", x23), AnyE,
     "a b", (0, "a b"), "(2, 3)", None, "nothing to reduce"),
    ("nothing-to-reduce-output", lambda: ein.mean("a b -> b a", x23), AnyE,
     "a b -> b a", (0, "a b -> b a"), "(2, 3)", None, "nothing to reduce"),
    ("nothing-to-reduce-ellipsis", lambda: ein.max("...", x234), AnyE,
     "...", (0, "..."), "(2, 3, 4)", None, "nothing to reduce"),
    # -- keepdims with an explicit output
    ("keepdims-with-output", lambda: ein.sum("a b -> a", x23, keepdims=True), AnyE,
     "a b -> a", (0, "a b -> a"), "(2, 3)", None, "keepdims"),
    # -- dot without output
    ("dot-without-output", lambda: ein.dot("a b, b c", x23, np.ones((3, 4))), AnyE,
     "a b, b c", (0, "a b, b c"), "(2, 3), (3, 4)", None, "dot needs an output"),
    # -- rearrange with brackets
    ("rearrange-brackets", lambda: ein.rearrange("a [b] -> b a", x23), AnyE,
     "a [b] -> b a", (3, "b"), "(2, 3)", None, "brackets mean nothing"),
    ("rearrange-arrow-brackets", lambda: ein.rearrange("a [b->c] -> a c", x23, c=2), AnyE,
     "a [b->c] -> a c", (3, "b"), "(2, 3)", "c=2", "brackets mean nothing"),
    # -- a list instead of a tensor
    ("list-operand", lambda: ein.sum("a [b]", [[1, 2], [3, 4]]), RankE,
     "a [b]", (0, "a [b]"), "list", None, "operand 1 is a list"),
    ("list-second-operand", lambda: ein.add("a b, b", x23, [1.0, 2.0, 3.0]), RankE,
     "a b, b", (5, "b"), "(2, 3), list", None, "operand 2 is a list"),
    ("none-operand", lambda: ein.rearrange("a -> a", None), RankE,
     "a -> a", (0, "a"), "NoneType", None, "operand 1 is a NoneType"),
    # -- roll without shift
    ("roll-without-shift", lambda: ein.roll("a [b]", x23), AnyE,
     "a [b]", (0, "a [b]"), "(2, 3)", None, "roll needs shift="),
    ("roll-shift-none", lambda: ein.roll("a [b]", x23, shift=None), AnyE,
     "a [b]", (0, "a [b]"), "(2, 3)", None, "roll needs shift="),
    ("roll-too-many-shifts", lambda: ein.roll("a [b]", x23, shift=(1, 2)), AnyE,
     "a [b]", (0, "a [b]"), "(2, 3)", None, "2 shifts for 1"),
    ("roll-float-shift", lambda: ein.roll("a [b]", x23, shift=1.5), AnyE,
     "a [b]", (0, "a [b]"), "(2, 3)", None, "shift"),
    # -- sort with two bracketed axes
    ("sort-two-axes", lambda: ein.sort("a [b c]", x234), AnyE,
     "a [b c]", (3, "b c"), "(2, 3, 4)", None, "one bracketed axis"),
    ("argsort-two-axes", lambda: ein.argsort("[a] b [c]", x234), AnyE,
     "[a] b [c]", (1, "a] b [c"), "(2, 3, 4)", None, "one bracketed axis"),
    # -- factories returning the wrong shape
    ("factory-wrong-shape", lambda: ein.add("a b, b", x23, lambda shape: np.ones(5)), SizeE,
     "a b, b", (5, "b"), "(2, 3), factory", None, "returned shape (5,)"),
    ("factory-not-a-tensor", lambda: ein.multiply("a [b]", x23, lambda shape: [1, 2, 3]),
     SizeE, "a [b]", (0, "a [b]"), "(2, 3), factory", None, "returned shape None"),
    # -- concatenations pair inputs with parts by position (einx 0.4)
    ("concat-operands-out-of-order", lambda: ein.rearrange("a, b -> (b + a)", x3, x23[0]),
     AnyE, "a, b -> (b + a)", (9, "b"), "(3,), (3,)", None,
     "write the operands in the parts' order"),
    ("class-token-written-last",
     lambda: ein.rearrange("b s... c, c -> b (1 + (s...)) c", x234, np.ones(4)), AnyE,
     "b s... c, c -> b (1 + (s...)) c", (18, "1"), "(2, 3, 4), (4,)", None,
     "write the operands in the parts' order"),
    ("concat-parts-of-two-inputs-mixed",
     lambda: ein.rearrange("(a + b), (c + d) -> (a + c), (b + d)", np.ones(5), np.ones(4),
                           a=2, c=1), AnyE,
     "(a + b), (c + d) -> (a + c), (b + d)", (25, "c"), "(5,), (4,)", "a=2, c=1",
     "split it first"),
    ("concat-empty-part", lambda: ein.rearrange("a, -> (a +)", x3, 1.0), SyntaxE,
     "a, -> (a +)", (9, "+"), "(3,), ()", None, "a part of a concatenation is empty"),
    ("concat-part-of-two-axes", lambda: ein.rearrange("(a b + c) -> a b, c", np.ones(10),
                                                      a=2, b=3), SyntaxE,
     "(a b + c) -> a b, c", (1, "a b"), "(10,)", "a=2, b=3",
     "each part of a concatenation is one axis or one composition"),
    ("concat-empty-first-part", lambda: ein.rearrange("( + a) -> a", x3), SyntaxE,
     "( + a) -> a", (2, "+"), "(3,)", None, "a part of a concatenation is empty"),
    # -- argmax: the coordinate axis (einx 0.4)
    ("argmax-coordinate-size", lambda: ein.argmax("b [h] w -> b [2] w", x234), AnyE,
     "b [h] w -> b [2] w", (14, "2"), "(2, 3, 4)", None, "the coordinate axis has size 2"),
    ("argmax-coordinates-not-placed", lambda: ein.argmax("b [h w] -> b 2", x234), AnyE,
     "b [h w] -> b 2", (0, "b [h w] -> b 2"), "(2, 3, 4)", None,
     "returns 2 coordinates: write their axis in brackets"),
    ("argmax-two-coordinate-axes", lambda: ein.argmax("b [h w] -> b [2] [1]", x234), AnyE,
     "b [h w] -> b [2] [1]", (14, "2] [1"), "(2, 3, 4)", None,
     "bracket one axis of the output"),
]


@pytest.mark.parametrize(
    "call, kind, expression, caret, shapes, sizes, reason",
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_error_message(call, kind, expression, caret, shapes, sizes, reason):
    error = raises(kind, call)
    assert reason in str(error).splitlines()[0], str(error)
    check_message(error, expression, caret, shapes, sizes)


def test_tensor_factory_wrong_shape():
    class Wrong(ein.TensorFactory):
        def create(self, shape, context):
            return np.ones((*shape, 1))

    error = raises(SizeE, lambda: ein.dot("b [c1->c2]", x23, Wrong(), c2=4))
    check_message(error, "b [c1->c2]", (2, "[c1->c2]"), "(2, 3), factory", "c2=4")
    assert "returned shape (3, 4, 1)" in str(error)


def test_mixing_torch_and_numpy():
    torch = _torch()
    error = raises(AnyE, lambda: ein.add("a, a", np.ones(3), torch.ones(3)))
    check_message(error, "a, a", (3, "a"), "(3,), (3,)", None)
    assert "mix numpy and torch" in str(error)
    error = raises(AnyE, lambda: ein.add("a b, b", torch.ones(2, 3), np.ones(3), b=3))
    check_message(error, "a b, b", (5, "b"), "(2, 3), (3,)", "b=3")


def test_mixing_torch_and_jax():
    torch = _torch()
    jnp = pytest.importorskip("jax.numpy")
    error = raises(AnyE, lambda: ein.add("a, a", jnp.ones(3), torch.ones(3)))
    check_message(error, "a, a", (3, "a"), "(3,), (3,)", None)


def test_errors_under_jit_match_eager():
    jax = pytest.importorskip("jax")
    eager = raises(RankE, lambda: ein.sum("a [b]", x234))
    jitted = raises(RankE, lambda: jax.jit(lambda x: ein.sum("a [b]", x))(x234))
    assert str(jitted) == str(eager)


def test_error_after_a_warm_call_and_twice():
    """A cached plan for one shape does not hide the error for another; errors repeat."""
    ein.sum("a [b]", x23)
    first = raises(RankE, lambda: ein.sum("a [b]", x234))
    second = raises(RankE, lambda: ein.sum("a [b]", x234))
    assert str(first) == str(second)


def test_explain_reports_errors_the_same_way():
    error = raises(SizeE, lambda: ein.explain("rearrange", "b (s w) -> b s w", (2, 30), w=16))
    check_message(error, "b (s w) -> b s w", (2, "(s w)"), "(2, 30)", "w=16")


# -- odd inputs that must raise NotationError, never KeyError/IndexError/AssertionError or
#    a backend's own exception (pytest.raises(NotationError) fails on any other type)
ODD = [
    ("empty-expression", lambda: ein.sum("", x23)),
    ("only-arrow", lambda: ein.rearrange("->", x23)),
    ("empty-output", lambda: ein.rearrange("a b ->", x23)),
    ("two-arrows", lambda: ein.rearrange("a -> b -> c", x3)),
    ("not-a-string", lambda: ein.sum(3, x23)),
    ("bytes-expression", lambda: ein.sum(b"a [b]", x23)),
    ("stray-comma", lambda: ein.rearrange("a b, -> a b", x23)),
    ("stray-plus", lambda: ein.rearrange("a + b -> a b", x23)),
    ("lone-dots", lambda: ein.rearrange(".. -> a", x3)),
    ("double-ellipsis", lambda: ein.rearrange("a...... -> a", x23)),
    ("two-unknown-ellipses", lambda: ein.rearrange("s... t... -> s... t...", x234)),
    ("ellipsis-only-in-output", lambda: ein.rearrange("a b -> a b s...", x23)),
    ("repeated-output-axis", lambda: ein.rearrange("a b -> a b a", x23)),
    ("diagonal-of-unequal-axes", lambda: ein.rearrange("a a -> a", x23)),
    ("concat-inside-composition", lambda: ein.rearrange("a ((b + c) d) -> a b c d", x23)),
    ("concat-outside-rearrange", lambda: ein.sum("a [(b + c)]", x23, b=1)),
    ("concat-pieces-mismatch", lambda: ein.rearrange("a b -> (a + b)", x23)),
    ("concat-negative-piece", lambda: ein.rearrange("(a + b) c -> a c, b c", x23, a=5)),
    ("number-mismatch", lambda: ein.rearrange("a 3 -> a", np.ones((2, 4)))),
    ("unit-axis-mismatch", lambda: ein.rearrange("a 1 -> a", x23)),
    ("negative-size", lambda: ein.rearrange("a b -> a b c", x23, c=-1)),
    ("float-size", lambda: ein.rearrange("a b -> a b c", x23, c=2.5)),
    ("string-size", lambda: ein.rearrange("a b -> a b c", x23, c="2")),
    ("none-size", lambda: ein.rearrange("a b -> a b c", x23, c=None)),
    ("tuple-size-for-plain-axis", lambda: ein.rearrange("a b -> b a", x23, a=(2, 1))),
    ("tuple-size-wrong-length", lambda: ein.rearrange("s... c -> c s...", x234, s=(2, 3, 4))),
    ("backend-keyword-unknown", lambda: ein.rearrange("a b -> b a", x23, backend="mxnet")),
    ("backend-keyword-other-library", lambda: ein.rearrange("a b -> b a", _torch().ones(2, 3),
                                                            backend="jax")),
    ("arrow-in-reduction", lambda: ein.sum("a [b->c]", x23)),
    ("arrow-in-softmax", lambda: ein.softmax("a [b->c]", x23)),
    ("arrow-in-elementwise", lambda: ein.add("a [b->c]", x23, x3)),
    ("arrow-in-get-at", lambda: ein.get_at("[v->w] c, t", x23, np.zeros(2, int))),
    ("two-dot-shorthands", lambda: ein.dot("a [b->c] [d->e]", x23, np.ones((3, 4)))),
    ("dot-shorthand-and-output", lambda: ein.dot("a [b->c] -> a c", x23, np.ones((3, 4)))),
    ("dot-bracket-in-output", lambda: ein.dot("a b, b c -> a [c]", x23, np.ones((3, 4)))),
    ("dot-two-outputs", lambda: ein.dot("a b, b c -> a c, a", x23, np.ones((3, 4)))),
    ("elementwise-no-widest", lambda: ein.add("a, b", np.ones(2), x3)),
    ("elementwise-one-expression", lambda: ein.add("a b", x23, x23)),
    ("elementwise-brackets-and-output", lambda: ein.add("a [b] -> a b", x23, x3)),
    ("logical-not-brackets", lambda: ein.logical_not("a [b]", x23)),
    ("get-at-without-brackets", lambda: ein.get_at("v c, t -> t c", x23, np.zeros(2, int))),
    ("get-at-without-indices", lambda: ein.get_at("[v] c", x23)),
    ("get-at-coordinate-size", lambda: ein.get_at("[v] c, t [2]", x23, np.zeros((2, 2), int))),
    ("get-at-index-count", lambda: ein.get_at("[v w], t", x23, np.zeros(2, int))),
    ("get-at-lost-axis", lambda: ein.get_at("[v] c, t -> t", x23, np.zeros(2, int))),
    ("set-at-stray-update-axis",
     lambda: ein.set_at("[v] c, t, t d", x23, np.zeros(2, int), np.ones((2, 5)))),
    ("softmax-without-brackets", lambda: ein.softmax("a b", x23)),
    ("softmax-two-outputs", lambda: ein.softmax("a [b] -> a b, a", x23)),
    ("argmax-keeps-reduced-axis", lambda: ein.argmax("a [b] -> a b", x23)),
    ("argmax-lost-axis", lambda: ein.argmax("a [b] -> b", x23)),
    ("roll-string-shift", lambda: ein.roll("a [b]", x23, shift="1")),
    # a float shift equals an int one as a cache key (1.0 == 1): a warm plan must not hide it
    ("roll-float-shift-after-int",
     lambda: (ein.roll("a [b]", x23, shift=1), ein.roll("a [b]", x23, shift=1.0))),
    ("arange-several-axes", lambda: ein.arange("h w", h=2, w=3)),
    ("arange-coordinate-size", lambda: ein.arange("h w [3]", h=2, w=3)),
    ("arange-unknown-size", lambda: ein.arange("h")),
    ("arange-unknown-backend", lambda: ein.arange("h", h=2, backend="tf")),
    ("arange-unknown-dtype", lambda: ein.arange("h", h=2, dtype="complex64")),
    ("reduce-bracketed-in-output", lambda: ein.sum("a [b] -> a b", x23)),
    ("reduce-two-outputs", lambda: ein.sum("a [b] -> a, a", x23)),
    ("string-operand", lambda: ein.sum("a [b]", "ab")),
    ("dict-operand", lambda: ein.rearrange("a -> a", {"a": 1})),
    ("solve-rank", lambda: ein.solve("a b", x234)),
    ("check-operands", lambda: ein.check("a b c", x234, x234)),
    ("explain-unknown-op", lambda: ein.explain("frobnicate", "a b", (2, 3))),
    ("explain-operands", lambda: ein.explain("sum", "a [b]", (2, 3), (3,))),
    ("explain-string-operand", lambda: ein.explain("sum", "a [b]", "ab")),
]


@pytest.mark.parametrize("call", [pytest.param(c, id=i) for i, c in ODD])
def test_odd_input_raises_notation_error(call):
    with pytest.raises(ein.NotationError) as info:
        call()
    error = info.value
    lines = str(error).splitlines()
    assert lines[0].strip()
    if isinstance(error.expression, str) and error.expression:
        # wherever the expression is a string, the message repeats it
        assert f"    {error.expression}" in lines
