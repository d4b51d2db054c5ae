"""`rearrange`: reshape, transpose, broadcast, squeeze, diagonal, concatenate and split.

Operands and outputs are cut into *pieces* at every concatenation `(a + b)`; as in einx
0.4, the k-th input piece fills the k-th output piece (its axes transposed, broadcast to
it), and the output pieces are concatenated back. So `c, b s... c -> b (1 + (s...)) c`
sends the class token `c` to the `1` piece; `b s... c, c -> ...` is an error.
"""

from __future__ import annotations

import itertools

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
        pieces, owners = [], []  # owners: the operand each piece comes from
        for i, layout in enumerate(call.inputs):
            split = _split(w, f"x{i}", layout, call.sizes)
            pieces.extend(split)
            owners.extend([i] * len(split))
        flat = [decompose(w, var, layout, call.sizes, call.text) for var, layout in pieces]
        targets = [_pieces(layout) for layout in call.outputs]
        leaves = [leaf for tree in targets for leaf in _leaves(tree)]
        if len(leaves) != len(flat):
            raise NotationRankError(
                f"the inputs make {len(flat)} piece(s) but the outputs ask for {len(leaves)}: "
                "each input (or each part of a concatenation) becomes one output (or part)",
                call.text, whole(call.signature))
        parts = [span for tree in targets for span in _part_spans(tree)]
        # an axis of size 1 that the piece's output does not name is squeezed away (einx 0.4)
        flat = [_squeeze(w, x, names, set(layout_names(leaf)), call.sizes)
                for (x, names), leaf in zip(flat, leaves)]
        _check_pairs(flat, leaves, parts, owners, call)
        made = {id(leaf): compose(w, x, names, leaf, call.sizes, call.text)
                for (x, names), leaf in zip(flat, leaves)}
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


def _pieces(layout, part=None):
    """An output layout as a tree: ("leaf", layout, span of its part) or
    ("concat", axis, children)."""
    for d, dim in enumerate(layout):
        if len(dim.terms) > 1:
            return ("concat", d, [_pieces(layout[:d] + (Dim((t,), dim.span),) + layout[d + 1:],
                                          (t[0].span[0], t[-1].span[1]))
                                  for t in dim.terms])
    return ("leaf", layout, part)


def _leaves(tree):
    if tree[0] == "leaf":
        return [tree[1]]
    return [leaf for child in tree[2] for leaf in _leaves(child)]


def _part_spans(tree):
    if tree[0] == "leaf":
        return [tree[2]]
    return [span for child in tree[2] for span in _part_spans(child)]


def _assemble(w, tree, made):
    if tree[0] == "leaf":
        return made[id(tree[1])]
    parts = [_assemble(w, child, made) for child in tree[2]]
    return w.call(w.backend.concatenate(parts, tree[1]), parts)


_IN_ORDER = ("the inputs (and the parts of their concatenations) fill the outputs (and their "
             "parts) in order, and this part lacks axes of the piece that comes to it")


def _check_pairs(flat, leaves, parts, owners, call):
    """The k-th input piece (an input, or a part of its concatenation) fills the k-th output
    piece, as in einx 0.4: each must keep all of its axes there."""
    wanted = [set(layout_names(leaf)) for leaf in leaves]
    have = [set(names) for _, names in flat]
    for k, (mine, theirs) in enumerate(zip(have, wanted)):
        lost = sorted(mine - theirs)
        if not lost:
            continue
        if _fits_with_operands_reordered(have, wanted, owners):
            raise NotationError(
                f"{_IN_ORDER}: write the operands in the parts' order, e.g. "
                "'a, b -> (a + b)' rather than 'b, a -> (a + b)'", call.text,
                _part_span(leaves[k], parts[k]))
        if _fits_in_another_order(have, wanted):
            raise NotationError(
                f"{_IN_ORDER}: the parts of an input's concatenation stay in their order; "
                "split it first, e.g. ein.rearrange('(a + b) -> a, b', x), then join the "
                "pieces as wanted",
                call.text, _part_span(leaves[k], parts[k]))
        raise NotationError(
            f"axis `{display(lost[0])}` is missing from the output: rearrange only moves, "
            "splits, joins and repeats axes; to remove one, reduce it (ein.sum, ein.mean...)"
            " or index it (ein.get_at)", call.text, single_span(call.text, lost[0], call.inputs))


def _fits_with_operands_reordered(have, wanted, owners):
    """Whether writing the operands in another order would keep every axis (each operand's
    pieces staying together and in order)."""
    operands = list(dict.fromkeys(owners))
    if len(operands) > 6:  # too many orders to try: say only that the order is wrong
        return False
    pieces = {i: [j for j, o in enumerate(owners) if o == i] for i in operands}
    for order in itertools.permutations(operands):
        seq = [j for i in order for j in pieces[i]]
        if all(have[j] <= w for j, w in zip(seq, wanted)):
            return True
    return False


def _fits_in_another_order(have, wanted):
    """Whether some other pairing of input and output pieces would keep every axis."""
    def assign(k, used):
        if k == len(wanted):
            return True
        return any(j not in used and have[j] <= wanted[k] and assign(k + 1, used | {j})
                   for j in range(len(have)))

    return assign(0, frozenset())


def _part_span(leaf, part):
    """Where an output piece is written: its part of a concatenation, or the whole output."""
    if part is not None:
        return part
    spans = [dim.span for dim in leaf]
    return (spans[0][0], spans[-1][1]) if spans else None


_REARRANGE = Rearrange()


def rearrange(expression, /, *tensors, **sizes):
    """Reshape, transpose, broadcast, concatenate or split tensors.

    Every axis of an input appears in the output; axes only in the output are broadcast
    (their size given as a keyword), `1` squeezes or inserts a unit axis, a repeated name
    in an input takes the diagonal, `(a + b)` concatenates (in an output) or splits (in an
    input). Inputs, and the parts of their concatenations, fill the outputs and their parts
    in order, as in einx 0.4. Raises `NotationError` when an axis would be lost, when the
    operands are not in the parts' order (`a, b -> (b + a)`), or when a part is empty.

    >>> import numpy as np
    >>> from levante import ein
    >>> x = np.zeros((2, 3, 4, 5))
    >>> ein.rearrange("b h w c -> b (h w) c", x).shape
    (2, 12, 5)
    >>> ein.rearrange("c, b s... c -> b (1 + (s...)) c", np.ones(5), x).shape
    (2, 13, 5)
    >>> a, b = ein.rearrange("(a + b) -> a, b", np.arange(5), a=2)
    >>> a, b
    (array([0, 1]), array([2, 3, 4]))
    """
    if len(tensors) == 1:
        return run1(_REARRANGE, expression, tensors[0], sizes)
    return run(_REARRANGE, expression, tensors, sizes)

