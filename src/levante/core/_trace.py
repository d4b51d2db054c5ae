"""`lv.trace`: run a model once and return the parameters it asked for.

The model is a plain function `f(params, *args, **kwargs)`. `trace` calls it with a
tracing params object (see `_node.py`) and real or abstract inputs; every
`lv.validate` / `lv.param` on the way declares a leaf and gets its array back; the result
is the tree of those arrays (see `_store.py` for keys and values).
"""

from __future__ import annotations

import numbers

import jax
import numpy as np

from ._errors import fail
from ._store import Store


def _as_key(key):
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return jax.random.key(int(key))
    dtype = getattr(key, "dtype", None)
    if dtype is not None and (jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
                              or (dtype == np.uint32 and tuple(key.shape) == (2,))):
        return key
    raise fail(f"lv.trace needs a random key as its second argument, got {key!r}",
               "lv.trace(model, jax.random.key(0), x), or a seed: lv.trace(model, 0, x)")


def _refuse_transformed(f):
    if hasattr(f, "lower") and hasattr(f, "eval_shape"):
        raise fail(
            f"lv.trace got {getattr(f, '__name__', f)!r} compiled with jax.jit: jit cannot take "
            "the tracing params object as an argument",
            "give lv.trace the plain model and jit the tracing or the apply instead: "
            "params = jax.jit(lambda key, x: lv.trace(model, key, x))(key, x); "
            "y = jax.jit(model)(params, x)")


def trace(f, key, /, *args, **kwargs):
    """Run `f(params, *args, **kwargs)` once and return the parameters it declared.

    `f` receives a tracing params object: index it by name or number, and turn a path into
    an array with `lv.validate(params["w"], shape, init=...)` or by passing
    `lv.param(params["w"])` to a notation op. Each leaf is made once, from a key derived
    from `key` and its path alone (adding or reordering layers leaves the others as they
    were), and the arrays used while tracing are the arrays returned. `key` is a JAX
    random key or an integer seed.

    Works under `jax.jit` (e.g. to initialize sharded: `jax.jit(lambda k, x: lv.trace(f, k,
    x), out_shardings=...)`) and `jax.eval_shape` (see `lv.trace_shapes`). Transforms
    inside `f` (`lax.scan`, `vmap`, `checkpoint`, `cond`, a nested `jit`) work when they
    close over `params`; passing the tracing object as an argument into one raises
    `ParamsError`.

    >>> import jax, jax.numpy as jnp
    >>> import levante as lv
    >>> def linear(params, x, out):
    ...     w = lv.validate(params["w"], (x.shape[-1], out), init=lv.init.truncated_normal())
    ...     b = lv.validate(params["b"], (out,), init=lv.init.zeros)
    ...     return x @ w + b
    >>> x = jnp.ones((2, 3))
    >>> params = lv.trace(linear, jax.random.key(0), x, 4)
    >>> jax.tree.map(jnp.shape, params)
    {'b': (4,), 'w': (3, 4)}
    >>> linear(params, x, 4).shape
    (2, 4)
    """
    _refuse_transformed(f)
    store = Store(_as_key(key))
    try:
        f(store.root, *args, **kwargs)
    except BaseException:
        store.open = False
        raise
    return store.finish()


def _is_array(leaf):
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic, jax.ShapeDtypeStruct))


def trace_shapes(f, key, /, *args, **kwargs):
    """The parameters `lv.trace` would return, as `jax.ShapeDtypeStruct`s: nothing allocated.

    Runs the trace under `jax.eval_shape`: array arguments (real ones or
    `jax.ShapeDtypeStruct`s) stay abstract, everything else (sizes, flags, functions) is
    passed as it is. Use it to count or plan a model too big to initialize here.

    >>> import jax
    >>> import levante as lv
    >>> def embed(params, ids, vocab, width):
    ...     table = lv.validate(params["table"], (vocab, width), init=lv.init.normal(0.02))
    ...     return table[ids]
    >>> ids = jax.ShapeDtypeStruct((8, 128), "int32")
    >>> shapes = lv.trace_shapes(embed, 0, ids, 200_000, 50_000)   # 40 GB in float32
    >>> shapes["table"]
    ShapeDtypeStruct(shape=(200000, 50000), dtype=float32)
    >>> lv.count(shapes)
    10000000000
    """
    _refuse_transformed(f)
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    dynamic = [_is_array(leaf) for leaf in leaves]
    seed = key if isinstance(key, numbers.Integral) and not isinstance(key, bool) else None

    def run(key, arrays):
        arrays = iter(arrays)
        full = [next(arrays) if d else leaf for leaf, d in zip(leaves, dynamic)]
        args, kwargs = jax.tree_util.tree_unflatten(treedef, full)
        return trace(f, seed if seed is not None else key, *args, **kwargs)

    arrays = [leaf for leaf, d in zip(leaves, dynamic) if d]
    return jax.eval_shape(run, None if seed is not None else key, arrays)
