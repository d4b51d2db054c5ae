"""Ops along the bracketed axes, repeated over the others.

`softmax log_softmax` (over all bracketed axes jointly), `roll` (`shift=` an int or one per
bracketed axis), `flip`, `sort argsort` (one bracketed axis), `argmax argmin` (a coordinate
axis with one entry per bracketed axis takes the bracket's place, as in einx 0.4).
An output after `->` rearranges the result: `b q [k] h -> b h q k`.
"""

from __future__ import annotations

import math
import numbers

from ._engine import run, run1, shapes_of
from ._errors import NotationError
from ._layout import compose, decompose
from ._op import (
    Op,
    arrow_side,
    check_bracket_sides,
    expect_count,
    layout_names,
    refuse_empty,
    whole,
)
from ._solve import Atom, Dim, display, is_number
from ._syntax import Arrow, Axis, Number, has_brackets, strip_brackets, walk

SHAPED_LIKE_INPUT = ("softmax", "log_softmax", "roll", "flip", "sort", "argsort")


class Along(Op):
    solves_together = False  # each bracketed axis has its own coordinate or shift
    def __init__(self, kind):
        self.name = kind

    def operands(self, signature, count, options):
        expect_count(signature, count, 1)
        expect_count(signature, len(signature.inputs), 1, "operand expressions")
        (expr,) = signature.inputs
        if not has_brackets(expr):
            raise NotationError(f"{self.name} works along bracketed axes: write e.g. "
                                f"ein.{self.name}(\"b [t] c\", x)", signature.text,
                                whole(signature))
        arrows = [n for n in walk(expr) if isinstance(n, Arrow)]
        if arrows and self.name in ("argmax", "argmin") and signature.outputs is None:
            # `b [h->] w c`, `b [h->1] w c`, `b [h w->2] c`: the right side of the arrow is
            # what takes the bracket's place in the output (einx 0.4)
            return ((arrow_side(expr, "left"),), (strip_brackets(arrow_side(expr, "right")),),
                    signature.input_spans)
        if signature.outputs is None:
            if self.name in ("argmax", "argmin") and signature.text.count("[") != 1:
                # einx 0.4: the coordinate axis takes the place of the one bracket
                raise NotationError(
                    f"{self.name} without an output needs its axes in one bracket, e.g. "
                    f"'a [b c]', or the output written after '->'", signature.text,
                    whole(signature))
            outputs = (strip_brackets(expr),) if self.name in SHAPED_LIKE_INPUT else ()
        else:
            if len(signature.outputs) != 1:
                raise NotationError(f"{self.name} has one output", signature.text,
                                    whole(signature))
            outputs = (strip_brackets(signature.outputs[0]),)
        return signature.inputs, outputs, signature.input_spans

    def write(self, w, call):
        check_bracket_sides(call)
        (layout,) = call.inputs
        _check_order_and_names(self.name, call, layout)
        sizes = dict(call.sizes)
        x, names = decompose(w, "x0", layout, sizes, call.text)
        # a bracketed unit axis `1` was squeezed away by decompose: nothing runs along it
        marked = [a.name for d in layout for a in d.atoms if a.bracketed and a.name in names]
        if self.name in ("softmax", "log_softmax", "argmax", "argmin"):
            refuse_empty(self.name, call, layout, set(marked), sizes)
        if self.name in ("argmax", "argmin"):
            return [_write_arg(w, self.name, call, layout, x, names, marked, sizes)]
        if not marked:
            raise NotationError(f"{self.name}: the bracketed axes are unit axes `1`, so there "
                                "is nothing to work along", call.text, whole(call.signature))
        axes = [names.index(n) for n in marked]
        if self.name in ("sort", "argsort") and len(axes) != 1:
            spans = [a.span for d in layout for a in d.atoms if a.bracketed]
            raise NotationError(f"{self.name} works along one bracketed axis", call.text,
                                (spans[0][0], spans[-1][1]))
        same = [sizes[n] for n in names]
        if self.name in ("softmax", "log_softmax"):
            y, names = _softmax(w, self.name, x, names, marked, sizes)
        elif self.name == "roll":
            shifts = _shifts(dict(call.options).get("shift"), len(axes), call)
            y = w.call(w.backend.roll(x, shifts, axes), [x], same)
        elif self.name == "flip":
            y = w.call(w.backend.flip(x, axes), [x], same)
        else:
            y = w.call(w.backend.sort(self.name, x, axes[0]), [x], same)
        return [compose(w, y, names, call.outputs[0], sizes, call.text)]


