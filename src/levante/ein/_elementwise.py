"""Elementwise ops: every operand is broadcast by axis *name*, never by position.

Forms: `a b, b -> a b` (explicit), `a b, b` (the output is the operand holding every
axis), and the shorthand `b [s... c]` where the first operand is the whole expression
and the others hold only the bracketed axes: `ein.add("b [s... c]", x, pos)`.
A Python number goes with an empty expression: `ein.where("a, a, ", mask, x, 0.0)`.
"""

from __future__ import annotations

from ._backends._base import OPERATORS
from ._engine import run
from ._errors import NotationError
from ._layout import compose, decompose
from ._op import Op, expect_count, layout_names, names, whole
from ._solve import display
from ._syntax import (
    Axis,
    Ellipsis_,
    Group,
    Number,
    bracketed_part,
    has_brackets,
    strip_brackets,
)

ARITY = {"logical_not": 1, "where": 3}
# ops that take any number of operands (einx 0.4): folded left, ((x + y) + z)
VARIADIC = ("add", "multiply", "maximum", "minimum", "logical_and", "logical_or", "logaddexp")


class Elementwise(Op):
    def __init__(self, kind, function=None):
        self.name = kind
        self.arity = ARITY.get(kind, 2)
        self.variadic = kind in VARIADIC or function is not None
        self.function = function  # a user's broadcasting f(*xs) (adapters)

    def operands(self, signature, count, options):
        # a variadic op takes as many operands as it is given (at least one), one per
        # expression unless a single bracketed expression stands for them all
        arity = self.arity
        if self.variadic:
            shorthand = len(signature.inputs) == 1 and has_brackets(signature.inputs[0])
            arity = max(count, 1) if shorthand else len(signature.inputs)
        expect_count(signature, count, arity, "operands for " + self.name)
        inputs = signature.inputs
        if signature.outputs is not None:
            expect_count(signature, len(inputs), arity, "operand expressions for " + self.name)
            if any(has_brackets(e) for e in inputs + signature.outputs):
                raise NotationError(f"{self.name} with an output takes no brackets: "
                                    "the output says where each operand goes",
                                    signature.text, whole(signature))
            if len(signature.outputs) != 1:
                raise NotationError(f"{self.name} has one output", signature.text,
                                    whole(signature))
            return inputs, signature.outputs, signature.input_spans
        if len(inputs) == 1 and arity > 1:
            if not has_brackets(inputs[0]):
                raise NotationError(
                    f"one expression for {arity} operands: bracket the axes of the "
                    f"others, e.g. ein.{self.name}(\"b [c]\", x, y), or write one expression "
                    "per operand", signature.text, whole(signature))
            full = strip_brackets(inputs[0])
            part = bracketed_part(inputs[0])
            spans = (signature.input_spans[0],) * arity
            return (full,) + (part,) * (arity - 1), (full,), spans
        expect_count(signature, len(inputs), arity, "operand expressions for " + self.name)
        if any(has_brackets(e) for e in inputs):
            raise NotationError("brackets go in the one-expression shorthand 'b [c]'; with one "
                                "expression per operand, write none", signature.text,
                                whole(signature))
        return inputs, (_implied_output(signature),), signature.input_spans

    def write(self, w, call):
        (target,) = call.outputs
        wanted = layout_names(target)
        flat = [decompose(w, f"x{i}", layout, call.sizes, call.text)
                for i, layout in enumerate(call.inputs)]
        for (_, have), layout in zip(flat, call.inputs):
            for name in have:
                if name not in wanted:
                    span = next(a.span for d in layout for a in d.atoms if a.name == name)
                    raise NotationError(
                        f"axis `{display(name)}` of an operand is missing from the output: "
                        "an elementwise op keeps every axis; reduce it first", call.text, span)
        joint = [n for n in wanted if any(n in have for _, have in flat)]
        aligned = [_align(w, x, have, joint, call.sizes) for x, have in flat]
        if self.function is not None:
            # every tensor operand gets the same rank, as einx promises the function
            aligned = [w.reshape(x, [call.sizes[n] if n in have else 1 for n in joint])
                       if have else x for x, (_, have) in zip(aligned, flat)]
            y = w.call(f"{w.constant(self.function)}({', '.join(aligned)})", aligned,
                       [call.sizes[n] for n in joint])
            return [compose(w, y, joint, target, call.sizes, call.text)]
        if self.name not in OPERATORS:  # a function call: numbers as the backend takes them
            # a number takes the dtype of a tensor it meets (where: of a value, not the
            # condition)
            values = aligned[1:] if self.name == "where" else aligned
            tensors = [x for x in values if not (x in w.arguments and w.shapes.get(x) == ())]
            aligned = [_number(w, x, tensors[0] if tensors else None) for x in aligned]
        if len(aligned) == 1 and self.name != "logical_not":
            y = aligned[0]  # one operand of a variadic op: itself
            return [compose(w, y, joint, target, call.sizes, call.text)]
        while len(aligned) > 2 and self.variadic:  # fold: ((x0 + x1) + x2) + ...
            first = w.call(w.backend.elementwise(self.name, aligned[:2]), aligned[:2])
            aligned = [first] + aligned[2:]
        text = w.backend.elementwise(self.name, aligned)
        if joint:
            y = w.call(text, aligned, [call.sizes[n] for n in joint])
        else:
            # operands without axes may all be Python numbers, whose result has no .reshape
            y = w.call(w.backend.scalar(text), aligned, ())
        return [compose(w, y, joint, target, call.sizes, call.text)]


