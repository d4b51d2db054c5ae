"""Convolutions over `b s... c` inputs (channels last): `conv_1d`, `conv_2d`.

y[b, s, o] = Σ_{k, i} x[b, s·stride + k·dilation - pad, i] W[k, i, o] + bias[o], with the
input channels split into `groups` independent groups. Padding "SAME" keeps the length
(at stride 1), "VALID" adds none, "CAUSAL" (1-D only) pads on the left so that output s
sees inputs up to s. W starts as a truncated normal with std 1/sqrt(fan_in),
fan_in = kernel size × input channels per group.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from levante.core import init, validate

from ._errors import NetsError

_DIMENSIONS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def _tuple(value, rank, name):
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank or not all(isinstance(v, int) and v >= 1 for v in values):
        raise NetsError(f"{name} is a positive int or {rank} of them; got {value!r}")
    return values


def _padding(padding, kernel, dilation):
    if padding in ("SAME", "VALID"):
        return padding
    if padding == "CAUSAL":
        if len(kernel) != 1:
            raise NetsError("CAUSAL padding is for conv_1d; use SAME or VALID in 2-D")
        return [((kernel[0] - 1) * dilation[0], 0)]
    raise NetsError(f"padding is 'SAME', 'VALID' or 'CAUSAL'; got {padding!r}")


def _conv(params, x, out, kernel, stride, padding, dilation, groups, bias, rank):
    if x.ndim != rank + 2:
        raise NetsError(f"conv_{rank}d takes inputs laid out as b{' s' * rank} c (rank "
                        f"{rank + 2}); got shape {x.shape}")
    kernel = _tuple(kernel, rank, "kernel")
    stride, dilation = _tuple(stride, rank, "stride"), _tuple(dilation, rank, "dilation")
    padding = _padding(padding, kernel, dilation)  # checked before any parameter is made
    channels = x.shape[-1]
    if channels % groups or out % groups:
        raise NetsError(f"groups={groups} must divide the input channels ({channels}) and the "
                        f"output channels ({out})")
    # fan-in from the shape: kernel size × channels per group, std exactly 1/sqrt(fan_in)
    w = validate(params["w"], (*kernel, channels // groups, out), init=init.truncated_normal())
    y = jax.lax.conv_general_dilated(
        x, w.astype(x.dtype), window_strides=stride,
        padding=padding, rhs_dilation=dilation,
        dimension_numbers=_DIMENSIONS[rank], feature_group_count=groups)
    if bias:
        y = y + validate(params["b"], (out,), init=init.zeros).astype(x.dtype)
    return y


def conv_1d(params, x, out, kernel, stride=1, padding="SAME", dilation=1, groups=1, bias=True):
    """1-D convolution of `b t c` -> `b t' out`.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 10, 3))
    >>> params = lv.trace(conv_1d, 0, x, 8, 3, padding="CAUSAL")
    >>> conv_1d(params, x, 8, 3, padding="CAUSAL").shape
    (2, 10, 8)
    """
    return _conv(params, x, out, kernel, stride, padding, dilation, groups, bias, 1)


def conv_2d(params, x, out, kernel, stride=1, padding="SAME", dilation=1, groups=1, bias=True):
    """2-D convolution of `b h w c` -> `b h' w' out`.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 8, 8, 3))
    >>> conv_2d(lv.trace(conv_2d, 0, x, 4, 3, stride=2), x, 4, 3, stride=2).shape
    (2, 4, 4, 4)
    """
    return _conv(params, x, out, kernel, stride, padding, dilation, groups, bias, 2)


def _pool(x, window, stride, padding, reducer, start):
    spatial = x.ndim - 2
    if spatial < 1:
        raise NetsError(f"pooling takes inputs laid out as b s... c; got shape {x.shape}")
    window = _tuple(window, spatial, "window")
    stride = window if stride is None else _tuple(stride, spatial, "stride")
    if padding not in ("SAME", "VALID"):
        raise NetsError(f"padding is 'SAME' or 'VALID'; got {padding!r}")
    # the batch and channel axes get window 1: pooling never mixes channels
    return jax.lax.reduce_window(x, start, reducer, (1, *window, 1), (1, *stride, 1), padding)


def max_pool(x, window, stride=None, padding="VALID"):
    """Maximum over windows of the spatial axes of `b s... c` (stride = window by default).

    >>> import jax.numpy as jnp
    >>> max_pool(jnp.arange(8.0).reshape(1, 8, 1), 2)[0, :, 0].tolist()
    [1.0, 3.0, 5.0, 7.0]
    """
    return _pool(x, window, stride, padding, jax.lax.max, -jnp.inf)


def avg_pool(x, window, stride=None, padding="VALID"):
    """Mean over windows of the spatial axes of `b s... c`; with SAME padding the pads are
    not counted.

    >>> import jax.numpy as jnp
    >>> avg_pool(jnp.arange(8.0).reshape(1, 8, 1), 2)[0, :, 0].tolist()
    [0.5, 2.5, 4.5, 6.5]
    """
    total = _pool(x, window, stride, padding, jax.lax.add, 0.0)
    count = _pool(jnp.ones_like(x), window, stride, padding, jax.lax.add, 0.0)
    return total / count