def _check_order_and_names(kind, call, layout):
    """einx 0.4: the bracketed axes keep their order in an output of the input's shape
    (`[a b] -> [b a]` is refused), and roll's axes are not named like its keyword."""
    marked = [a for d in layout for a in d.atoms if a.bracketed]
    if kind == "roll":
        for a in (a for d in layout for a in d.atoms):
            if a.name == "shift":
                raise NotationError("an axis named `shift` would be roll's keyword argument "
                                    "shift=: rename the axis", call.text, a.span)
    if kind in SHAPED_LIKE_INPUT and call.outputs:
        names = [a.name for a in marked]
        order = [n for n in layout_names(call.outputs[0]) if n in names]
        if order != names and sorted(order) == sorted(names):
            raise NotationError(f"the bracketed axes of {kind} keep their order in the output: "
                                f"write them as in the input ({' '.join(map(display, names))})",
                                call.text, (marked[0].span[0], marked[-1].span[1]))


def _softmax(w, kind, x, names, marked, sizes):
    axes = [names.index(n) for n in marked]
    if len(axes) == 1 or not getattr(w.backend, "softmax_one_axis", False):
        return w.call(w.backend.softmax(kind, x, axes), [x], [sizes[n] for n in names]), names
    # PyTorch and TensorFlow normalize along one axis: move the axes last and flatten them
    rest = [n for n in names if n not in marked]
    x = w.transpose(x, [names.index(n) for n in rest + marked])
    flat = 1
    for n in marked:
        flat *= sizes[n]
    x = w.reshape(x, [sizes[n] for n in rest] + [flat])
    y = w.call(w.backend.softmax(kind, x, [len(rest)]), [x], [sizes[n] for n in rest] + [flat])
    return w.reshape(y, [sizes[n] for n in rest + marked]), rest + marked


def _write_arg(w, kind, call, layout, x, names, marked, sizes):
    """argmax/argmin (einx 0.4): a coordinate axis with one entry per bracketed axis takes
    the bracket's place: `b [h] w c` gives `b 1 w c`, `b [h w] c` gives `b 2 c`. A written
    output puts the coordinate axis where its one bracketed axis is (`b [h w] c -> b c [2]`);
    an output without brackets is allowed for one bracketed axis and drops it
    (`b [h] w c -> b w c`)."""
    kept = {a.name for d in (call.outputs[0] if call.outputs else ()) for a in d.atoms}
    for a in (a for d in layout for a in d.atoms if a.bracketed and a.name in kept):
        raise NotationError(f"axis `{display(a.name)}` is bracketed, so {kind} "
                            "removes it, but it is also in the output", call.text, a.span)
    # a unit axis `1` of its own counts, as in einx (its coordinate is 0); inside a
    # composition, `(1 b)`, it is no axis
    bracketed = [a for d in layout for a in d.atoms if a.bracketed
                 and not (len(d.atoms) > 1 and is_number(a.name) and sizes[a.name] == 1)]
    count = len(bracketed)
    if call.outputs:
        target = call.outputs[0]
        coordinate = _coordinate_atom(kind, call, target, count, sizes)
    else:
        coordinate = Atom(f"{count}@coordinate", False, bracketed[0].span)
        sizes[coordinate.name] = count
        target = _arg_output(layout, coordinate)
    rest = [n for n in names if n not in marked]
    if not marked:  # `b [1] c`: along unit axes the only coordinate is 0 (as einx)
        dtype = "int32" if w.backend.name == "jax" else "int64"  # the dtype argmax gives
        zero = w.reshape(w.call(w.backend.arange(1, dtype), []), [1] * (len(rest) + 1))
        shape = [sizes[n] for n in rest] + [count]
        if coordinate is None:
            return compose(w, w.reshape(w.broadcast_to(zero, shape), shape[:-1]), rest,
                           target, sizes, call.text)
        return compose(w, w.broadcast_to(zero, shape), rest + [coordinate.name], target, sizes,
                       call.text)
    index = _arg_index(w, kind, x, names, marked, sizes)
    if coordinate is None:
        return compose(w, index, rest, target, sizes, call.text)
    if count == 1:
        y = w.reshape(index, [sizes[n] for n in rest] + [1])
    else:
        flat = math.prod(sizes[a.name] for a in bracketed)
        coords, stride = [], flat
        for a in bracketed:
            stride //= sizes[a.name]
            coords.append(w.call(f"({index} // {stride}) % {sizes[a.name]}", [index]))
        y = w.call(w.backend.stack(coords, len(rest)), coords)
    return compose(w, y, rest + [coordinate.name], target, sizes, call.text)


