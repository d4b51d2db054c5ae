"""Initializers: what `init=` takes in `lv.validate` and `lv.param`.

An initializer is called as `init(key, shape, dtype)` and returns an array of that shape,
exactly like `jax.nn.initializers` (any of which may be passed as `init=` too). The ones
made here also accept the fan-in and fan-out that a notation op solves from its expression
(`ein.dot("b [c1->c2]", x, lv.param(params["w"]))` has fan-in `c1`); called on their own
they take the fans from the shape the way JAX does: `fan_in = shape[-2] * receptive field`,
`fan_out = shape[-1] * receptive field` (a 1-d shape `(n,)` has both equal to `n`).

Besides initializers, `init=` accepts a number (every entry that value) or an array of
exactly the shape (the parameter starts as that array).

The variance-scaling family follows `jax.nn.initializers` bit for bit: `*_normal` draws a
truncated normal rescaled so its standard deviation is the target one, `*_uniform` draws
from `[-sqrt(3 var), sqrt(3 var))`.

>>> import jax
>>> import levante as lv
>>> lv.init.glorot_uniform()(jax.random.key(0), (3, 4)).shape
(3, 4)
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import jax
import jax.numpy as jnp

from ._errors import ParamsError, fail

_MISSING = object()
_TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def fans_of(shape):
    """(fan_in, fan_out) of a weight of this shape, as `jax.nn.initializers` counts them."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


@dataclasses.dataclass(frozen=True, repr=False)
class Initializer:
    """An initializer from `lv.init`: `init(key, shape, dtype=float32)` -> array.

    Two initializers with the same kind and options compare equal, so a layer that makes
    `lv.init.normal(0.02)` on every call shares its weight without a conflict.

    >>> import jax
    >>> import levante as lv
    >>> lv.init.normal(0.02) == lv.init.normal(0.02)
    True
    >>> lv.init.constant(0.5)(jax.random.key(0), (2,))
    Array([0.5, 0.5], dtype=float32)
    """

    kind: str
    options: tuple = ()

    def __call__(self, key=_MISSING, shape=_MISSING, dtype=jnp.float32, *, fans=None):
        if key is _MISSING or shape is _MISSING:
            raise TypeError(
                f"{self!r} is already an initializer, called as init(key, shape, dtype); to "
                f"pass it, write init={self!r} (no call)")
        shape = tuple(int(s) for s in shape)
        dtype = jnp.dtype(dtype)
        return _MAKERS[self.kind](key, shape, dtype, fans or fans_of(shape),
                                  **dict(self.options))

    def __repr__(self):
        if self.kind in ("zeros", "ones"):
            return f"lv.init.{self.kind}"
        args = ", ".join(f"{k}={v!r}" for k, v in self.options)
        return f"lv.init.{self.kind}({args})"


def _draw(sample, key, shape, dtype, *args):
    """`sample(key, *args, shape, dtype)`, drawn flat and reshaped where that compiles faster.

    JAX's counter-based generator gives the same bits for `shape` and for its flat size
    reshaped, while XLA:CPU compiles the flat draw several times faster for 3 axes or more.
    """
    if len(shape) >= 3 and jax.default_backend() == "cpu":
        return sample(key, *args, (math.prod(shape),), dtype).reshape(shape)
    return sample(key, *args, shape, dtype)


def _zeros(key, shape, dtype, fans):
    return jnp.zeros(shape, dtype)


def _ones(key, shape, dtype, fans):
    return jnp.ones(shape, dtype)


def _constant(key, shape, dtype, fans, value):
    return jnp.full(shape, value, dtype)


def _normal(key, shape, dtype, fans, stddev, mean):
    value = _draw(jax.random.normal, key, shape, dtype) * jnp.asarray(stddev, dtype)
    return value + jnp.asarray(mean, dtype) if mean else value


def _truncated_normal(key, shape, dtype, fans, stddev, lower, upper):
    if stddev is None:
        return _variance_scaling(key, shape, dtype, fans, 1.0, "fan_in", "truncated_normal")
    return _draw(jax.random.truncated_normal, key, shape, dtype, lower, upper) * jnp.asarray(
        stddev, dtype)


def _uniform(key, shape, dtype, fans, low, high):
    return _draw(_uniform_between(low, high), key, shape, dtype)