def _implied_output(signature):
    """einx 0.4's rule: the output is the one operand expression that holds the axis names
    of all others (unit axes aside); several different such expressions are ambiguous."""
    inputs = signature.inputs
    every = set().union(*(names(e) for e in inputs))  # named axes: unit axes aside
    holders = {}
    for expr in inputs:
        if names(expr) >= every:
            holders.setdefault(_written(expr), expr)
    if len(holders) != 1:
        why = ("no operand holds every axis" if not holders else
               "several operands hold every axis, in different layouts")
        raise NotationError(f"{why}, so the output is unknown: write it after '->', "
                            "e.g. 'a, b -> a b'", signature.text, whole(signature))
    return next(iter(holders.values()))


def _number(w, x, like):
    if x in w.arguments and w.shapes.get(x) == ():
        text = w.backend.number(x, like)
        if text is not None:
            return w.call(text, [x, *([like] if like else [])], ())
    return x


def _written(nodes):
    """An expression as written, without the positions: equal for `a b` and ` a  b`."""
    out = []
    for n in nodes:
        if isinstance(n, Axis):
            out.append(n.name)
        elif isinstance(n, Number):
            out.append(n.value)
        elif isinstance(n, Group):
            out.append(("()", _written(n.children)))
        elif isinstance(n, Ellipsis_):
            out.append(("...", _written((n.inner,))))
        else:
            out.append((type(n).__name__, n.span))  # distinct: never the same as another
    return tuple(out)


def _align(w, x, have, joint, sizes):
    """Transpose to the joint order and insert unit axes so that NumPy-style broadcasting
    (aligned on the right) matches axes by name."""
    if not have:
        return x
    ordered = [n for n in joint if n in have]
    x = w.transpose(x, [have.index(n) for n in ordered])
    first = joint.index(ordered[0])
    shape = [sizes[n] if n in have else 1 for n in joint[first:]]
    return w.reshape(x, shape)


def _make(kind, equation):
    arity = ARITY.get(kind, 2)
    op = Elementwise(kind)

    def function(expression, /, *tensors, **sizes):
        return run(op, expression, tensors, sizes)

    function.__name__ = function.__qualname__ = kind
    if arity == 1:
        example = """>>> ein.logical_not("a b", np.ones((2, 3), bool)).shape
    (2, 3)"""
    elif arity == 3:
        example = """>>> ein.where("a b, b, ", np.ones((2, 3), bool), np.ones(3), 0.0).shape
    (2, 3)"""
    else:
        example = f""">>> ein.{kind}("a [b]", np.ones((2, 3)), np.ones(3)).shape
    (2, 3)
    >>> ein.{kind}("a, b -> a b", np.ones(2), np.ones(3)).shape
    (2, 3)"""
    if kind in VARIADIC:
        example += f"""
    >>> ein.{kind}("a, a b, b", np.ones(2), np.ones((2, 3)), np.ones(3)).shape
    (2, 3)"""
        equation += " (any number of operands, folded left)"
    function.__doc__ = f"""Elementwise {equation}, operands broadcast by axis name.

    Without '->', the output is the one operand expression holding every axis (einx 0.4).

    >>> import numpy as np
    >>> from levante import ein
    {example}
    """
    return function


add = _make("add", "x + y")
subtract = _make("subtract", "x - y")
multiply = _make("multiply", "x * y")
divide = _make("divide", "x / y")
true_divide = _make("true_divide", "x / y")
floor_divide = _make("floor_divide", "x // y")
power = _make("power", "x ** y")
maximum = _make("maximum", "max(x, y)")
minimum = _make("minimum", "min(x, y)")
where = _make("where", "condition ? x : y")
logical_and = _make("logical_and", "x ∧ y")
logical_or = _make("logical_or", "x ∨ y")
logical_not = _make("logical_not", "¬x")
less = _make("less", "x < y")
less_equal = _make("less_equal", "x ≤ y")
greater = _make("greater", "x > y")
greater_equal = _make("greater_equal", "x ≥ y")
equal = _make("equal", "x = y")
not_equal = _make("not_equal", "x ≠ y")
logaddexp = _make("logaddexp", "log(exp(x) + exp(y)), computed stably")
