"""Reductions: `sum mean var std prod max min logsumexp any all count_nonzero`.

Two ways to say which axes go: brackets (`b [s...] c`, output implied, `keepdims=True`
keeps them as unit axes) or an output that leaves them out (`a b c -> a c`). Writing
neither is an error: `sum("a b", x)` would silently return `x`.
"""

from __future__ import annotations

from ._engine import run, run1
from ._errors import NotationError
from ._layout import compose, decompose
from ._op import (
    Op,
    check_bracket_sides,
    expect_count,
    forbid_bracketed_outputs,
    layout_names,
    refuse_empty,
    whole,
)
from ._solve import Atom, Dim, display, is_number
from ._syntax import has_brackets, strip_brackets


class Reduce(Op):
    def __init__(self, kind, function=None):
        self.name = kind
        self.function = function  # a user's NumPy-like f(x, axis=(...)) (adapters)

    def operands(self, signature, count, options):
        expect_count(signature, count, len(signature.inputs))
        if len(signature.inputs) != 1:
            raise NotationError(f"{self.name} takes one operand", signature.text,
                                whole(signature))
        (expr,) = signature.inputs
        if signature.outputs is None:
            if not has_brackets(expr):
                raise NotationError(
                    f"nothing to reduce: mark the axes to reduce with brackets, e.g. "
                    f"ein.{self.name}(\"a [b]\", x), or write the output, e.g. "
                    f"ein.{self.name}(\"a b -> a\", x)", signature.text, whole(signature))
            return signature.inputs, (), signature.input_spans
        if options.get("keepdims"):
            raise NotationError("keepdims=True goes with brackets and no output: write the "
                                "output's unit axes yourself, e.g. 'a b -> a 1'",
                                signature.text, whole(signature))
        if len(signature.outputs) != 1:
            raise NotationError(f"{self.name} has one output", signature.text, whole(signature))
        return signature.inputs, (strip_brackets(signature.outputs[0]),), signature.input_spans

    def write(self, w, call):
        check_bracket_sides(call)
        (layout,) = call.inputs
        keepdims = dict(call.options).get("keepdims", False)
        sizes = dict(call.sizes)
        if call.outputs:
            target = call.outputs[0]
            kept = set(layout_names(target))
            forbid_bracketed_outputs(call, call.inputs, kept, "reduced")
            _check_written_output(call, layout, kept)
        else:
            target = _implied_output(layout, keepdims, sizes, call.text)
            kept = set(layout_names(target))
        x, names = decompose(w, "x0", layout, sizes, call.text)
        gone = [i for i, n in enumerate(names) if n not in kept]
        if not gone:
            raise NotationError(f"nothing to reduce: every axis is in the output; {self.name} "
                                "would return its input unchanged", call.text,
                                whole(call.signature))
        if self.name in _NO_IDENTITY:
            refuse_empty(self.name, call, layout, {names[i] for i in gone}, sizes)
        if self.function is not None:
            left = [sizes[n] for i, n in enumerate(names) if i not in gone]
            x = w.call(f"{w.constant(self.function)}({x}, axis={tuple(gone)!r})", [x], left)
        else:
            x = _reduce(w, self.name, x, names, gone, sizes)
        rest = [n for i, n in enumerate(names) if i not in gone]
        return [compose(w, x, rest, target, sizes, call.text)]


def _check_written_output(call, layout, kept):
    """einx 0.4's rules for a written output: with brackets, every unbracketed axis is in
    the output; without, the axes missing from it are reduced, and a name written twice
    (a diagonal) would be reduced silently, so it is refused."""
    atoms = [a for d in layout for a in d.atoms if not is_number(a.name)]
    # (this module defines `any`: the builtin is not reachable here)
    if [a for a in atoms if a.bracketed]:
        for a in atoms:
            if not a.bracketed and a.name not in kept:
                raise NotationError(f"axis `{display(a.name)}` is not bracketed, so it is "
                                    "kept, but it is missing from the output", call.text,
                                    a.span)
        return
    seen = set()
    for a in atoms:
        if a.name in seen:
            raise NotationError(
                f"axis `{display(a.name)}` is written twice: without brackets, the axes "
                "missing from the output are reduced, and a diagonal is not reduced "
                f"implicitly; bracket it, e.g. '[{display(a.name)} {display(a.name)}]'",
                call.text, a.span)
        seen.add(a.name)


def _implied_output(layout, keepdims, sizes, text):
    """The input without its bracketed axes. A composition whose axes are all reduced
    stays as a unit axis (`a ([b c])` -> `a 1`, einx 0.4); a bracketed axis, or a bracketed
    composition (`a [(b c)]`), goes."""
    dims = []
    for dim in layout:
        term = tuple(a for a in dim.atoms if not a.bracketed)
        if term:
            dims.append(Dim((term,), dim.span))
        elif keepdims or (text[dim.span[0]] == "(" and not dim.inside):
            unit = f"1@keep{dim.span[0]}"
            sizes[unit] = 1
            dims.append(Dim(((Atom(unit, False, dim.span),),), dim.span))
    return tuple(dims)


def _reduce(w, kind, x, names, gone, sizes):
    text = w.backend.reduce(kind, x, gone, False)
    left = [sizes[n] for i, n in enumerate(names) if i not in gone]
    if text is not None:
        return w.call(text, [x], left)
    # the backend reduces one axis at a time: move the axes last and flatten them
    rest = [i for i in range(len(names)) if i not in gone]
    x = w.transpose(x, rest + gone)
    flat = 1
    for i in gone:
        flat *= sizes[names[i]]
    x = w.reshape(x, [sizes[names[i]] for i in rest] + [flat])
    return w.call(w.backend.reduce(kind, x, [len(rest)], False), [x], left)


_KEEP = (("keepdims", True),)
# reductions without a value over zero entries (a sum of none is 0, a max of none is nothing)
_NO_IDENTITY = ("max", "min", "logsumexp")


def _make(kind, equation):
    op = Reduce(kind)

    def reduction(expression, tensor, /, *more, keepdims=False, **sizes):
        if more:  # too many operands: let the engine say so
            return run(op, expression, (tensor, *more), sizes, _KEEP if keepdims else ())
        return run1(op, expression, tensor, sizes, _KEEP if keepdims else ())

    reduction.__name__ = reduction.__qualname__ = kind
    reduction.__doc__ = f"""{equation} over the bracketed axes (or those missing from the output).

    `keepdims=True` keeps each reduced top-level axis as a unit axis.

    >>> import numpy as np
    >>> from levante import ein
    >>> x = np.arange(24.0).reshape(2, 3, 4)
    >>> ein.{kind}("a [b] c", x).shape
    (2, 4)
    >>> ein.{kind}("a b c -> c a", x).shape
    (4, 2)
    >>> ein.{kind}("a [b c]", x, keepdims=True).shape
    (2, 1, 1)
    """
    return reduction


sum = _make("sum", "y = Σ x")
mean = _make("mean", "y = Σ x / n")
var = _make("var", "y = Σ (x - mean)² / n (population variance)")
std = _make("std", "y = sqrt(var(x))")
prod = _make("prod", "y = Π x")
max = _make("max", "y = max x")
min = _make("min", "y = min x")
logsumexp = _make("logsumexp", "y = log Σ exp(x), computed stably")
any = _make("any", "y = x₁ ∨ x₂ ∨ ...")
all = _make("all", "y = x₁ ∧ x₂ ∧ ...")
count_nonzero = _make("count_nonzero", "y = #{x ≠ 0}")
