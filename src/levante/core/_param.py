"""`lv.param`: a parameter whose shape a notation op solves from its expression.

While tracing, `lv.param(params["w"])` is a `TensorFactory`: the op solves the operand's
shape and calls `create(shape, context)`, which declares the leaf (default init from the
op, fans from the expression) and returns its array. At apply time `lv.param` returns the
array itself, so the op sees a plain tensor.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from levante.ein import TensorFactory

from . import init as initializers
from ._errors import fail, local, where
from ._node import Node, refuse_array_use
from ._validate import check

DEFAULTS = {  # einx 0.3: the op decides how a parameter it receives starts
    "dot": initializers.truncated_normal(),  # std 1/sqrt(fan_in), fan_in from the expression
    "add": initializers.zeros,
    "subtract": initializers.zeros,
    "multiply": initializers.ones,
    "divide": initializers.ones,
    "true_divide": initializers.ones,
    "get_at": initializers.normal(0.02),
}


class ParamFactory(TensorFactory):
    """`lv.param(node)` while tracing: made by the notation op it is passed to."""

    __slots__ = ("dtype", "init", "node")

    def __init__(self, node, init, dtype):
        self.node, self.init, self.dtype = node, init, dtype

    def create(self, shape, context):
        init = self.init
        if init is None:
            init = DEFAULTS.get(context.op)
            if init is None:
                raise fail(
                    f"{where(self.node._path)} is made by ein.{context.op}"
                    f"({context.expression!r}), which has no default initializer (dot, add, "
                    "subtract, multiply, divide and get_at have one)",
                    f"say how to make it: lv.param({local(self.node._path)}, "
                    "init=lv.init.zeros) (or a number, another lv.init initializer)")
        return self.node._declare(
            tuple(shape), jnp.float32 if self.dtype is None else self.dtype, init,
            fans=(context.fan_in, context.fan_out), explicit=self.init is not None,
            source=f"ein.{context.op}({context.expression!r})")

    def __repr__(self):
        return f"lv.param({self.node!r})"


def _outside_op(factory, use):
    path = factory.node._path
    return fail(
        f"lv.param({local(path)}) for {where(path)} was used as an array ({use}): "
        "it makes a parameter only as an operand of a notation op, whose expression gives "
        "its shape",
        f"pass it to an op, ein.multiply('... [c]', x, lv.param({local(path)})), or declare "
        f"the shape yourself: w = lv.validate({local(path)}, shape, init=...)")


refuse_array_use(ParamFactory, _outside_op)


def _refuse_flatten(factory):
    raise _outside_op(factory, "passed into a JAX function or transform")


jax.tree_util.register_pytree_node(ParamFactory, _refuse_flatten, lambda aux, children: aux)


def param(node, init=None, dtype=None):
    """A parameter as an operand of a notation op, its shape solved from the expression.

    While `lv.trace` runs the model this returns a tensor factory: the op solves the
    operand's shape, and the leaf is declared with that shape and `dtype` (default
    float32). Without `init`, the op chooses (einx 0.3 convention): `dot` a truncated
    normal with std `1/sqrt(fan_in)` (fan-in: the operand's axes that the expression
    contracts away), `add`/`subtract` zeros, `multiply`/`divide` ones, `get_at`
    normal(0.02); other ops need an explicit `init`. Initializers from `lv.init` receive the
    expression's fan-in and fan-out. At apply time `node` is the array and is returned as
    it is.

    >>> import jax, jax.numpy as jnp
    >>> import levante as lv
    >>> from levante import ein
    >>> def layer_scale(params, x):
    ...     return ein.multiply("... [c]", x, lv.param(params["scale"], init=1e-5))
    >>> def dense(params, x, out):
    ...     return ein.dot("... [c1->c2]", x, lv.param(params["w"]), c2=out)
    >>> x = jnp.ones((2, 3))
    >>> lv.trace(layer_scale, 0, x)["scale"].shape
    (3,)
    >>> params = lv.trace(dense, 0, x, 8)
    >>> params["w"].shape, dense(params, x, 8).shape
    ((3, 8), (2, 8))
    """
    if isinstance(node, Node):
        return ParamFactory(node, init, dtype)
    return check(node, None, "lv.param")
