"""The pre-norm transformer block (GPT-2, Llama):

    x = x + Dropout(Attention(Norm(x)))
    x = x + Dropout(FeedForward(Norm(x)))
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp

from ._attention import multi_head_self_attention
from ._dropout import dropout as drop
from ._errors import NetsError
from ._feed_forward import feed_forward, feed_forward_gate
from ._norms import layer_norm, rms_norm

NORMS = {"layer": layer_norm, "rms": rms_norm}


def transformer_block(params, x, *, heads, hidden=None, gated=False, norm="layer",
                      activation="gelu", causal=True, mask=None, cache=None, rope=None,
                      bias=True, dropout=0.0, key=None, training=False, eps=None,
                      keep_last=None):
    """One pre-norm block over `b t c`; returns `b t c`, or `(out, new_cache)` with `cache=`.

    `hidden` defaults to 4 × width; `gated=True` uses `feed_forward_gate` (no biases);
    `norm` is "layer" or "rms", with epsilon `eps` (default: the norm's own, 1e-5 / 1e-6);
    `dropout` applies to both residual branches while `training` (then `key` is required).
    `keep_last=n` returns only the last n positions (`b n c`): every position is still
    attended to and cached, but the rest of the block runs on those n alone, as a prefill
    that needs the last position's output does (transformers' `logits_to_keep`, taken
    down into the last block); dropout draws the whole block's masks, so with the same
    `key` these are the whole block's last rows.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 5, 16))
    >>> f = lambda p, x: transformer_block(p, x, heads=4)
    >>> params = lv.trace(f, 0, x)
    >>> sorted(params), f(params, x).shape
    (['attention', 'feed_forward', 'norm_attention', 'norm_feed_forward'], (2, 5, 16))
    """
    if norm not in NORMS:
        raise NetsError(f"norm is one of {sorted(NORMS)}; got {norm!r}")
    if keep_last is not None and (not isinstance(keep_last, numbers.Integral)
                                  or isinstance(keep_last, bool)
                                  or not 1 <= keep_last <= x.shape[1]):
        raise NetsError(f"keep_last is how many of the last positions to return, an int in "
                        f"[1, {x.shape[1]}] (the block's t); got {keep_last!r}")
    keep_last = None if keep_last is None else int(keep_last)  # -np.uint8(2) would wrap
    length = x.shape[1]
    normalize = NORMS[norm]
    if eps is not None:
        normalize = functools.partial(normalize, eps=eps)
    keys = (None, None) if key is None else jax.random.split(key)
    hidden = 4 * x.shape[-1] if hidden is None else hidden
    h = normalize(params["norm_attention"], x)
    a = multi_head_self_attention(params["attention"], h, heads=heads, mask=mask, causal=causal,
                                  cache=cache, rope=rope, bias=bias)
    if cache is not None:
        a, cache = a
    if keep_last is not None:  # each position's feed-forward sees its own row only
        x, a = x[:, -keep_last:], a[:, -keep_last:]
    x = x + _drop_rows(keys[0], a, dropout, training, length)
    h = normalize(params["norm_feed_forward"], x)
    if gated:
        f = feed_forward_gate(params["feed_forward"], h, hidden, activation)
    else:
        f = feed_forward(params["feed_forward"], h, hidden, activation, bias)
    x = x + _drop_rows(keys[1], f, dropout, training, length)
    return x if cache is None else (x, cache)


def _drop_rows(key, y, rate, training, length):
    """Dropout of the last rows `y` (`b n c`) of a `b length c` branch with the mask the
    whole branch draws: the same key gives the same kept rows as slicing afterwards."""
    if not training or rate == 0.0 or y.shape[1] == length:
        return drop(key, y, rate, training)
    rows = jnp.pad(y, ((0, 0), (length - y.shape[1], 0), (0, 0)))  # b length c, zeros first
    return drop(key, rows, rate, training)[:, length - y.shape[1]:]
