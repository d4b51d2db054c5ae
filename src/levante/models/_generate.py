"""Sampling: one compiled prefill, then a compiled decoding loop (`lax.scan`) over a cache.

A GPT's cache holds `block` positions. When a generation outgrows it, the context restarts
from the last `block // 2` tokens: one more prefill, then decoding goes on, so every token
is predicted from at least half a block of context. Within one window the tokens are
exactly those the uncached forward pass over the same context would pick.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import gpt, lstm


class SamplingError(ValueError):
    """Sampling settings or prompts that cannot work, with the fix."""


def _model(config):
    if isinstance(config, gpt.GPTConfig):
        return gpt
    if isinstance(config, lstm.LSTMConfig):
        return lstm
    raise SamplingError(f"no model for a {type(config).__name__}")


def pick(logits, noise, temperature, top_k):
    """Sample ids from `b vocab` logits with Gumbel `noise` (argmax(logits/T + g) is a draw
    from softmax(logits/T)); temperature 0 is greedy, top_k keeps the k likeliest."""
    if temperature == 0:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = logits.astype(jnp.float32) / temperature
    if top_k is not None:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth, -jnp.inf, logits)
    return jnp.argmax(logits + noise, axis=-1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("config", "count", "temperature", "top_k"))
def _window(params, config, context, key, start, *, count, temperature, top_k):
    """Prefill `context` (`b n`), then sample `count` tokens: `b count`.

    The loop draws no random numbers: the Gumbel noise of every step is made up front.
    """
    model = _model(config)
    logits, state = model.prefill(params, config, context)
    noise = jax.random.gumbel(jax.random.fold_in(key, start),
                              (count, context.shape[0], config.vocab))

    def body(carry, step_noise):
        logits, state = carry
        token = pick(logits, step_noise, temperature, top_k)
        logits, state = model.step(params, config, token, state)
        return (logits, state), token

    _, tokens = jax.lax.scan(body, (logits, state), noise)
    return tokens.T


def generate(params, config, prompt_ids, steps, key, temperature=1.0, top_k=None):
    """`steps` new ids after `prompt_ids` (`t` or `b t`), sampled with `key`.

    `temperature=0` picks the likeliest id; `top_k` samples among the k likeliest (all of
    them when k is at least the vocabulary size).

    >>> import jax, jax.numpy as jnp
    >>> config = gpt.GPTConfig(vocab=10, layers=1, heads=2, width=8, block=8)
    >>> params = gpt.init(config, jax.random.key(0))
    >>> generate(params, config, jnp.array([1, 2, 3]), 20, jax.random.key(1)).shape
    (20,)
    """
    prompt = jnp.asarray(prompt_ids, jnp.int32)
    single = prompt.ndim == 1
    prompt = prompt[None] if single else prompt
    if prompt.ndim != 2 or prompt.shape[1] == 0:
        raise SamplingError("the prompt is a non-empty sequence of ids (t) or a batch (b t)")
    if temperature < 0:
        raise SamplingError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise SamplingError(f"top_k must be at least 1 (None keeps every id), got {top_k}")
    if top_k is not None and top_k >= config.vocab:
        top_k = None  # keeping the k best of fewer than k ids keeps them all
    capacity = _model(config).capacity(config)
    history = prompt
    made = 0
    while made < steps:
        if capacity is None:
            context, count = history, steps - made
        else:
            keep = capacity // 2 if history.shape[1] >= capacity else history.shape[1]
            context = history[:, -max(1, keep):]
            count = min(steps - made, capacity - context.shape[1])
        tokens = _window(params, config, context, key, made, count=count,
                         temperature=float(temperature), top_k=top_k)
        history = jnp.concatenate([history, tokens], axis=1)
        made += count
    out = np.asarray(history[:, prompt.shape[1]:])
    return out[0] if single else out
