"""`rearrange`: reshape, transpose, broadcast, squeeze, diagonal, concatenate and split.

Operands and outputs are cut into *pieces* at every concatenation `(a + b)`; each input
piece goes to the first output piece (in order) that holds all of its axes, is transposed
and broadcast to it, and the output pieces are concatenated back. So
`b s... c, c -> b (1 + (s...)) c` sends the class token `c` to the `1` piece.
"""

from __future__ import annotations

from ._engine import run, run1
from ._errors import NotationError, NotationRankError
from ._layout import compose, decompose, dim_size
from ._op import (
    Op,
    expect_count,
    forbid_brackets,
    layout_names,
    single_span,
    whole,
)
from ._solve import Dim, display


class Rearrange(Op):
    name = "rearrange"
    concatenates = True

    def operands(self, signature, count, options):
        forbid_brackets(signature, "rearrange", "remove the [ ]")
        expect_count(signature, count, len(signature.inputs))
        # no output: each operand keeps its layout (einx 0.4's `id("a b c", x)`), which
        # checks the shapes and returns the tensors
        outputs = signature.inputs if signature.outputs is None else signature.outputs
        return signature.inputs, outputs, signature.input_spans

    def write(self, w, call):
        pieces = []
        for i, layout in enumerate(call.inputs):
            pieces.extend(_split(w, f"x{i}", layout, call.sizes))
        flat = [decompose(w, var, layout, call.sizes, call.text) for var, layout in pieces]
        targets = [_pieces(layout) for layout in call.outputs]
        # an axis of size 1 that no output names is squeezed away (einx 0.4)
        named = {a.name for layout in call.outputs for d in layout for a in d.atoms}
        flat = [_squeeze(w, x, names, named, call.sizes) for x, names in flat]
        leaves = [leaf for tree in targets for leaf in _leaves(tree)]
        if len(leaves) != len(flat):
            raise NotationRankError(
                f"the inputs make {len(flat)} piece(s) but the outputs ask for {len(leaves)}: "
                "each input (or each part of a concatenation) becomes one output (or part)",
                call.text, whole(call.signature))
        chosen = _match(flat, leaves, call)
        made = {id(leaf): compose(w, flat[j][0], flat[j][1], leaf, call.sizes, call.text)
                for leaf, j in zip(leaves, chosen)}
        return [_assemble(w, tree, made) for tree in targets]


def _squeeze(w, x, names, named, sizes):
    kept = [n for n in names if n in named or sizes[n] != 1]
    if len(kept) == len(names):
        return x, names
    return w.reshape(x, [sizes[n] for n in kept]), kept


def _split(w, var, layout, sizes):
    """Cut an operand at its first concatenation, recursively: [(variable, layout)]."""
    for d, dim in enumerate(layout):
        if len(dim.terms) > 1:
            out, start = [], 0
            for term in dim.terms:
                length = dim_size(Dim((term,), dim.span), sizes)
                # the trailing ... : the Array API wants every axis indexed
                index = ", ".join([":"] * d + [f"{start}:{start + length}", "..."])
                piece = w.call(f"{var}[{index}]", [var])
                shape = w.shapes.get(var)
                if shape is not None:
                    w.shapes[piece] = shape[:d] + (length,) + shape[d + 1:]
                start += length
                out.extend(_split(w, piece, layout[:d] + (Dim((term,), dim.span),)
                                  + layout[d + 1:], sizes))
            return out
    return [(var, layout)]


def _pieces(layout):
    """An output layout as a tree: ("leaf", layout) or ("concat", axis, children)."""
    for d, dim in enumerate(layout):
        if len(dim.terms) > 1:
            return ("concat", d, [_pieces(layout[:d] + (Dim((t,), dim.span),) + layout[d + 1:])
                                  for t in dim.terms])
    return ("leaf", layout)


def _leaves(tree):
    if tree[0] == "leaf":
        return [tree[1]]
    return [leaf for child in tree[2] for leaf in _leaves(child)]


def _assemble(w, tree, made):
    if tree[0] == "leaf":
        return made[id(tree[1])]
    parts = [_assemble(w, child, made) for child in tree[2]]
    return w.call(w.backend.concatenate(parts, tree[1]), parts)


def _match(flat, leaves, call):
    """For each output piece, the input piece that fills it (in order where that fits)."""
    wanted = [set(layout_names(leaf)) for leaf in leaves]
    have = [set(names) for _, names in flat]
    chosen = [None] * len(leaves)

    def assign(k, used):
        if k == len(leaves):
            return True
        for j in range(len(flat)):
            if j not in used and have[j] <= wanted[k]:
                chosen[k] = j
                if assign(k + 1, used | {j}):
                    return True
        return False

    if assign(0, frozenset()):
        return chosen
    # report the first in-order pair that does not fit
    for k in range(min(len(have), len(wanted))):
        lost = sorted(have[k] - wanted[k])
        if lost:
            raise NotationError(
                f"axis `{display(lost[0])}` is missing from the output: rearrange only moves, "
                "splits, joins and repeats axes; to remove one, reduce it (ein.sum, ein.mean...)"
                " or index it (ein.get_at)", call.text,
                single_span(call.text, lost[0], call.inputs))
    raise NotationError("the inputs do not fit the outputs", call.text, whole(call.signature))


_REARRANGE = Rearrange()


def rearrange(expression, *tensors, **sizes):
    """Reshape, transpose, broadcast, concatenate or split tensors.

    Every axis of an input appears in the output; axes only in the output are broadcast
    (their size given as a keyword), `1` squeezes or inserts a unit axis, a repeated name
    in an input takes the diagonal, `(a + b)` concatenates (in an output) or splits (in an
    input).

    >>> import numpy as np
    >>> from levante import ein
    >>> x = np.zeros((2, 3, 4, 5))
    >>> ein.rearrange("b h w c -> b (h w) c", x).shape
    (2, 12, 5)
    >>> ein.rearrange("b s... c, c -> b (1 + (s...)) c", x, np.ones(5)).shape
    (2, 13, 5)
    >>> a, b = ein.rearrange("(a + b) -> a, b", np.arange(5), a=2)
    >>> a, b
    (array([0, 1]), array([2, 3, 4]))
    """
    if len(tensors) == 1:
        return run1(_REARRANGE, expression, tensors[0], sizes)
    return run(_REARRANGE, expression, tensors, sizes)

