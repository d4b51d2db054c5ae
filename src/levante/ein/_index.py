"""Indexing: `get_at set_at add_at subtract_at`, lowered to one advanced-indexing call.

The first operand's bracketed axes are indexed: `[v] c, b t -> b t c` reads row `ids[b, t]`
of a table. Coordinates come either as one operand with a bracketed coordinate axis
(`[h w] c, b p [2]`) or as one operand per indexed axis (`[h w] c, b p, b p`). Axes that
the tensor and the indices share (`b [t] c, b i -> b i c`) are batch axes: each batch
entry indexes its own slice. The plan is `x[i0, i1, ...]` (NumPy, PyTorch) or
`x.at[i0, ...]` (JAX), with broadcast `arange`s for batch axes: no Python loops.

Indices are integers of any dtype (uint8 to int64, the same values on every backend);
negative ones count from the end, as in NumPy and einx: every index lies in [-n, n).
Float or boolean indices, and indices out of range, raise `NotationError` whenever the
values are concrete (NumPy, eager JAX and PyTorch). Inside `jax.jit`, `grad`, `vmap` or
`torch.compile` the values are unknown when the plan runs: there a JAX read is `x[i]`,
which clamps the index into [0, n) after negatives count from the end (einx 0.4.3 reads
NaN instead; clamping keeps the jitted program the hand-written one), and a write out of
range is dropped (as in einx).
"""

from __future__ import annotations

from ._backends._base import IndexContext
from ._engine import run
from ._errors import NotationError
from ._layout import compose, decompose
from ._op import Op, expect_count, layout_names, whole
from ._solve import display, is_number
from ._syntax import atoms, has_brackets, strip_brackets


class Index(Op):
    solves_together = False  # each bracketed axis has its own coordinate or shift
    def __init__(self, kind):
        self.name = kind
        self.writes = kind != "get_at"

    def operands(self, signature, count, options):
        inputs = signature.inputs
        expect_count(signature, count, len(inputs))
        tensor = inputs[0]
        indexed = [a for a in atoms(tensor) if a.bracketed]
        if not indexed:
            raise NotationError(f"{self.name}: bracket the axes to index in the first operand, "
                                "e.g. '[v] c, b t -> b t c'", signature.text, whole(signature))
        minimum = 3 if self.writes else 2
        if len(inputs) < minimum:
            what = "a tensor, indices and updates" if self.writes else "a tensor and indices"
            raise NotationError(f"{self.name} takes {what}", signature.text, whole(signature))
        if signature.outputs is not None:
            if len(signature.outputs) != 1:
                raise NotationError(f"{self.name} has one output", signature.text,
                                    whole(signature))
            output = strip_brackets(signature.outputs[0])
        elif self.writes:
            output = strip_brackets(tensor)
        else:
            output = _implied_read(tensor, inputs[1:])
        return inputs, (output,), signature.input_spans

    def write(self, w, call):
        text, sizes = call.text, call.sizes
        count = len(call.inputs) - (2 if self.writes else 1)
        index_layouts = call.inputs[1:1 + count]
        x, x_names = decompose(w, "x0", call.inputs[0], sizes, text)
        # a bracketed unit axis `1` was squeezed away by decompose: there is nothing to index
        indexed = [a.name for d in call.inputs[0] for a in d.atoms
                   if a.bracketed and a.name in x_names]
        if not indexed:
            raise NotationError(f"{self.name}: the bracketed axes are unit axes `1`; bracket "
                                "the axes to index", text, whole(call.signature))
        coords, vector = _coordinates(w, index_layouts, indexed, sizes, text)
        coords = [_checked(w, c, name, 1 + (k if len(index_layouts) > 1 else 0), call)
                  for k, (c, name) in enumerate(zip(coords, indexed))]
        batch = [n for n in x_names if n not in indexed and n in vector]
        rest = [n for n in x_names if n not in indexed and n not in vector]
        x = w.transpose(x, [x_names.index(n) for n in batch + indexed + rest])
        where = [_arange(w, n, vector, sizes) for n in batch] + coords
        result_names = vector + rest
        if not self.writes:
            y = w.call(w.backend.gather(x, where), [x, *where],
                       [sizes[n] for n in result_names])
            return [compose(w, y, result_names, call.outputs[0], sizes, text)]
        update_layout = call.inputs[-1]
        u, u_names = decompose(w, f"x{len(call.inputs) - 1}", update_layout, sizes, text)
        for n in u_names:
            if n not in result_names:
                raise NotationError(
                    f"axis `{display(n)}` of the updates is neither an index axis nor a "
                    "non-indexed axis of the tensor", text, _span(update_layout, n))
        u = _broadcastable(w, u, u_names, result_names, sizes)
        lines, y = w.backend.scatter(self.name, x, where, u)
        for line in lines:
            w.statement(line, [x, u, *where], ("out",))
        y = w.call(y, [x, u, *where, "out"] if lines else [x, u, *where],
                   [sizes[n] for n in batch + indexed + rest])
        if sorted(layout_names(call.outputs[0])) != sorted(layout_names(call.inputs[0])):
            raise NotationError(f"the output of {self.name} holds the axes of the first "
                                "operand (in any order)", text, whole(call.signature))
        return [compose(w, y, batch + indexed + rest, call.outputs[0], sizes, text)]


def _checked(w, coordinate, axis, operand, call):
    """The coordinate through the backend's index check: integers only, in range when
    concrete, in a dtype the backend indexes with (see `_backends._base.check_bounds`)."""
    spans = call.signature.input_spans
    span = spans[operand] if operand < len(spans) else whole(call.signature)
    where = IndexContext(call.text, span, display(axis), call.shapes, None)
    return w.call(w.backend.index(coordinate, call.sizes[axis], w.constant(where)), [coordinate])


