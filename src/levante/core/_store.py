"""What one `lv.trace` call records: the declared leaves, their keys and their values.

Each leaf's key is `fold_in(root key, hash(path))`, so a leaf's initial value depends on
its path alone: adding, removing or reordering other layers leaves it unchanged.

Values are made once and kept, at the level of JAX tracing that `lv.trace` was called at
("home": eager, or inside the caller's `jit`/`eval_shape`/`vmap`). A leaf first declared
inside a transform that runs within the model (a `lax.scan` body, `vmap`, `checkpoint`, a
nested `jit`) cannot keep a value made there: it would be a tracer of that transform. So:

- with a concrete key, the value is made outside every transform
  (`jax.ensure_compile_time_eval`) and kept: used there as a constant, returned as is;
- with a traced key (`lv.trace` itself under `jit`/`eval_shape`), the value is made there
  for that use only, and made again from the same key at home for the result (the same
  random bits; equal up to compiler rounding).
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp

from . import init as initializers
from ._errors import ParamsError, fail, local, path_text, where
from ._node import BRANCH, LEAF, OPEN, Node
from ._params import Params

try:  # public since JAX 0.4.36
    from jax.extend.core import get_opaque_trace_state as _trace_state
except ImportError:  # pragma: no cover - older JAX: values made inside transforms are remade
    _trace_state = None


def trace_state():
    return _trace_state(convention="levante") if _trace_state is not None else None


def path_hash(path):
    """A stable 31-bit number for a path (the same in every process and Python version)."""
    digest = hashlib.blake2b(path_text(path).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


class Leaf:
    __slots__ = ("dtype", "explicit", "fans", "init", "shape", "source", "value")

    def __init__(self, shape, dtype, init, explicit, fans, source):
        self.shape, self.dtype, self.init, self.explicit = shape, dtype, init, explicit
        self.fans, self.source, self.value = fans, source, None


class Store:
    def __init__(self, key):
        self.key = key
        self.concrete = not isinstance(key, jax.core.Tracer)
        self.home = trace_state()
        self.leaves = {}
        self.open = True
        self.root = Node(self, ())

    def check_open(self, path):
        if not self.open:
            raise fail(
                f"{where(path)} was used after lv.trace returned: the tracing object "
                "was kept (in a closure, a global, a returned function) past its trace",
                "use the parameters lv.trace returned: model(params, x)")

    def declare(self, node, shape, dtype, init, *, fans, source, explicit):
        path = node._path
        self.check_open(path)
        dtype = jnp.dtype(dtype)
        leaf = self.leaves.get(path)
        if leaf is None:
            if node._kind == BRANCH:
                raise fail(
                    f"{where(path)} is declared as one array by {source}, but it is "
                    f"already a group of parameters holding {list(node._children)}",
                    "give the array and the group different names, e.g. params['w'] next "
                    "to params['parts']")
            if init is None:
                raise fail(
                    f"{where(path)} is declared by {source} without init=..., and "
                    "nothing declared it before: lv.trace needs to know how to make it",
                    f"lv.validate({local(path)}, {shape}, init=lv.init.truncated_normal()) "
                    "(or lv.init.zeros, a number, a callable (key, shape, dtype))")
            leaf = self.leaves[path] = Leaf(shape, dtype, init, explicit, fans, source)
            node._kind = LEAF
        else:
            self._compare(path, leaf, shape, dtype, init if explicit else None, source)
        return self._value(path, leaf)

    def _compare(self, path, leaf, shape, dtype, init, source):
        share = "a path names one weight: declaring it again shares it, so the two must agree"
        fix = ("for a separate weight give it its own name (params['w2'], params[1]); to "
               "share it, declare it the same way")
        if shape != leaf.shape:
            raise fail(f"{where(path)} is declared with shape {leaf.shape} by "
                       f"{leaf.source} and with shape {shape} by {source}; {share}", fix)
        if dtype != leaf.dtype:
            raise fail(f"{where(path)} is declared with dtype {leaf.dtype} by "
                       f"{leaf.source} and with dtype {dtype} by {source}; {share}", fix)
        if leaf.explicit and not initializers.same(leaf.init, init):
            raise fail(
                f"{where(path)} is declared with init={initializers.describe(leaf.init)}"
                f" by {leaf.source} and with init={initializers.describe(init)} by {source}; "
                f"{share}", fix + " (or leave init out where it is used again)")

    def _value(self, path, leaf):
        if leaf.value is not None:
            return leaf.value
        home = self.home
        if home is not None and trace_state() == home:
            leaf.value = self._make(path, leaf)
            return leaf.value
        if self.concrete:
            with jax.ensure_compile_time_eval():
                leaf.value = self._make(path, leaf)
            return leaf.value
        return self._make(path, leaf)  # for this use; made again at home by finish()

    def _make(self, path, leaf):
        key = jax.random.fold_in(self.key, path_hash(path))
        try:
            value = initializers.build(leaf.init, key, leaf.shape, leaf.dtype, leaf.fans)
        except ParamsError as error:
            raise fail(f"{where(path)} could not be made by init="
                       f"{initializers.describe(leaf.init)}: {str(error).splitlines()[0]}",
                       "pass an initializer from lv.init, a number, an array of shape "
                       f"{leaf.shape}, or a callable (key, shape, dtype)") from None
        got = tuple(getattr(value, "shape", ()))
        if got != leaf.shape:
            raise fail(
                f"{where(path)}: init={initializers.describe(leaf.init)} made shape "
                f"{got}, but {leaf.source} asks for {leaf.shape}",
                "an init is called as init(key, shape, dtype) and must return that shape")
        if value.dtype != leaf.dtype:
            value = value.astype(leaf.dtype)
        return value

    def finish(self):
        """The parameters as `Params`, every value made at home; closes the store."""
        try:
            for path, leaf in self.leaves.items():
                if leaf.value is None:
                    leaf.value = self._make(path, leaf)
            return self._build(self.root)
        finally:
            self.open = False

    def _build(self, node):
        if node._kind == LEAF:
            return self.leaves[node._path].value
        assert node._kind in (BRANCH, OPEN)
        return Params(((k, self._build(c)) for k, c in node._children.items()), node._path)
