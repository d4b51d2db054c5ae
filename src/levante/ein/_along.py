"""Ops along the bracketed axes, repeated over the others.

`softmax log_softmax` (over all bracketed axes jointly), `roll` (`shift=` an int or one per
bracketed axis), `flip`, `sort argsort` (one bracketed axis), `argmax argmin` (one bracketed
axis disappears; several become one coordinate axis where the first one was).
An output after `->` rearranges the result: `b q [k] h -> b h q k`.
"""

from __future__ import annotations

from ._engine import run1
from ._errors import NotationError
from ._layout import compose, decompose
from ._op import Op, check_bracket_sides, expect_count, whole
from ._solve import Atom, Dim
from ._syntax import has_brackets, strip_brackets

SHAPED_LIKE_INPUT = ("softmax", "log_softmax", "roll", "flip", "sort", "argsort")


class Along(Op):
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
        if signature.outputs is None:
            outputs = (strip_brackets(expr),) if self.name in SHAPED_LIKE_INPUT else ()
        else:
            outputs = (strip_brackets(signature.outputs[0]),)
        return signature.inputs, outputs, signature.input_spans

    def write(self, w, call):
        check_bracket_sides(call)
        (layout,) = call.inputs
        sizes = dict(call.sizes)
        x, names = decompose(w, "x0", layout, sizes, call.text)
        marked = [n for d in layout for a in d.atoms if a.bracketed for n in [a.name]]
        axes = [names.index(n) for n in marked]
        if self.name in ("sort", "argsort") and len(axes) != 1:
            raise NotationError(f"{self.name} works along one bracketed axis", call.text,
                                whole(call.signature))
        if self.name in ("argmax", "argmin"):
            y, result = _arg(w, self.name, x, names, marked, sizes)
            target = call.outputs[0] if call.outputs else _arg_output(layout, marked, sizes)
            return [compose(w, y, result, target, sizes, call.text)]
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


def _softmax(w, kind, x, names, marked, sizes):
    axes = [names.index(n) for n in marked]
    if len(axes) == 1 or w.backend.name != "torch":
        return w.call(w.backend.softmax(kind, x, axes), [x], [sizes[n] for n in names]), names
    # PyTorch normalizes along one axis: move the bracketed axes last and flatten them
    rest = [n for n in names if n not in marked]
    x = w.transpose(x, [names.index(n) for n in rest + marked])
    flat = 1
    for n in marked:
        flat *= sizes[n]
    x = w.reshape(x, [sizes[n] for n in rest] + [flat])
    y = w.call(w.backend.softmax(kind, x, [len(rest)]), [x], [sizes[n] for n in rest] + [flat])
    return w.reshape(y, [sizes[n] for n in rest + marked]), rest + marked


def _arg(w, kind, x, names, marked, sizes):
    rest = [n for n in names if n not in marked]
    if len(marked) == 1:
        y = w.call(w.backend.arg(kind, x, names.index(marked[0])), [x], [sizes[n] for n in rest])
        return y, rest
    x = w.transpose(x, [names.index(n) for n in rest + marked])
    flat = 1
    for n in marked:
        flat *= sizes[n]
    x = w.reshape(x, [sizes[n] for n in rest] + [flat])
    index = w.call(w.backend.arg(kind, x, len(rest)), [x])
    coords, stride = [], flat
    for n in marked:
        stride //= sizes[n]
        coords.append(w.call(f"({index} // {stride}) % {sizes[n]}", [index]))
    coordinate = f"{len(marked)}@coordinate"
    sizes[coordinate] = len(marked)
    return w.call(w.backend.stack(coords, len(rest)), coords), rest + [coordinate]


def _arg_output(layout, marked, sizes):
    dims, placed = [], False
    for dim in layout:
        term = tuple(a for a in dim.atoms if not a.bracketed)
        if term:
            dims.append(Dim((term,), dim.span))
        elif len(marked) > 1 and not placed:
            placed = True
            dims.append(Dim(((Atom(f"{len(marked)}@coordinate", False, dim.span),),), dim.span))
    return tuple(dims)


def _shifts(shift, count, call):
    if shift is None:
        raise NotationError("roll needs shift=, an int or one int per bracketed axis",
                            call.text, whole(call.signature))
    if isinstance(shift, int):
        return (shift,) * count
    shift = tuple(shift)
    if len(shift) != count:
        raise NotationError(f"roll got {len(shift)} shifts for {count} bracketed axes",
                            call.text, whole(call.signature))
    return shift


_OPS = {}


def along(kind, expression, tensor, options=(), **sizes):
    op = _OPS.get(kind)
    if op is None:
        op = _OPS[kind] = Along(kind)
    return run1(op, expression, tensor, sizes, options)


def softmax(expression, tensor, **sizes):
    """Softmax over the bracketed axes: y = exp(x) / Σ exp(x), computed stably.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.softmax("b q [k]", np.zeros((1, 2, 4)))[0, 0]
    array([0.25, 0.25, 0.25, 0.25])
    """
    return along("softmax", expression, tensor, **sizes)


def log_softmax(expression, tensor, **sizes):
    """Log-softmax over the bracketed axes: y = x - logsumexp(x).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.log_softmax("b [k]", np.zeros((1, 2)))
    array([[-0.69314718, -0.69314718]])
    """
    return along("log_softmax", expression, tensor, **sizes)


def roll(expression, tensor, shift, **sizes):
    """Roll the bracketed axes by `shift`: y[i] = x[i - shift] (wrapping around).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.roll("b [t]", np.arange(4)[None], shift=1)
    array([[3, 0, 1, 2]])
    """
    shift = shift if isinstance(shift, int) else tuple(shift)
    return along("roll", expression, tensor, (("shift", shift),), **sizes)


def flip(expression, tensor, **sizes):
    """Reverse the bracketed axes: y[i] = x[n - 1 - i].

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.flip("b [t]", np.arange(3)[None])
    array([[2, 1, 0]])
    """
    return along("flip", expression, tensor, **sizes)


def sort(expression, tensor, **sizes):
    """Sort along the one bracketed axis, ascending.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.sort("[t]", np.array([3, 1, 2]))
    array([1, 2, 3])
    """
    return along("sort", expression, tensor, **sizes)


def argsort(expression, tensor, **sizes):
    """The indices that sort the one bracketed axis.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.argsort("[t]", np.array([3, 1, 2]))
    array([1, 2, 0])
    """
    return along("argsort", expression, tensor, **sizes)


def argmax(expression, tensor, **sizes):
    """Index of the largest entry along the bracketed axes (the first one on ties).

    One bracketed axis disappears; several become a coordinate axis, in bracket order.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.argmax("b [t]", np.array([[1, 5, 2]]))
    array([1])
    >>> ein.argmax("[h w]", np.array([[1, 2], [9, 3]]))
    array([1, 0])
    """
    return along("argmax", expression, tensor, **sizes)


def argmin(expression, tensor, **sizes):
    """Index of the smallest entry along the bracketed axes (the first one on ties).

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.argmin("b [t]", np.array([[4, 0, 2]]))
    array([1])
    """
    return along("argmin", expression, tensor, **sizes)
