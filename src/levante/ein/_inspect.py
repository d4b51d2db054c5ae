"""Asking about an expression without computing: `solve`, `matches`, `check`, `explain`."""

from __future__ import annotations

import numbers

import numpy as np

from ._backends import BACKENDS
from ._engine import build, choose_backend, prepare
from ._errors import NotationError
from ._solve import dim_size, display, is_number
from ._syntax import ANONYMOUS


class _Shapes:
    """An op that only solves: every operand expression, no output."""

    name = "solve"
    concatenates = True

    def operands(self, signature, count, options):
        from ._op import expect_count

        expect_count(signature, count, len(signature.inputs))
        return signature.inputs, signature.outputs or (), signature.input_spans


_SOLVE = _Shapes()


def _shapes(tensors):
    """Operand shapes; None stands for an operand whose shape is to be solved."""
    return tuple(None if t is None else tuple(int(s) for s in getattr(t, "shape", ()))
                 for t in tensors)


def _prepared(expression, tensors, sizes):
    try:
        return prepare(_SOLVE, expression, _shapes(tensors), sizes, ())
    except NotationError as error:
        shown = ["unknown" if s is None else s for s in _shapes(tensors)]
        raise error.with_context(expression, shown, sizes) from None


def solve_shapes(expression, /, *tensors, **sizes):
    """The shape of every operand expression, solved from the given tensors and sizes
    (einx 0.4's `solve_shapes`); pass None for an operand whose shape is wanted.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.solve_shapes("a b, c b a", np.ones((3, 4)), None, c=5)
    ((3, 4), (5, 4, 3))
    """
    call = _prepared(expression, tensors, sizes)
    return tuple(tuple(dim_size(d, call.sizes) for d in layout) for layout in call.inputs)


def solve_axes(expression, /, *tensors, **sizes):
    """The size of every named axis (einx 0.4's `solve_axes`): a named ellipsis maps to an
    int32 array of its sizes. Pass None for an operand whose shape is unknown.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.solve_axes("a s..., c a", np.ones((2, 3, 4)), None, c=5)
    {'a': 2, 's': array([3, 4], dtype=int32), 'c': 5}
    """
    found = _solved(_prepared(expression, tensors, sizes))
    return {k: np.asarray(v, dtype=np.int32) if isinstance(v, tuple) else v
            for k, v in found.items()}


def solve(expression, /, *tensors, **sizes):
    """The size of every named axis, solved from the tensors' shapes and the given sizes.

    A named ellipsis maps to a tuple of sizes. Raises `NotationError` when the tensors do
    not match.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.solve("b (s w)... c", np.ones((2, 32, 64, 3)), w=16)
    {'b': 2, 's': (2, 4), 'w': (16, 16), 'c': 3}
    """
    return _solved(_prepared(expression, tensors, sizes))


def _solved(call):
    found = {}
    for layout in call.inputs + call.outputs:
        for dim in layout:
            for atom in dim.atoms:
                name = atom.name
                if is_number(name) or name.startswith(ANONYMOUS):
                    continue
                base, _, position = display(name).partition(".")
                if position:  # `1.0` under nested ellipses: sizes in row-major order
                    index = tuple(int(p) for p in position.split("."))
                    found.setdefault(base, {})[index] = call.sizes[name]
                else:
                    found[base] = call.sizes[name]
    return {k: tuple(v[i] for i in sorted(v)) if isinstance(v, dict) else v
            for k, v in found.items()}


def matches(expression, /, *tensors, **sizes):
    """Whether the tensors fit the expression (a malformed expression still raises).

    Sizes that nothing determines need not be solved: `matches("(a b) c", x)` is True for
    any x of rank 2, as in einx.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.matches("b (s w) c", np.ones((2, 32, 3)), w=16), ein.matches("b c", np.ones(2))
    (True, False)
    """
    try:
        prepare(_SOLVE, expression, _shapes(tensors), sizes, (), complete=False)
    except NotationError as error:
        if type(error).__name__ == "NotationSyntaxError":
            raise
        return False
    return True


def check(expression, /, *tensors, **sizes):
    """Raise `NotationError` unless the tensors fit the expression; return None.

    Like `matches`, sizes that nothing determines need not be solved.

    >>> import numpy as np
    >>> from levante import ein
    >>> ein.check("b t c", np.ones((2, 3, 4)))
    """
    try:
        prepare(_SOLVE, expression, _shapes(tensors), sizes, (), complete=False)
    except NotationError as error:
        raise error.with_context(expression, _shapes(tensors), sizes) from None


def _shape(shape, expression):
    """A shape given to `explain`, as a tuple of ints (they are written into the plan)."""
    out = []
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
            raise NotationError(f"a shape is a tuple of non-negative ints, not {tuple(shape)!r}",
                                expression if isinstance(expression, str) else None)
        out.append(int(s))
    return tuple(out)


def explain(op, expression, /, *shapes_or_tensors, backend=None, **sizes):
    """The plan of `op` for these shapes, as the Python code that a warm call runs.

    `op` is an op's name (`"dot"`) or the op itself (`ein.dot`); operands are tensors or
    shapes (tuples), for which the plan is written for NumPy unless `backend=` says otherwise.

    >>> from levante import ein
    >>> print(ein.explain("rearrange", "b h w c -> b c h w", (2, 4, 4, 3)))
    def rearrange(x0):
        t1 = x0.transpose((0, 3, 1, 2))
        return t1
    <BLANKLINE>
    """
    from . import _registry

    name = op if isinstance(op, str) else getattr(op, "__name__", "")
    spec, options = _registry.op_for(name, sizes)
    tensors = [t for t in shapes_or_tensors if not isinstance(t, (tuple, list))]
    shapes = tuple(_shape(t, expression) if isinstance(t, (tuple, list))
                   else tuple(getattr(t, "shape", ())) for t in shapes_or_tensors)
    if backend is None:
        backend = choose_backend(tensors, expression, sizes, options) if tensors else "numpy"
    elif backend not in BACKENDS:
        raise NotationError(f"unknown backend {backend!r}: one of {', '.join(BACKENDS)}",
                            expression if isinstance(expression, str) else None)
    _, source = build(spec, expression, shapes, sizes, options, backend)
    return source
