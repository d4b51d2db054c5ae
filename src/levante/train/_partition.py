"""How parameters (and anything shaped like them) split over a mesh: path rules for the
`tensor` axis, then FSDP on the largest axis left.

A model declares how it splits by naming, for a parameter path, which mesh axis each of
the array's axes is split across: `{"**/feed_forward/up/w": (None, "tensor")}` splits the
columns of every feed-forward's first matrix across `tensor`. The paths are those of
`lv.tags` (`blocks/0/feed_forward/up/w`), and the rules are matched with `lv.label`'s globs,
so they also match the optimizer's copies of the parameters (`1/0/mu/blocks/0/...`): the
optimizer state splits like the parameters with no rules of its own.

`TENSOR_RULES` is Megatron-LM's split of the transformer blocks of `levante.nets`: the
first matrix of each pair splits by columns (`qkv`, `query`/`key`/`value`, `up`, `gate`,
`linear`: attention heads and feed-forward width), the second by rows (`out`, `down`), so
each block needs one all-reduce forward and one backward. The fused `qkv` columns are
`[q | k | v]`: a column split of that matrix is not aligned with the heads, and XLA moves
each head's q, k, v pieces to it after the split (the separate `query`, `key`, `value` of
`nets.attention` split exactly by heads). Embeddings, norms and output biases stay whole
across `tensor`.
"""

from __future__ import annotations

import jax
from jax.sharding import NamedSharding, PartitionSpec

from levante.core import label, tags

from ._errors import TrainError

TENSOR_RULES = (
    ("**/attention/qkv/w", (None, "tensor")),
    ("**/attention/qkv/b", ("tensor",)),
    ("**/attention/query/w", (None, "tensor")),
    ("**/attention/key/w", (None, "tensor")),
    ("**/attention/value/w", (None, "tensor")),
    ("**/attention/query/b", ("tensor",)),
    ("**/attention/key/b", ("tensor",)),
    ("**/attention/value/b", ("tensor",)),
    ("**/attention/out/w", ("tensor", None)),
    ("**/feed_forward/up/w", (None, "tensor")),
    ("**/feed_forward/up/b", ("tensor",)),
    ("**/feed_forward/gate", (None, "tensor")),
    ("**/feed_forward/linear", (None, "tensor")),
    ("**/feed_forward/down/w", ("tensor", None)),
    ("**/feed_forward/out", ("tensor", None)),
)
"""Megatron-LM's tensor-parallel split of `levante.nets`' attention and feed-forward
parameters: (path glob, mesh axis per array axis) pairs, for `param_specs`' `rules`."""


def _size(mesh, axes):
    axes = axes if isinstance(axes, tuple) else (axes,)
    size = 1
    for axis in axes:
        if axis not in mesh.shape:
            raise TrainError(f"a sharding rule names the mesh axis {axis!r}; the mesh has "
                             f"{', '.join(mesh.shape)}")
        size *= mesh.shape[axis]
    return size


def _ruled_spec(path, shape, spec, mesh):
    """The rule's spec for one leaf, checked against its shape."""
    if isinstance(spec, str) or not isinstance(spec, (tuple, list, PartitionSpec)):
        raise TrainError(f"the sharding rule for {path} is {spec!r}: write a tuple with one "
                         f"entry per array axis, e.g. (None, 'tensor')")
    spec = tuple(spec)
    named = [a for axes in spec if axes is not None
             for a in (axes if isinstance(axes, tuple) else (axes,))]
    if len(named) != len(set(named)):
        raise TrainError(f"the sharding rule {spec} for {path} names a mesh axis twice; an "
                         "axis of the mesh splits at most one array axis")
    if len(spec) != len(shape):
        raise TrainError(f"the sharding rule {spec} for {path} names {len(spec)} axes; the "
                         f"array has shape {tuple(shape)}")
    for size, axes in zip(shape, spec):
        if axes is not None and size % _size(mesh, axes):
            raise TrainError(f"{path} has shape {tuple(shape)}: its axis of size {size} cannot "
                             f"split into {_size(mesh, axes)} equal parts across {axes!r}; "
                             "change the model's sizes or the mesh")
    return spec


def _fsdp(shape, spec, parts):
    """FSDP: split the largest axis not yet split that `parts` divides (none: stay whole)."""
    free = [i for i, axes in enumerate(spec) if axes is None and shape[i] % parts == 0]
    taken = any(a == "fsdp" for axes in spec if axes is not None
                for a in (axes if isinstance(axes, tuple) else (axes,)))
    if parts == 1 or not free or taken:  # a rule that already splits over fsdp wins
        return spec
    largest = max(free, key=lambda i: (shape[i], -i))  # the first of equal sizes
    return spec[:largest] + ("fsdp",) + spec[largest + 1:]


def param_specs(tree, mesh, rules=TENSOR_RULES):
    """A tree like `tree` with a `PartitionSpec` per leaf (anything with `.shape`: arrays or
    `jax.ShapeDtypeStruct`s).

    `rules` (a mapping or pairs, first match wins; see `lv.label`) give a leaf's spec, one
    entry per array axis: a mesh axis name, a tuple of names, or None (whole). With
    `fsdp` > 1 each leaf then splits its largest remaining axis that the fsdp size divides;
    scalars and leaves with no such axis stay whole. Raises `TrainError` when a rule does not
    fit its leaf's shape or names an axis the mesh lacks.

    >>> import numpy as np
    >>> from levante.train import mesh
    >>> params = {"feed_forward": {"up": {"w": np.zeros((8, 32))}}, "norm": np.zeros(8)}
    >>> param_specs(params, mesh("data=1"))
    {'feed_forward': {'up': {'w': P(None, 'tensor')}}, 'norm': P(None,)}
    """
    rules = list(rules.items()) if hasattr(rules, "items") else list(rules or ())
    which = label(tree, [(pattern, i) for i, (pattern, _) in enumerate(rules)], default=-1)
    parts = mesh.shape.get("fsdp", 1)

    def one(leaf, path, index):
        shape = tuple(leaf.shape)
        spec = (_ruled_spec(path, shape, rules[index][1], mesh) if index >= 0
                else (None,) * len(shape))
        return PartitionSpec(*_fsdp(shape, spec, parts))

    return jax.tree.map(one, tree, tags(tree), which)


def param_shardings(tree, mesh, rules=TENSOR_RULES):
    """`param_specs` as `NamedSharding`s on `mesh`: what `jax.jit`'s `out_shardings` and
    `jax.device_put` take.

    >>> import numpy as np
    >>> from levante.train import mesh
    >>> sharding = param_shardings({"w": np.zeros((4, 4))}, mesh("data=1"))["w"]
    >>> type(sharding).__name__, sharding.spec
    ('NamedSharding', P(None, None))
    """
    return jax.tree.map(lambda spec: NamedSharding(mesh, spec),
                        param_specs(tree, mesh, rules),
                        is_leaf=lambda x: isinstance(x, PartitionSpec))
