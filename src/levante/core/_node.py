"""The tracing params object: what the model receives as `params` while `lv.trace` runs it.

A `Node` stands for one path of the parameter tree. Indexing makes (or finds) a child;
`lv.validate` / `lv.param` turn it into a leaf and hand back a real array. It is not an
array and does not pretend to be one: arithmetic, NumPy/JAX conversion, array attributes,
iteration and being passed into a JAX transform all raise `ParamsError` naming the path and
the call to write instead. It is a `TensorFactory` only so that a notation op receiving it
raw can say "wrap it in lv.param".
"""

from __future__ import annotations

import numbers

import jax

from levante.ein import TensorFactory

from ._errors import ParamsAttributeError, fail, keys_text, local, where

OPEN, BRANCH, LEAF = "open", "branch", "leaf"


def _fix_for_array(node):
    name = local(node._path)
    if node._kind == LEAF:
        return (f"use the array the declaration returned: w = lv.validate({name}, ...) or "
                f"lv.param({name}) inside a notation op, then `w`, not {name}")
    if node._kind == BRANCH:
        return (f"index down to one parameter, e.g. {name}[{next(iter(node._children))!r}], "
                "and declare it with lv.validate or lv.param")
    return (f"w = lv.validate({name}, shape, init=...) and use `w`, or pass "
            f"lv.param({name}) to a notation op")


def _state(node):
    if node._kind == LEAF:
        return "it was declared, and the declaration returned its array"
    if node._kind == BRANCH:
        return f"it is a group of parameters holding {keys_text(list(node._children))}"
    return "nothing has declared it yet"


def not_an_array(node, use):
    """The error for using the tracing object at `node` as an array (`use`: how)."""
    return fail(
        f"{where(node._path)} was used as an array ({use}) while lv.trace ran the "
        "model, but at trace time `params` is a tracing object that hands out parameters, "
        f"not an array; {_state(node)}",
        _fix_for_array(node))


def passed_to_jax(node):
    """The error for passing the tracing object at `node` into a JAX function or transform."""
    return fail(
        f"{where(node._path)} was passed into a JAX function or transform (jax.jit, "
        "lax.scan, jax.vmap, jax.checkpoint, lax.cond, jnp.*) while lv.trace ran the model; "
        "at trace time it is a tracing object, not an array, so JAX cannot take it",
        "declare leaves with lv.validate/lv.param and use the arrays they return; inside "
        "transforms close over params instead of passing it, e.g. jax.checkpoint(lambda x: "
        "block(params, x))(x) or lax.scan(lambda h, x: (step(params, h, x), None), h, xs); "
        "and give lv.trace the plain model, not jax.jit(model)")


def _normalize_key(node, key):
    if isinstance(key, bool) or not isinstance(key, (str, numbers.Integral)):
        raise fail(
            f"{where(node._path)} was indexed with {key!r}, a {type(key).__name__}: "
            "parameter keys are strings (named parts) or integers (a list of layers)",
            f"write {local(node._path)}['name'] or {local(node._path)}[0]")
    if isinstance(key, str):
        if not key or "/" in key:
            raise fail(
                f"{where(node._path)} was indexed with {key!r}: a key is a non-empty "
                "string without '/', since '/' separates the parts of a path",
                "nest instead: params['encoder']['w'], not params['encoder/w']")
        return key
    key = int(key)
    if key < 0:
        raise fail(f"{where(node._path)} was indexed with {key}: integer keys count "
                   "layers from 0", "write params[0], params[1], ...")
    return key


class Node(TensorFactory):
    """One path of the parameter tree while `lv.trace` runs the model (not an array)."""

    __slots__ = ("_children", "_kind", "_path", "_store")

    def __init__(self, store, path):
        self._store = store
        self._path = path
        self._children = {}
        self._kind = OPEN

    def __getitem__(self, key):
        self._store.check_open(self._path)
        key = _normalize_key(self, key)
        child = self._children.get(key)
        if child is not None:
            return child
        if self._kind == LEAF:
            raise fail(
                f"{where(self._path)} was declared as one array and is now indexed "
                f"with {key!r}: a path is either one array or a group of parameters",
                "give the array and the group different names, e.g. params['w'] and "
                f"params['parts'][{key!r}]")
        mixed = next((k for k in self._children if isinstance(k, str) != isinstance(key, str)),
                     None)
        if mixed is not None:
            raise fail(
                f"{where(self._path)} has both string and integer keys ({mixed!r} and "
                f"{key!r}): the keys of one level are all strings (named parts) or all "
                "integers (a list of layers)",
                f"nest the list under a name: {local(self._path)}['layers'][{key!r}] next to "
                f"{local(self._path)}[{mixed!r}], or name every part")
        child = self._children[key] = Node(self._store, (*self._path, key))
        self._kind = BRANCH
        return child

    def __repr__(self):
        return f"<lv tracing {where(self._path)}>"

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise fail(
            f"{where(self._path)} has no attribute {name!r}: while lv.trace runs the "
            "model it is a tracing object, not an array or a dict",
            _fix_for_array(self), ParamsAttributeError)

    def __setitem__(self, key, value):
        raise fail(f"{where(self._path)} was assigned to: parameters are declared, "
                   "not assigned", f"w = lv.validate({local(self._path)}[{key!r}], shape, "
                   "init=...)")

    def create(self, shape, context):
        """Called by a notation op that got this node without `lv.param`: explain."""
        raise fail(
            f"{where(self._path)} was passed to ein.{context.op}"
            f"({context.expression!r}) as it is: while lv.trace runs the model it is a "
            "tracing object, so the op cannot use it",
            f"wrap it: ein.{context.op}(..., lv.param({local(self._path)})) lets the "
            f"expression make it (shape {tuple(shape)}); add init=... to choose how")

    def _declare(self, shape, dtype, init, *, fans=None, source="lv.validate", explicit=True):
        return self._store.declare(self, shape, dtype, init, fans=fans, source=source,
                                   explicit=explicit)


_USES = {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "and": "&", "or": "|", "xor": "^", "lshift": "<<",
    "rshift": ">>",
}


def refuse_array_use(cls, error):
    """Give `cls` the array protocol, every method raising `error(self, use)`."""

    def refusing(use):
        def method(self, *args, **kwargs):
            raise error(self, use)

        return method

    for name, symbol in _USES.items():
        setattr(cls, f"__{name}__", refusing(f"`{symbol}`"))
        setattr(cls, f"__r{name}__", refusing(f"`{symbol}`"))
    for name, use in [("neg", "unary `-`"), ("pos", "unary `+`"), ("abs", "abs()"),
                      ("invert", "`~`"), ("lt", "`<`"), ("le", "`<=`"), ("gt", "`>`"),
                      ("ge", "`>=`"), ("array", "np.asarray"), ("float", "float()"),
                      ("int", "int()"), ("index", "as an index"), ("complex", "complex()"),
                      ("iter", "iteration"), ("len", "len()"), ("contains", "`in`")]:
        setattr(cls, f"__{name}__", refusing(use))
    cls.__bool__ = lambda self: True  # `if params:` must not fall back on __len__


refuse_array_use(Node, not_an_array)


def _refuse_flatten(node):
    raise passed_to_jax(node)


jax.tree_util.register_pytree_node(Node, _refuse_flatten, lambda aux, children: aux)