def _variance_scaling(key, shape, dtype, fans, scale, mode, distribution):
    fan_in, fan_out = fans
    denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = jnp.array(scale / max(denominator, 1), dtype=dtype)
    if distribution == "truncated_normal":
        stddev = jnp.sqrt(variance) / jnp.array(_TRUNCATED_STD, dtype)
        return _draw(jax.random.truncated_normal, key, shape, dtype, -2, 2) * stddev
    if distribution == "normal":
        return _draw(jax.random.normal, key, shape, dtype) * jnp.sqrt(variance)
    return _draw(_uniform_between(-1), key, shape, dtype) * jnp.sqrt(3 * variance)


def _uniform_between(low, high=1.0):
    return lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, low, high)


def _orthogonal(key, shape, dtype, fans, scale):
    if len(shape) < 2:
        raise fail(f"an orthogonal initializer needs a shape of two or more axes, not {shape}",
                   "use it for matrices; give vectors lv.init.zeros or lv.init.normal(...)")
    if jnp.dtype(dtype).itemsize < 4:  # QR has no half-precision kernels: make it in float32
        return jax.nn.initializers.orthogonal(scale)(key, shape, jnp.float32).astype(dtype)
    return jax.nn.initializers.orthogonal(scale)(key, shape, dtype)


_MAKERS = {"zeros": _zeros, "ones": _ones, "constant": _constant, "normal": _normal,
           "truncated_normal": _truncated_normal, "uniform": _uniform,
           "variance_scaling": _variance_scaling, "orthogonal": _orthogonal}

zeros = Initializer("zeros")
ones = Initializer("ones")


def constant(value):
    """Every entry `value`. `init=0.5` means the same.

    >>> import jax, levante as lv
    >>> lv.init.constant(2.0)(jax.random.key(0), (3,))
    Array([2., 2., 2.], dtype=float32)
    """
    return Initializer("constant", (("value", value),))


def normal(stddev=1.0, mean=0.0):
    """Normal with standard deviation `stddev` (and `mean`), like `jax.nn.initializers.normal`.

    >>> import jax, levante as lv
    >>> round(float(lv.init.normal(0.02)(jax.random.key(0), (1000,)).std()), 2)
    0.02
    """
    return Initializer("normal", (("stddev", stddev), ("mean", mean)))


def truncated_normal(stddev=None, *, lower=-2.0, upper=2.0):
    """A truncated normal; without `stddev`, fan-in scaled: std `1/sqrt(fan_in)`.

    With `stddev`: `stddev * N(0, 1)` truncated to `[lower, upper]`, as
    `jax.nn.initializers.truncated_normal(stddev)` (the std of the untruncated
    distribution). Without: LeCun normal, the default of `ein.dot` parameters, where the
    truncated draw is rescaled so its std is exactly `1/sqrt(fan_in)`.

    >>> import jax, levante as lv
    >>> w = lv.init.truncated_normal()(jax.random.key(0), (400, 300))
    >>> round(float(w.std()), 2), bool(abs(w).max() <= 0.1 / 0.8796 + 1e-6)
    (0.05, True)
    """
    return Initializer("truncated_normal", (("stddev", stddev), ("lower", lower),
                                            ("upper", upper)))


def uniform(low=0.0, high=1.0):
    """Uniform on `[low, high)`.

    >>> import jax, levante as lv
    >>> w = lv.init.uniform(-1.0, 1.0)(jax.random.key(0), (100,))
    >>> bool((w >= -1).all() and (w < 1).all())
    True
    """
    return Initializer("uniform", (("low", low), ("high", high)))


def variance_scaling(scale=1.0, mode="fan_in", distribution="truncated_normal"):
    """Variance `scale / n` with `n` the fan-in, fan-out or their mean (`fan_avg`).

    `distribution` is `truncated_normal`, `normal` or `uniform`; equals
    `jax.nn.initializers.variance_scaling` for the same fans.

    >>> import jax, levante as lv
    >>> lv.init.variance_scaling(2.0, "fan_in", "normal")(jax.random.key(0), (4, 8)).shape
    (4, 8)
    """
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise fail(f"unknown mode {mode!r} for variance scaling",
                   "mode='fan_in', 'fan_out' or 'fan_avg'")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise fail(f"unknown distribution {distribution!r} for variance scaling",
                   "distribution='truncated_normal', 'normal' or 'uniform'")
    return Initializer("variance_scaling", (("scale", scale), ("mode", mode),
                                            ("distribution", distribution)))


