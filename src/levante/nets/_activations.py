"""Activations by name, with the references' numerics: exact (erf) GELU by default."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._errors import NetsError


def gelu(x):
    """x Φ(x) with the exact error function (PyTorch's and the paper's default).

    Note `jax.nn.gelu` defaults to the tanh approximation; use "gelu_tanh" for that.

    >>> import jax.numpy as jnp
    >>> round(float(gelu(jnp.array(1.0))), 6)
    0.841345
    """
    return jax.nn.gelu(x, approximate=False)


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
