"""Tensor factories: a callable standing in for an operand, made once its shape is solved.

    ein.multiply("... [c]", x, lambda shape: np.ones(shape))

A plain callable receives the shape. A `TensorFactory` receives the shape and a
`FactoryContext` naming the op, the operand's fan-in and fan-out (from the axes it
shares with the other operands and the output) and the dtype of the other operands:
this is how parameters get their default initializers from the expression they are used in.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ._backends import kind_of
from ._errors import NotationSizeError


class FactoryContext(NamedTuple):
    """What a `TensorFactory` learns about its place in the expression.

    >>> import numpy as np
    >>> from levante import ein
    >>> class Show(TensorFactory):
    ...     def create(self, shape, context):
    ...         print(context.op, context.fan_in, context.fan_out)
    ...         return np.zeros(shape)
    >>> _ = ein.dot("b [c1->c2]", np.ones((2, 3)), Show(), c2=5)
    dot 3 5
    """

    op: str  # "dot", "multiply", "get_at", ...
    expression: str
    index: int  # position among the operands
    fan_in: int  # product of its axes that are contracted away (in other inputs, not output)
    fan_out: int  # product of its axes that reach the output but no other input
    dtype: Any  # dtype of the first tensor operand, or None


class TensorFactory:
    """Base class of factories that want the context, not just the shape.

    >>> import numpy as np
    >>> from levante import ein
    >>> class Ones(TensorFactory):
    ...     def create(self, shape, context):
    ...         return np.ones(shape) * context.fan_in
    >>> ein.dot("b [c1->c2]", np.ones((2, 3)), Ones(), c2=4).shape
    (2, 4)
    """

    def create(self, shape, context):  # pragma: no cover - interface
        raise NotImplementedError


def is_factory(value):
    return kind_of(value) == "?" and (isinstance(value, TensorFactory) or callable(value))


def _names(layout):
    return {a.name for dim in layout for a in dim.atoms}


def call_factory(factory, shape, op, expression, index, resolved, tensors):
    mine = _names(resolved.inputs[index])
    others = set().union(*(_names(layout) for i, layout in enumerate(resolved.inputs)
                           if i != index))
    outputs = set().union(*(_names(layout) for layout in resolved.outputs))
    sizes = resolved.sizes
    fan_in = math.prod(sizes[n] for n in mine if n in others and n not in outputs)
    fan_out = math.prod(sizes[n] for n in mine if n in outputs and n not in others)
    dtype = next((t.dtype for t in tensors if hasattr(t, "dtype") and not is_factory(t)), None)
    context = FactoryContext(op, expression, index, fan_in, fan_out, dtype)
    if isinstance(factory, TensorFactory):
        made = factory.create(shape, context)
    else:
        made = factory(shape)
    got = getattr(made, "shape", None)
    if got is None or tuple(got) != tuple(shape):
        raise NotationSizeError(
            f"the factory for operand {index + 1} returned shape "
            f"{None if got is None else tuple(got)} but the expression asks for {tuple(shape)}",
            expression)
    return made