def glorot_uniform():
    """Glorot/Xavier uniform: variance `2 / (fan_in + fan_out)`; alias `xavier_uniform`.

    >>> import jax, levante as lv
    >>> lv.init.glorot_uniform()(jax.random.key(0), (3, 5)).shape
    (3, 5)
    """
    return variance_scaling(1.0, "fan_avg", "uniform")


def glorot_normal():
    """Glorot/Xavier normal (truncated): variance `2 / (fan_in + fan_out)`; alias `xavier_normal`.

    >>> import jax, levante as lv
    >>> lv.init.glorot_normal()(jax.random.key(0), (3, 5)).shape
    (3, 5)
    """
    return variance_scaling(1.0, "fan_avg", "truncated_normal")


def he_normal():
    """He/Kaiming normal (truncated, as JAX): variance `2 / fan_in`; alias `kaiming_normal`.

    >>> import jax, levante as lv
    >>> lv.init.he_normal()(jax.random.key(0), (3, 5)).shape
    (3, 5)
    """
    return variance_scaling(2.0, "fan_in", "truncated_normal")


def he_uniform():
    """He/Kaiming uniform: variance `2 / fan_in`; alias `kaiming_uniform`.

    >>> import jax, levante as lv
    >>> lv.init.he_uniform()(jax.random.key(0), (3, 5)).shape
    (3, 5)
    """
    return variance_scaling(2.0, "fan_in", "uniform")


def lecun_normal():
    """LeCun normal (truncated): variance `1 / fan_in`; the same as `truncated_normal()`.

    >>> import jax, levante as lv
    >>> lv.init.lecun_normal()(jax.random.key(0), (3, 5)).shape
    (3, 5)
    """
    return variance_scaling(1.0, "fan_in", "truncated_normal")


def lecun_uniform():
    """LeCun uniform: variance `1 / fan_in`.

    >>> import jax, levante as lv
    >>> lv.init.lecun_uniform()(jax.random.key(0), (3, 5)).shape
    (3, 5)
    """
    return variance_scaling(1.0, "fan_in", "uniform")


def orthogonal(scale=1.0):
    """A (scaled) orthogonal matrix along the last axis, as `jax.nn.initializers.orthogonal`.

    >>> import jax, jax.numpy as jnp, levante as lv
    >>> q = lv.init.orthogonal()(jax.random.key(0), (4, 4))
    >>> bool(jnp.allclose(q @ q.T, jnp.eye(4), atol=1e-5))
    True
    """
    return Initializer("orthogonal", (("scale", scale),))


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_normal = he_normal
kaiming_uniform = he_uniform


def build(init, key, shape, dtype, fans=None):
    """Make the array `init` describes (an initializer, a number, an array, a callable)."""
    if isinstance(init, Initializer):
        return init(key, shape, dtype, fans=fans)
    if isinstance(init, numbers.Number) and not isinstance(init, bool):
        return jnp.full(shape, init, dtype)
    if hasattr(init, "shape") and hasattr(init, "dtype") and not callable(init):
        return jnp.asarray(init, dtype)
    if callable(init):
        return init(key, shape, dtype)
    raise ParamsError(f"init={init!r} is not an initializer")


def same(a, b):
    """False only when two inits are certainly different (a conflict to report)."""
    if a is None or b is None or a is b:
        return True
    if isinstance(a, Initializer) or isinstance(b, Initializer):
        return a == b
    if isinstance(a, numbers.Number) or isinstance(b, numbers.Number):
        return isinstance(a, numbers.Number) and isinstance(b, numbers.Number) and a == b
    if hasattr(a, "shape") or hasattr(b, "shape"):
        return False
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if code_a is not None or code_b is not None:
        return code_a is code_b
    return type(a) is type(b)


def describe(init):
    """An init for messages."""
    if isinstance(init, Initializer):
        return repr(init)
    return getattr(init, "__qualname__", None) or repr(init)


__all__ = [
    "Initializer",
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
