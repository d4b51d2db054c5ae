"""Position-wise feed-forward layers: plain (two linears) and gated (GLU variants)."""

from __future__ import annotations

from levante.core import init, validate

from ._activations import activation_function
from ._linear import cast_like, linear


def feed_forward(params, x, hidden, activation="gelu", bias=True):
    """y = act(x W₁ + b₁) W₂ + b₂, back to the input width (exact GELU by default).

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 8))
    >>> feed_forward(lv.trace(feed_forward, 0, x, 32), x, 32).shape
    (2, 8)
    """
    h = activation_function(activation)(linear(params["up"], x, hidden, bias))
    return linear(params["down"], h, x.shape[-1], bias)


def feed_forward_gate(params, x, hidden, activation="gelu"):
    """GLU feed-forward without biases (Shazeer 2020): y = W_o (act(x W_g) ⊙ (x W_l)).

    activation "gelu" (exact erf) gives GeGLU, "silu" gives SwiGLU (Llama).

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 8))
    >>> params = lv.trace(feed_forward_gate, 0, x, 16, "silu")
    >>> sorted(params), feed_forward_gate(params, x, 16, "silu").shape
    (['gate', 'linear', 'out'], (2, 8))
    """
    act = activation_function(activation)
    width = x.shape[-1]
    w_gate = cast_like(validate(params["gate"], (width, hidden), init=init.truncated_normal()), x)
    w_linear = cast_like(validate(params["linear"], (width, hidden), init=init.truncated_normal()),
                         x)
    w_out = cast_like(validate(params["out"], (hidden, width), init=init.truncated_normal()), x)
    flat = x.reshape(-1, width)  # (b...) c
    h = act(flat @ w_gate) * (flat @ w_linear)
    return (h @ w_out).reshape(x.shape)
