"""einx 0.4's adapters: a user's own function made into a notation op.

`adapt_numpylike_reduce(f)`: `f(x, axis=(...))` reduces like `np.sum`; the result is a
reduction with the notation's rules (`"a [b] c"`, `"a b c -> a c"`). `adapt_numpylike_
elementwise(f)`: `f(*xs)` broadcasts like `np.add` (every tensor operand has the same rank);
the result broadcasts by axis name. Both plan once per shape like every op and run on every
backend. `adapt_with_vmap(f)` (JAX and PyTorch): `f` sees only the bracketed axes of each
operand and is vectorized over the others with `jax.vmap` or `torch.vmap`:

    f(x, y)  # x: b c, y: c  ->  c b
    op("a [b c] x, d [c] -> a d x [c b]", x, y)

They are reached as `ein.numpy.*`, `ein.jax.*` and `ein.torch.*`, einx's names.
"""

from __future__ import annotations

import itertools

from ._autograph import as_python
from ._elementwise import Elementwise
from ._engine import run, run1
from ._errors import NotationError
from ._parse import parse
from ._reduce import _KEEP, Reduce
from ._syntax import Axis, Concat, Ellipsis_, Group, Number, has_brackets, strip_brackets

_COUNT = itertools.count()


def adapt_numpylike_reduce(function):
    """A reduction op from `function(x, axis=tuple_of_ints)` (einx 0.4's adapter).

    >>> import numpy as np
    >>> from levante import ein
    >>> l2 = ein.numpy.adapt_numpylike_reduce(lambda x, axis: np.sqrt((x * x).sum(axis)))
    >>> l2("a [b]", np.array([[3.0, 4.0], [6.0, 8.0]]))
    array([ 5., 10.])
    """
    op = Reduce(_name(function, "reduce"), function)

    def reduction(expression, tensor, /, *more, keepdims=False, **sizes):
        options = _KEEP if keepdims else ()
        if more:
            return run(op, expression, (tensor, *more), sizes, options)
        return run1(op, expression, tensor, sizes, options)

    reduction.__name__ = reduction.__qualname__ = op.name
    reduction.__doc__ = f"The reduction {op.name} in the notation (see ein.sum)."
    return as_python(reduction)


def adapt_numpylike_elementwise(function):
    """An elementwise op from a broadcasting `function(*xs)` (einx 0.4's adapter).

    >>> import numpy as np
    >>> from levante import ein
    >>> hypot = ein.numpy.adapt_numpylike_elementwise(np.hypot)
    >>> hypot("a, b -> a b", np.array([3.0, 5.0]), np.array([4.0, 12.0]))
    array([[ 5.        , 12.36931688],
           [ 6.40312424, 13.        ]])
    """
    op = Elementwise(_name(function, "elementwise"), function)

    def elementwise(expression, /, *tensors, **sizes):
        return run(op, expression, tensors, sizes)

    elementwise.__name__ = elementwise.__qualname__ = op.name
    elementwise.__doc__ = f"The elementwise op {op.name} in the notation (see ein.add)."
    return as_python(elementwise)


def _name(function, kind):
    # an identifier of the writer's own: the plan's source names it (never the user's text)
    return f"{kind}_{next(_COUNT)}"


def adapt_with_vmap(function, vmap, signature=None):
    """An op whose `function` sees the bracketed axes only, vectorized over the others by
    `vmap(f, in_axes)` (the backend modules pass `jax.vmap` or `torch.vmap`)."""
    from . import rearrange, solve

    def adapted(expression, /, *tensors, **sizes):
        parsed = parse(expression)
        if parsed.outputs is None:
            raise NotationError("an adapted op needs its output after '->', e.g. "
                                "'a [b] -> a [b]'", parsed.text, (0, max(1, len(parsed.text))))
        if len(parsed.inputs) != len(tensors):
            raise NotationError(f"the expression describes {len(parsed.inputs)} operands but "
                                f"{len(tensors)} were given", parsed.text,
                                (0, max(1, len(parsed.text))))
        inputs = [_split(parsed, e) for e in parsed.inputs]
        outputs = [_split(parsed, e) for e in parsed.outputs]
        vectorized = list(dict.fromkeys(n for vec, _ in inputs + outputs for n in vec))
        known = dict(solve(", ".join(_render(strip_brackets(e)) for e in parsed.inputs),
                           *tensors, **sizes))
        moved = []
        for x, expr, (vec, inner) in zip(tensors, parsed.inputs, inputs):
            order = [n for n in vectorized if n in vec]
            moved.append(rearrange(f"{_render(strip_brackets(expr))} -> "
                                   f"{' '.join(order)} {_render(inner)}", x, **known))
        f = function
        for name in reversed(vectorized):
            f = vmap(f, tuple(0 if name in vec else None for vec, _ in inputs))
        result = f(*moved)
        many = isinstance(result, (tuple, list))
        results = tuple(result) if many else (result,)
        if len(results) != len(outputs):
            raise NotationError(f"the function returned {len(results)} tensors but the "
                                f"expression has {len(outputs)} outputs", parsed.text,
                                (0, max(1, len(parsed.text))))
        done = tuple(rearrange(f"{' '.join(vectorized)} {_render(inner)} -> "
                               f"{_render(strip_brackets(expr))}", y, **known)
                     for y, expr, (_, inner) in zip(results, parsed.outputs, outputs))
        return done if many or len(done) > 1 else done[0]

    adapted.__name__ = adapted.__qualname__ = getattr(function, "__name__", "adapted")
    adapted.__doc__ = "The op made by adapt_with_vmap (see levante.ein's adapters)."
    return as_python(adapted)


def _split(parsed, expr):
    """(vectorized names, bracketed nodes) of one operand; the vectorized part holds plain
    names only (an adapted op has no ellipsis or composition outside its brackets)."""
    vec, inner = [], []
    for node in expr:
        if has_brackets((node,)):
            inner.append(node)
        elif isinstance(node, Axis) and node.name != "...":
            vec.append(node.name)
        else:
            raise NotationError("adapt_with_vmap: outside the brackets an expression holds "
                                "plain axis names (no ellipsis, composition or number)",
                                parsed.text, getattr(node, "span", None))
    return vec, strip_brackets(tuple(inner))


def _render(nodes):
    out = []
    for n in nodes:
        if isinstance(n, Axis):
            out.append(n.name)
        elif isinstance(n, Number):
            out.append(str(n.value))
        elif isinstance(n, Group):
            out.append(f"({_render(n.children)})")
        elif isinstance(n, Concat):
            out.append("(" + " + ".join(_render(t) for t in n.terms) + ")")
        elif isinstance(n, Ellipsis_):
            inner = _render((n.inner,))
            out.append("..." if inner == "..." else f"{inner}...")
    return " ".join(out)