def _arg_index(w, kind, x, names, marked, sizes):
    """The flat index of the extreme entry over the `marked` axes (row-major, in bracket
    order), one per position of the other axes."""
    rest = [n for n in names if n not in marked]
    if len(marked) == 1:
        return w.call(w.backend.arg(kind, x, names.index(marked[0])), [x],
                      [sizes[n] for n in rest])
    x = w.transpose(x, [names.index(n) for n in rest + marked])
    x = w.reshape(x, [sizes[n] for n in rest] + [math.prod(sizes[n] for n in marked)])
    return w.call(w.backend.arg(kind, x, len(rest)), [x], [sizes[n] for n in rest])


def _coordinate_atom(kind, call, target, count, sizes):
    """The output axis that holds the coordinates: the one written in brackets (or on the
    right of `[h -> 1]`); None when the output brackets nothing, which one bracketed axis
    allows."""
    spans = _coordinate_spans(call.signature)
    found = [(i, a) for i, d in enumerate(target) for a in d.atoms if a.span in spans]
    dims = {i for i, _ in found}
    real = [a for _, a in found if not (is_number(a.name) and sizes[a.name] == 1)]
    if len(dims) > 1 or len(real) > 1:
        raise NotationError(f"{kind} writes its coordinates along one axis: bracket one axis "
                            "of the output", call.text, (found[0][1].span[0], found[-1][1].span[1]))
    if not found:
        if count != 1:
            raise NotationError(
                f"{kind} over {count} bracketed axes returns {count} coordinates: write their "
                f"axis in brackets in the output, e.g. '... -> ... [{count}]'", call.text,
                whole(call.signature))
        return None
    atom = real[0] if real else found[0][1]
    if sizes[atom.name] != count:
        raise NotationError(
            f"the coordinate axis has size {sizes[atom.name]} but there "
            f"{'is 1 bracketed axis' if count == 1 else f'are {count} bracketed axes'}: "
            f"write [{count}]", call.text, atom.span)
    return atom


def _coordinate_spans(signature):
    if signature.outputs is not None:
        return {n.span for n in walk(signature.outputs[0])
                if isinstance(n, (Axis, Number)) and n.bracketed}
    arrows = [n for expr in signature.inputs for n in walk(expr) if isinstance(n, Arrow)]
    return {n.span for arrow in arrows for n in walk(arrow.right)
            if isinstance(n, (Axis, Number))}


def _arg_output(layout, coordinate):
    """The input layout with the coordinate axis where the bracket was (`(b [h w]) c` ->
    `(b 2) c`); the other bracketed axes go."""
    dims, placed = [], False
    for dim in layout:
        term = []
        for a in dim.atoms:
            if not a.bracketed:
                term.append(a)
            elif not placed:
                placed = True
                term.append(coordinate)
        if term:
            dims.append(Dim((tuple(term),), dim.span))
    return tuple(dims)


def _shifts(shift, count, call):
    if shift is None:
        raise NotationError("roll needs shift=, an int or one int per bracketed axis",
                            call.text, whole(call.signature))
    if _integer(shift):
        return (int(shift),) * count
    if not isinstance(shift, tuple) or not all(type(s) is int for s in shift):
        raise NotationError(f"roll needs shift=, an int or one int per bracketed axis, not "
                            f"{shift!r}", call.text, whole(call.signature))
    if len(shift) != count:
        raise NotationError(f"roll got {len(shift)} shifts for {count} bracketed axes",
                            call.text, whole(call.signature))
    return shift


def _whole_text(expression):
    return (0, max(1, len(expression))) if isinstance(expression, str) else None


def _integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


_OPS = {}


def along(kind, expression, tensor, more=(), options=(), sizes=None):
    op = _OPS.get(kind)
    if op is None:
        op = _OPS[kind] = Along(kind)
    if more:  # too many operands: let the engine say so
        return run(op, expression, (tensor, *more), sizes or {}, options)
    return run1(op, expression, tensor, sizes or {}, options)


