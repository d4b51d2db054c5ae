"""Long short-term memory (Hochreiter & Schmidhuber 1997), PyTorch's gate layout:

    i, f, g, o = split(x W_x + h W_h + b, 4)
    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
    h' = σ(o) ⊙ tanh(c')

W_x (c, 4h) and W_h (h, 4h) start uniform in ±1/sqrt(h) as in PyTorch; b starts at zero.
A state is (h, c), each `b hidden`. The weights and the state take the input's precision.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from levante.core import init, validate

from ._errors import NetsError
from ._linear import cast_like


def _weights(params, x, hidden):
    """W_x, W_h, b in the input's precision."""
    bound = 1.0 / hidden ** 0.5
    w_x = validate(params["w_input"], (x.shape[-1], 4 * hidden), init=init.uniform(-bound, bound))
    w_h = validate(params["w_hidden"], (hidden, 4 * hidden), init=init.uniform(-bound, bound))
    b = validate(params["b"], (4 * hidden,), init=init.zeros)
    return cast_like(w_x, x), cast_like(w_h, x), cast_like(b, x)


def _step(w_h, state, projected):
    h, c = state
    gates = projected + h @ w_h  # b (4 hidden)
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, c


def zero_state(batch, hidden, dtype=jnp.float32):
    """(h, c) of zeros.

    >>> h, c = zero_state(2, 5)
    >>> h.shape, float(c.sum())
    ((2, 5), 0.0)
    """
    return jnp.zeros((batch, hidden), dtype), jnp.zeros((batch, hidden), dtype)


def lstm_cell(params, x, state, hidden):
    """One step: `b c`, state -> (h', (h', c')).

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x, state = jnp.ones((2, 3)), zero_state(2, 5)
    >>> params = lv.trace(lstm_cell, 0, x, state, 5)
    >>> y, (h, c) = lstm_cell(params, x, state, 5)
    >>> y.shape, c.shape
    ((2, 5), (2, 5))
    """
    w_x, w_h, b = _weights(params, x, hidden)
    projected = x @ w_x + b
    h, c = _step(w_h, tuple(s.astype(projected.dtype) for s in state), projected)
    return h, (h, c)


def lstm(params, x, hidden, state=None):
    """A whole sequence `b t c` -> (`b t hidden`, final state), one compiled `lax.scan`.

    The input projection is one matmul over all steps; only h W_h runs step by step.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 7, 3))
    >>> ys, (h, c) = lstm(lv.trace(lstm, 0, x, 5), x, 5)
    >>> ys.shape, h.shape
    ((2, 7, 5), (2, 5))
    """
    if x.ndim != 3:
        raise NetsError(f"lstm takes a sequence laid out as b t c; got shape {x.shape} "
                        "(lstm_cell takes one step, b c)")
    w_x, w_h, b = _weights(params, x, hidden)
    projected = jnp.swapaxes(x @ w_x + b, 0, 1)  # t b (4 hidden)
    if state is None:
        state = zero_state(x.shape[0], hidden, projected.dtype)
    state = tuple(s.astype(projected.dtype) for s in state)  # the scan's carry keeps one dtype

    def step(carry, p):
        carry = _step(w_h, carry, p)
        return carry, carry[0]

    state, ys = jax.lax.scan(step, state, projected)
    return jnp.swapaxes(ys, 0, 1), state
