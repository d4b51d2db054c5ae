"""`dot`: sums of products over the axes that leave, any number of operands.

Explicit form: `b q (h c), b k (h c) -> b q k h` (brackets, if written, mark contracted
axes). Shorthand: `b [c1->c2]` means `b c1, c1 c2 -> b c2`: the first operand holds the
bracket's left side, the second operand's layout is the bracket's left then right side,
and the output holds the right side (`b [s...->s2] c` is `b s... c, s... s2 -> b s2 c`).
"""

from __future__ import annotations

from ._engine import run
from ._errors import NotationError
from ._layout import compose, decompose, letters_for, output_names
from ._op import (
    Op,
    arrow_side,
    check_bracket_sides,
    expect_count,
    forbid_bracketed_outputs,
    layout_names,
    whole,
)
from ._solve import display, is_number
from ._syntax import Arrow, has_brackets, strip_brackets, walk


class Dot(Op):
    name = "dot"
    solves_together = False  # einx 0.4 asks for the sizes of contracted compositions

    def operands(self, signature, count, options):
        arrows = [n for expr in signature.inputs for n in walk(expr) if isinstance(n, Arrow)]
        if arrows:
            return _shorthand(signature, count, arrows)
        if signature.outputs is None:
            raise NotationError(
                "dot needs an output, e.g. 'a b, b c -> a c', or the shorthand 'a [b->c]'",
                signature.text, whole(signature))
        expect_count(signature, count, len(signature.inputs))
        if len(signature.outputs) != 1:
            raise NotationError("dot has one output", signature.text, whole(signature))
        for out in signature.outputs:
            if has_brackets(out):
                raise NotationError("brackets in a dot mark contracted axes, which cannot be "
                                    "in the output", signature.text, signature.output_spans[0])
        return signature.inputs, signature.outputs, signature.input_spans

    def write(self, w, call):
        check_bracket_sides(call)
        _check_contraction(call)
        flat = [decompose(w, f"x{i}", layout, call.sizes, call.text)
                for i, layout in enumerate(call.inputs)]
        (target,) = call.outputs
        wanted = output_names(target)
        present = set().union(*(set(names) for _, names in flat))
        forbid_bracketed_outputs(call, call.inputs, set(wanted), "summed over")
        kept = [n for n in wanted if n in present]
        letters = letters_for([n for _, names in flat for n in names] + wanted)
        spec = ",".join("".join(letters[n] for n in names) for _, names in flat)
        spec += "->" + "".join(letters[n] for n in kept)
        variables = [x for x, _ in flat]
        y = w.call(w.backend.einsum(spec, variables), variables,
                   [call.sizes[n] for n in kept])
        return [compose(w, y, kept, target, call.sizes, call.text)]


def _check_contraction(call):
    """einx 0.4's rules: two or more operands; each axis summed over is in exactly two of
    them (one would be a sum, three a product-sum no einsum user means); with brackets
    written, every unbracketed axis reaches the output."""
    if len(call.inputs) < 2:
        raise NotationError("dot multiplies two or more operands; for one operand, sum with "
                            "ein.sum('a [b]', x) or move axes with ein.rearrange",
                            call.text, whole(call.signature))
    output = set(layout_names(call.outputs[0]))
    bracketed = any(a.bracketed for layout in call.inputs for d in layout for a in d.atoms)
    holders = {}
    for i, layout in enumerate(call.inputs):
        for d in layout:
            for a in d.atoms:
                if is_number(a.name) and call.sizes[a.name] == 1:
                    continue
                if i in holders.get(a.name, {}) and not is_number(a.name):
                    # einx 0.4 refuses it: a diagonal inside a product is easily read as
                    # two axes, and summed over it is a trace nobody sees written
                    raise NotationError(
                        f"axis `{display(a.name)}` is written twice in one operand: dot takes "
                        f"no diagonals; take it first, e.g. ein.rearrange('{display(a.name)} "
                        f"{display(a.name)} -> {display(a.name)}', x)", call.text, a.span)
                holders.setdefault(a.name, {})[i] = a
    for name, where in holders.items():
        if name in output:
            continue
        atom = next(iter(where.values()))
        if bracketed and not atom.bracketed:
            raise NotationError(f"axis `{display(name)}` is not bracketed, so it is kept, but "
                                "it is missing from the output", call.text, atom.span)
        if len(where) != 2:
            raise NotationError(
                f"axis `{display(name)}` is summed over but appears in {len(where)} "
                f"operand{'s' if len(where) != 1 else ''}: a contracted axis is in exactly "
                "two operands (sum one operand's axis first with ein.sum)", call.text, atom.span)


def _shorthand(signature, count, arrows):
    if signature.outputs is not None or len(signature.inputs) != 1:
        raise NotationError("the shorthand 'a [b->c]' stands alone: write either it or the "
                            "full 'a b, b c -> a c'", signature.text, arrows[0].span)
    expect_count(signature, count, 2)
    (expr,) = signature.inputs
    first = strip_brackets(arrow_side(expr, "left"))
    second = strip_brackets(tuple(n for a in arrows for n in a.left + a.right))
    output = strip_brackets(arrow_side(expr, "right"))
    return (first, second), (output,), (signature.input_spans[0], arrows[0].span)


_DOT = Dot()


def dot(expression, /, *tensors, **sizes):
    """Contract tensors: y = Σ over the axes missing from the output of Π operands.

    >>> import numpy as np
    >>> from levante import ein
    >>> x, w = np.ones((2, 3)), np.ones((3, 4))
    >>> ein.dot("b [c1->c2]", x, w).shape
    (2, 4)
    >>> q, k = np.ones((2, 5, 8)), np.ones((2, 6, 8))
    >>> ein.dot("b q (h c), b k (h c) -> b q k h", q, k, h=2).shape
    (2, 5, 6, 2)
    """
    return run(_DOT, expression, tensors, sizes)