def softmax(expression, tensor, /, *more, **sizes):
    """Softmax over the bracketed axes: y = exp(x) / Σ exp(x), computed stably.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.softmax("b q [k]", np.zeros((1, 2, 4)))[0, 0]
    array([0.25, 0.25, 0.25, 0.25])
    """
    return along("softmax", expression, tensor, more, (), sizes)


def log_softmax(expression, tensor, /, *more, **sizes):
    """Log-softmax over the bracketed axes: y = x - logsumexp(x).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.log_softmax("b [k]", np.zeros((1, 2)))
    array([[-0.69314718, -0.69314718]])
    """
    return along("log_softmax", expression, tensor, more, (), sizes)


def roll(expression, tensor, /, shift=None, **sizes):
    """Roll the bracketed axes by `shift`: y[i] = x[i - shift] (wrapping around).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.roll("b [t]", np.arange(4)[None], shift=1)
    array([[3, 0, 1, 2]])
    """
    try:
        options = shift_option(shift, expression)
    except NotationError as error:
        raise NotationError(error.reason, error.expression, error.span, shapes_of((tensor,)),
                            sizes) from None
    return along("roll", expression, tensor, (), options, sizes)


def shift_option(shift, expression):
    """The `shift=` of roll as plain ints (or None), the option its plan is keyed by."""
    if isinstance(shift, list):
        shift = tuple(shift)
    # made plain ints here, before the plan cache: its keys compare with ==, and 1.0 == 1,
    # so a float shift would otherwise reuse the plan of an int one and skip the check
    if _integer(shift):
        shift = int(shift)
    elif isinstance(shift, tuple) and all(_integer(s) for s in shift):
        shift = tuple(int(s) for s in shift)
    elif shift is not None:
        raise NotationError(f"roll needs shift=, an int or one int per bracketed axis, not "
                            f"{shift!r}", expression if isinstance(expression, str) else None,
                            _whole_text(expression))
    return (("shift", shift),)


def flip(expression, tensor, /, *more, **sizes):
    """Reverse the bracketed axes: y[i] = x[n - 1 - i].

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.flip("b [t]", np.arange(3)[None])
    array([[2, 1, 0]])
    """
    return along("flip", expression, tensor, more, (), sizes)


def sort(expression, tensor, /, *more, **sizes):
    """Sort along the one bracketed axis, ascending.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.sort("[t]", np.array([3, 1, 2]))
    array([1, 2, 3])
    """
    return along("sort", expression, tensor, more, (), sizes)


def argsort(expression, tensor, /, *more, **sizes):
    """The indices that sort the one bracketed axis.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.argsort("[t]", np.array([3, 1, 2]))
    array([1, 2, 0])
    """
    return along("argsort", expression, tensor, more, (), sizes)


def argmax(expression, tensor, /, *more, **sizes):
    """The coordinates of the largest entry along the bracketed axes (the first on ties).

    As in einx 0.4, a coordinate axis with one entry per bracketed axis, in bracket order,
    takes the bracket's place: `b [t]` gives `b 1`, `b [h w] c` gives `b 2 c`. A written
    output puts it where its one bracketed axis is (`b [h w] c -> b c [2]`); an output
    that brackets nothing drops the coordinate axis, which one bracketed axis allows
    (`b [t] -> b`, NumPy's `argmax(x, axis=1)`). Raises `NotationError` for two bracket
    groups without an output, or a coordinate axis of the wrong size.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.argmax("b [t]", np.array([[1, 5, 2]]))
    array([[1]])
    >>> ein.argmax("b [t] -> b", np.array([[1, 5, 2]]))
    array([1])
    >>> ein.argmax("[h w]", np.array([[1, 2], [9, 3]]))
    array([1, 0])
    """
    return along("argmax", expression, tensor, more, (), sizes)


def argmin(expression, tensor, /, *more, **sizes):
    """The coordinates of the smallest entry along the bracketed axes (the first on ties),
    laid out as in `argmax` (einx 0.4).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.argmin("b [t]", np.array([[4, 0, 2]]))
    array([[1]])
    >>> ein.argmin("b [t] -> b", np.array([[4, 0, 2]]))
    array([1])
    """
    return along("argmin", expression, tensor, more, (), sizes)
