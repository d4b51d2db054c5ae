"""Composition: `chain`, `skip`, and `thread*`, which give each function its first argument.

`thread_params(fs, params)` gives function `i` the parameters `params[i]`, `thread_key(fs,
key)` gives each its own random key, `thread_identity(fs, value)` gives all the same
value, and `thread(fs, value, split)` is the general form. Each returns new functions
waiting for the rest of their arguments, ready for `chain`:

    lv.chain(lv.thread_key(lv.thread_params(blocks, params), key))(x)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax


def _functions(fs, who):
    if len(fs) == 1 and not callable(fs[0]) and isinstance(fs[0], Sequence):
        fs = fs[0]
    fs = list(fs)
    for i, f in enumerate(fs):
        if not callable(f):
            raise TypeError(f"{who}: item {i} is a {type(f).__name__}, not a function")
    return fs


def _bind(f, value):
    bound = functools.partial(f, value)
    return functools.update_wrapper(bound, f)


def chain(*fs):
    """`x -> f_n(...f_2(f_1(x)))`: functions applied in order (a list or separate arguments).

    >>> import levante as lv
    >>> lv.chain([lambda x: x + 1, lambda x: x * 10])(1)
    20
    >>> lv.chain(abs, str)(-3)
    '3'
    """
    fs = _functions(fs, "lv.chain")

    def chained(x):
        for f in fs:
            x = f(x)
        return x

    chained.__name__ = chained.__qualname__ = "chain"
    return chained


def skip(f):
    """`x -> x + f(x, ...)`: a residual connection around `f`.

    >>> import levante as lv
    >>> lv.skip(lambda x: 2 * x)(3)
    9
    """

    @functools.wraps(f)
    def residual(x, *args, **kwargs):
        return x + f(x, *args, **kwargs)

    return residual


def thread(fs, value, split):
    """Give each function its own share of `value` as its first argument.

    `split(value)` returns `(mine, rest)`: the first function gets `mine`, and `rest` is
    split again for the next. Returns the functions with that argument filled in.

    >>> import levante as lv
    >>> fs = lv.thread([lambda n, x: x + n] * 3, 1, lambda n: (n, n * 10))
    >>> [f(0) for f in fs]
    [1, 10, 100]
    """
    out = []
    for f in _functions((fs,), "lv.thread"):
        mine, value = split(value)
        out.append(_bind(f, mine))
    return out


def thread_key(fs, key):
    """Give each function its own random key (`jax.random.split`) as its first argument.

    `key=None` gives every function `None`: the way to run dropout-like layers
    deterministically when not training.

    >>> import jax
    >>> import levante as lv
    >>> fs = lv.thread_key([lambda k, x: jax.random.normal(k) + x] * 2, jax.random.key(0))
    >>> a, b = (f(0.0) for f in fs)
    >>> bool(a != b)
    True
    """
    fs = _functions((fs,), "lv.thread_key")
    if key is None or not fs:
        return [_bind(f, key) for f in fs]
    return [_bind(f, k) for f, k in zip(fs, jax.random.split(key, len(fs)))]


def thread_params(fs, params):
    """Give function `i` the parameters `params[i]` as its first argument.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> def scale(params, x):
    ...     return x * lv.validate(params["s"], (), init=2.0)
    >>> model = lambda params, x: lv.chain(lv.thread_params([scale, scale], params))(x)
    >>> params = lv.trace(model, 0, 1.0)
    >>> sorted(params), model(params, 1.0)
    ([0, 1], Array(4., dtype=float32))
    """
    return [_bind(f, params[i]) for i, f in enumerate(_functions((fs,), "lv.thread_params"))]


def thread_identity(fs, value):
    """Give every function the same `value` as its first argument.

    >>> import levante as lv
    >>> [f(1) for f in lv.thread_identity([lambda a, x: a + x, lambda a, x: a * x], 5)]
    [6, 5]
    """
    return [_bind(f, value) for f in _functions((fs,), "lv.thread_identity")]

