"""Affine maps: `linear`, `branch_linear`, `mlp`."""

from __future__ import annotations

import jax.numpy as jnp

from levante.core import init, validate

from ._activations import activation_function


def cast_like(parameter, x):
    """`parameter` in the dtype of a floating-point input `x`: blocks compute in their
    input's precision (float32 parameters with bfloat16 inputs give bfloat16 outputs)."""
    return parameter.astype(x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else parameter


def linear(params, x, out, bias=True):
    """y = x W + b over the last axis of `x` (any rank): `... [c1->c2]`.

    W starts as a truncated normal with std 1/sqrt(c1) (its fan-in), b at zero. The
    leading axes are flattened into one before the product, so XLA runs one 2-D matmul.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 5, 3))
    >>> params = lv.trace(linear, 0, x, 8)
    >>> params["w"].shape, params["b"].shape, linear(params, x, 8).shape
    ((3, 8), (8,), (2, 5, 8))
    """
    w = cast_like(validate(params["w"], (x.shape[-1], out), init=init.truncated_normal()), x)
    y = jnp.reshape(x, (-1, x.shape[-1])) @ w  # (b...) c2
    if bias:
        y = y + cast_like(validate(params["b"], (out,), init=init.zeros), x)
    return jnp.reshape(y, (*x.shape[:-1], out))


def branch_linear(params, x, branches, out=None, bias=True):
    """n independent linear maps of the same input: `b c -> b n c'`.

    y[..., n, :] = x W_n + b_n, with W of shape (c, n, c') starting as a truncated normal
    of std 1/sqrt(c) (its fan-in), b at zero.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 3))
    >>> branch_linear(lv.trace(branch_linear, 0, x, 4), x, 4).shape
    (2, 4, 3)
    """
    width = x.shape[-1] if out is None else out
    # the shape's fans count c·n in; variance n / (c·n) = 1/c, rescaled for the truncation
    w = cast_like(validate(params["w"], (x.shape[-1], branches, width),
                           init=init.variance_scaling(float(branches))), x)
    y = jnp.reshape(jnp.reshape(x, (-1, x.shape[-1])) @ w.reshape(x.shape[-1], -1),
                    (*x.shape[:-1], branches, width))
    if bias:
        y = y + cast_like(validate(params["b"], (branches, width), init=init.zeros), x)
    return y


def mlp(params, x, widths, activation="gelu", final_activation=None, bias=True):
    """A stack of `linear` layers of the given widths, `activation` between them.

    The last layer is followed by `final_activation` (none by default). Layer i's
    parameters live under `params[i]`.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 3))
    >>> params = lv.trace(mlp, 0, x, [16, 16, 4])
    >>> sorted(params), mlp(params, x, [16, 16, 4]).shape
    ([0, 1, 2], (2, 4))
    """
    act = activation_function(activation)
    last = activation_function(final_activation) if final_activation else None
    for i, width in enumerate(widths):
        x = linear(params[i], x, width, bias=bias)
        if i < len(widths) - 1:
            x = act(x)
        elif last is not None:
            x = last(x)
    return x
