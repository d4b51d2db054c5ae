"""What every op shares: operand counting, bracket rules, spans for messages.

An op is an object with a `name`, an `operands(signature, count, options)` method that
turns what the user wrote (shorthands included) into explicit operand and output
expressions, and a `write(writer, call)` method that plans the backend calls.
"""

from __future__ import annotations

from ._errors import NotationError, NotationRankError, NotationSizeError
from ._syntax import Arrow, Concat, atoms, has_brackets, strip_brackets, walk


class Op:
    name = "op"
    concatenates = False  # only rearrange joins and splits tensors at `(a + b)`
    # axes that always move together may share one size (`([p q]) c`); not where each
    # bracketed axis gets a coordinate or a shift of its own (indexing, argmax, roll)
    solves_together = True

    def __repr__(self):
        return f"<ein op {self.name}>"

    def operands(self, signature, count, options):
        raise NotImplementedError

    def write(self, w, call):
        raise NotImplementedError


def arrow_side(expr, side):
    """`expr` with each `[a -> b]` arrow replaced by its `side` ("left": `a`, "right": `b`)."""
    out = []
    for node in expr:
        if isinstance(node, Arrow):
            out.extend(getattr(node, side))
        else:
            out.append(node)
    return tuple(out)


def whole(signature):
    return (0, max(1, len(signature.text)))


def expect_count(signature, count, expected, what="operands"):
    if count != expected:
        raise NotationRankError(
            f"the expression describes {expected} {what} but {count} "
            f"{'was' if count == 1 else 'were'} given", signature.text, whole(signature))


def forbid_brackets(signature, op_name, hint):
    for expr, span in zip(signature.inputs + (signature.outputs or ()),
                          signature.input_spans + (signature.output_spans or ())):
        if has_brackets(expr):
            bracketed = next(a for a in atoms(expr) if a.bracketed) if atoms(expr) else None
            raise NotationError(
                f"{op_name} does not work along axes, so brackets mean nothing here: {hint}",
                signature.text, bracketed.span if bracketed is not None else span)


def require_output(signature, op_name, example):
    if signature.outputs is None:
        raise NotationError(f"{op_name} needs an output after '->', e.g. {example!r}",
                            signature.text, whole(signature))


def names(nodes):
    return {a.name for a in atoms(nodes) if hasattr(a, "name")}


def stripped(expressions):
    return tuple(strip_brackets(e) for e in expressions)


def bracketed_names(layout):
    return [a.name for dim in layout for a in dim.atoms if a.bracketed]


def layout_names(layout):
    return [a.name for dim in layout for a in dim.atoms]


def single_span(text, name, layouts):
    for layout in layouts:
        for dim in layout:
            for a in dim.atoms:
                if a.name == name:
                    return a.span
    return (0, max(1, len(text)))


def forbid_bracketed_outputs(call, layouts, output, verb):
    """A bracketed axis is worked along (summed, reduced) so it cannot reach the output."""
    for layout in layouts:
        for dim in layout:
            for a in dim.atoms:
                if a.bracketed and a.name in output:
                    from ._solve import display

                    raise NotationError(f"axis `{display(a.name)}` is bracketed, so it is "
                                        f"{verb}, but it is also in the output",
                                        call.text, a.span)


def check_bracket_sides(call):
    """An axis may not be inside brackets in one place and outside in another."""
    inside, outside = {}, {}
    for layout in call.inputs:
        for dim in layout:
            for a in dim.atoms:
                (inside if a.bracketed else outside).setdefault(a.name, a.span)
    for name, span in inside.items():
        if name in outside:
            from ._solve import display

            raise NotationError(
                f"axis `{display(name)}` appears both inside and outside brackets: an op works "
                "along the bracketed axes and repeats itself over the others, so an axis is "
                "one or the other", call.text, span)


def forbid_concatenations(op, signature, expressions):
    """`(a + b)` outside rearrange would be read as a flattening: refuse it, as einx does."""
    for nodes in expressions:
        for node in walk(nodes):
            if isinstance(node, Concat):
                raise NotationError(
                    f"a concatenation `(a + b)` is only understood by rearrange, not by "
                    f"{op.name}: compute the parts first, then join them with "
                    "ein.rearrange('a, b -> (a + b)', ...)", signature.text, node.span)


def refuse_empty(kind, call, layout, along, sizes):
    """max, min, logsumexp, softmax, argmax... have no value over zero entries: an axis of
    size 0 among those worked `along` is a `NotationSizeError` naming it (NumPy, JAX and
    PyTorch would each raise their own error, or NumPy a division by zero in a plan)."""
    from ._solve import display

    for dim in layout:
        for a in dim.atoms:
            if a.name in along and sizes.get(a.name) == 0:
                raise NotationSizeError(
                    f"{kind} along axis `{display(a.name)}` of size 0: there is no entry to "
                    f"take the {_EMPTY_VALUE.get(kind, 'value')} of; give the axis at least one "
                    "entry, or leave empty tensors out before this call", call.text, a.span)


_EMPTY_VALUE = {"max": "maximum", "min": "minimum", "argmax": "maximum",
                "argmin": "minimum", "logsumexp": "log-sum-exp", "softmax": "softmax",
                "log_softmax": "log-softmax"}
