"""The parameter tree `lv.trace` returns: nested dicts that know their paths.

`Params` is a `dict` (so `params["encoder"]["w"]`, `==`, `.keys()` all work) registered as
a JAX pytree, so `jax.jit`, `jax.grad` and optax keep it. What it adds: each level knows
its path, a missing key raises `MissingParamsError` listing the keys that level holds, and
a leaf read from it is remembered for a moment so an apply-time shape error in
`lv.validate` can name the path the array came from.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping

import jax

from ._errors import MissingParamsError, fail, keys_text, quoted

_RECENT = {}  # id(leaf) -> (weak reference to the leaf, its path)
_RECENT_LIMIT = 4096


def remember(value, path):
    """Note that `value` was just read at `path` (for apply-time messages)."""
    try:
        ref = weakref.ref(value)
    except TypeError:
        return
    if len(_RECENT) >= _RECENT_LIMIT:
        _RECENT.clear()
    _RECENT[id(value)] = (ref, path)


def recall(value):
    """The path `value` was last read from a `Params`, or None."""
    entry = _RECENT.get(id(value))
    if entry is not None and entry[0]() is value:
        return entry[1]
    return None


def sorted_keys(mapping):
    keys = list(mapping)
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=lambda k: (type(k).__name__, repr(k)))


class Params(dict):
    """A level of the parameter tree: a `dict` that knows its path.

    `lv.trace` returns these. Indexing a missing key raises `MissingParamsError` (a
    `KeyError`) that names the path and lists the keys the level holds. JAX flattens it
    like a dict (sorted keys), so it passes through `jit`, `grad`, `tree_map` and optax
    unchanged; convert nested dicts of your own with `lv.as_params`.

    >>> import levante as lv
    >>> params = lv.as_params({"encoder": {"w": 1.0, "b": 0.0}})
    >>> params["encoder"].path
    ('encoder',)
    >>> params == {"encoder": {"w": 1.0, "b": 0.0}}
    True
    """

    __slots__ = ("path",)

    def __init__(self, items=(), path=()):
        super().__init__(items)
        self.path = tuple(path)

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        if not isinstance(value, Mapping):
            remember(value, (*self.path, key))
        return value

    def __missing__(self, key):
        path = (*self.path, key)
        keys = sorted_keys(self)
        holder = quoted(self.path)
        if keys:
            problem = f"no parameters at {quoted(path)}: {holder} holds {keys_text(keys)}"
        else:
            problem = (f"no parameters at {quoted(path)}: {holder} holds nothing (lv.trace saw "
                       "it used but never saw lv.validate or lv.param under it)")
        raise fail(
            problem,
            "the parameters were made for another model or other hyper-parameters (or the "
            "model took another branch while tracing); make them again with "
            "lv.trace(model, key, ...) using the arguments of this call",
            MissingParamsError) from None


def _flatten_with_keys(params):
    keys = sorted_keys(params)
    children = [(jax.tree_util.DictKey(k), dict.__getitem__(params, k)) for k in keys]
    return children, (tuple(keys), params.path)


def _flatten(params):
    keys = sorted_keys(params)
    return [dict.__getitem__(params, k) for k in keys], (tuple(keys), params.path)


def _unflatten(aux, children):
    keys, path = aux
    return Params(zip(keys, children), path)


jax.tree_util.register_pytree_with_keys(Params, _flatten_with_keys, _unflatten, _flatten)


def as_params(tree, path=()):
    """Nested mappings (a loaded checkpoint, a hand-built tree) as `Params`.

    Every mapping becomes a `Params` carrying its path; other values are kept as they
    are. The result has the same pytree structure as the tree `lv.trace` returns for the
    same keys, so the two can be combined with `jax.tree.map`.

    >>> import levante as lv
    >>> params = lv.as_params({"layers": {0: {"w": 1.0}}})
    >>> params["layers"][0].path
    ('layers', 0)
    """
    if isinstance(tree, Mapping):
        return Params(((k, as_params(v, (*path, k))) for k, v in tree.items()), path)
    return tree


def describe(value):
    """What a non-array value at a leaf position is, for messages."""
    if isinstance(value, Mapping):
        return f"a group of parameters holding {keys_text(sorted_keys(value))}"
    return f"a {type(value).__name__}"


def keypath_text(keypath):
    """`encoder/mlp/0/w` for a JAX key path (dict keys, sequence indices, attributes)."""
    parts = []
    for entry in keypath:
        for field in ("key", "idx", "name"):
            if hasattr(entry, field):
                parts.append(str(getattr(entry, field)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)
