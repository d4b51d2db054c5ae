"""Activations by name, with the references' numerics: exact (erf) GELU by default."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._errors import NetsError

_SQRT_HALF = 0.7071067811865476  # 1 / √2


def gelu(x):
    """x Φ(x) = x (1 + erf(x / √2)) / 2 with the exact error function (Hendrycks & Gimpel
    2016; PyTorch's default), in the dtype of `x`.

    Written with `erf`, as PyTorch's kernel is: `jax.nn.gelu(approximate=False)` goes
    through `erfc`, whose longer polynomials made the char-GPT's training step about 5%
    slower on CPU, for the same values to float32 rounding. Note `jax.nn.gelu` defaults to
    the tanh approximation; use "gelu_tanh" for that.

    >>> import jax.numpy as jnp
    >>> round(float(gelu(jnp.array(1.0))), 6)
    0.841345
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x * (0.5 + 0.5 * jax.lax.erf(x * jnp.asarray(_SQRT_HALF, x.dtype)))


def gelu_tanh(x):
    """The tanh approximation of GELU (GPT-2's): 0.5 x (1 + tanh(sqrt(2/π)(x + 0.044715 x³))).

    >>> import jax.numpy as jnp
    >>> round(float(gelu_tanh(jnp.array(1.0))), 6)
    0.841192
    """
    return jax.nn.gelu(x, approximate=True)


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda x: x,
}


def activation_function(activation):
    """The function for an activation given by name (see ACTIVATIONS) or as a callable.

    >>> import jax.numpy as jnp
    >>> float(activation_function("relu")(jnp.array(-2.0)))
    0.0
    """
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise NetsError(f"unknown activation {activation!r}: one of {sorted(ACTIVATIONS)} "
                        "or a function") from None