def _implied_read(tensor, index_exprs):
    """`b [t] c, b i` reads as `b i c`: the index axes replace the bracketed ones."""
    have = {a.name for a in atoms(tensor) if hasattr(a, "name") and not a.bracketed}
    # the coordinate axis (`b p [2]`) is consumed by the read: test for brackets before
    # stripping them
    new = [strip_brackets((n,))[0] for e in index_exprs for n in e
           if not has_brackets((n,))
           and not ({getattr(a, "name", None) for a in atoms((n,))} & have)]
    out, placed = [], False
    for node in tensor:
        if has_brackets((node,)):
            if not placed:
                out.extend(new)
                placed = True
        else:
            out.append(node)
    seen, unique = set(), []
    for node in out:
        if node not in seen:
            seen.add(node)
            unique.append(node)
    return strip_brackets(tuple(unique))


def _coordinates(w, layouts, indexed, sizes, text):
    """Index arrays, one per indexed axis, all laid out over the same vector axes."""
    flat = [decompose(w, f"x{i + 1}", layout, sizes, text) for i, layout in enumerate(layouts)]
    marked = [[a.name for d in layout for a in d.atoms if a.bracketed] for layout in layouts]
    if len(layouts) == 1 and marked[0]:
        if len(marked[0]) != 1 or sizes[marked[0][0]] != len(indexed):
            raise NotationError(
                f"the coordinate axis of the indices must be one bracketed axis of size "
                f"{len(indexed)}, one entry per indexed axis", text, whole_span(layouts[0]))
        (x, names), coordinate = flat[0], marked[0][0]
        if coordinate not in names:  # a coordinate axis `[1]` was squeezed: x is the index
            return [x], names
        vector = [n for n in names if n != coordinate]
        x = w.transpose(x, [names.index(n) for n in vector + [coordinate]])
        lead = ", ".join([":"] * len(vector)) if vector else "..."
        return [w.call(f"{x}[{lead + ', ' if vector else ''}{j}]", [x])
                for j in range(len(indexed))], vector
    # one operand per indexed axis, each perhaps with a unit coordinate axis `[1]`
    unit = [all(is_number(n) and sizes[n] == 1 for n in m) for m in marked]
    if len(layouts) != len(indexed) or not all(unit):
        raise NotationError(
            f"{len(indexed)} indexed axes need either {len(indexed)} index operands or one with "
            f"a bracketed coordinate axis [{len(indexed)}]", text, whole_span(layouts[0]))
    vector = []
    for _, names in flat:
        vector.extend(n for n in names if n not in vector)
    out = []
    for x, names in flat:
        order = [n for n in vector if n in names]
        x = w.transpose(x, [names.index(n) for n in order])
        out.append(w.reshape(x, [sizes[n] if n in names else 1 for n in vector]))
    return out, vector


def _arange(w, name, vector, sizes):
    shape = [sizes[name] if n == name else 1 for n in vector]
    r = w.call(w.backend.arange(sizes[name], "int32"), [])
    return w.reshape(r, shape) if len(shape) > 1 else r


def _broadcastable(w, u, have, target, sizes):
    ordered = [n for n in target if n in have]
    u = w.transpose(u, [have.index(n) for n in ordered])
    if not ordered:
        return u
    first = target.index(ordered[0])
    return w.reshape(u, [sizes[n] if n in have else 1 for n in target[first:]])


def _span(layout, name):
    return next(a.span for d in layout for a in d.atoms if a.name == name)


def whole_span(layout):
    spans = [d.span for d in layout]
    return (spans[0][0], spans[-1][1]) if spans else None


_OPS = {}


def _index(kind, expression, tensors, sizes):
    op = _OPS.get(kind)
    if op is None:
        op = _OPS[kind] = Index(kind)
    return run(op, expression, tensors, sizes)


def get_at(expression, /, *tensors, **sizes):
    """Read the tensor at the given indices: y[v...] = x[idx[v...]].

    >>> import numpy as np
    >>> from levante import ein
    >>> table, ids = np.arange(12).reshape(4, 3), np.array([[3, 0]])
    >>> ein.get_at("[v] c, b t -> b t c", table, ids)
    array([[[ 9, 10, 11],
            [ 0,  1,  2]]])
    >>> ein.get_at("b [t] c, b i -> b i c", np.ones((2, 5, 3)), np.zeros((2, 4), int)).shape
    (2, 4, 3)
    """
    return _index("get_at", expression, tensors, sizes)


def set_at(expression, /, *tensors, **sizes):
    """A copy of the tensor with the updates written at the indices: x[idx] = u.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.set_at("[v], i, i", np.zeros(4), np.array([1, 3]), np.array([5.0, 7.0]))
    array([0., 5., 0., 7.])
    """
    return _index("set_at", expression, tensors, sizes)


def add_at(expression, /, *tensors, **sizes):
    """A copy of the tensor with the updates added at the indices (repeats accumulate).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.add_at("[v], i, i", np.zeros(3), np.array([1, 1]), np.array([2.0, 3.0]))
    array([0., 5., 0.])
    """
    return _index("add_at", expression, tensors, sizes)


def subtract_at(expression, /, *tensors, **sizes):
    """A copy of the tensor with the updates subtracted at the indices (repeats accumulate).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.subtract_at("[v], i, i", np.zeros(3), np.array([0, 2]), np.array([1.0, 1.0]))
    array([-1.,  0., -1.])
    """
    return _index("subtract_at", expression, tensors, sizes)
