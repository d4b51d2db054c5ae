"""Sampling: a prefill, then a decoding loop (`lax.scan`) over a cache, all compiled once.

A GPT's context holds `block` positions. When a generation outgrows it, the context
restarts from the last `block // 2` tokens: one more prefill, then decoding goes on, so
every token is predicted from at least half a block of context. Each window's cache holds
only the positions that window fills (`cache_length`): every decoding step reads its whole
cache, and each writes its own slot in place. Within one window the tokens are
exactly those the uncached forward pass over the same context would pick. The windows of a
whole generation run in one compiled program (`plan` lays them out; equal windows repeat in
a `lax.fori_loop`), so a long generation costs one dispatch, not one per window.
"""

from __future__ import annotations

import functools
import math

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
        logits = jnp.where(_in_top_k(logits, top_k), logits, -jnp.inf)
    return jnp.argmax(logits + noise, axis=-1).astype(jnp.int32)


RANK_BY_COUNTING = 256  # vocabularies up to this size rank by counting, not by sorting


def _in_top_k(logits, k):
    """True where a logit is at least the k-th largest of its row (ties at the k-th all
    stay). A logit is in when fewer than k others are larger: for small vocabularies these
    `vocab²` comparisons cost less than the full sort `lax.top_k` runs on CPU.

    >>> import jax.numpy as jnp
    >>> _in_top_k(jnp.array([[0.1, 3.0, 2.0, 2.0]]), 2).tolist()
    [[False, True, True, True]]
    """
    if logits.shape[-1] <= RANK_BY_COUNTING:
        larger = jnp.sum(logits[..., None, :] > logits[..., :, None], axis=-1)
        return larger < k
    return logits >= jax.lax.top_k(logits, k)[0][..., -1:]


CACHE_ROUNDING = 64  # window caches are sized in steps of this many positions


def cache_length(capacity, needed):
    """The positions a window's cache holds: the `needed` ones (context + samples) rounded
    up to a multiple of `CACHE_ROUNDING`, so that few shapes compile, and at most
    `capacity`; None for a model without one.

    Every decoding step reads its whole cache, so GPT-2 decoding 200 tokens after a
    64-token prompt reads 320 positions per step rather than its block of 1024.

    >>> cache_length(1024, 64 + 200), cache_length(64, 33), cache_length(None, 10)
    (320, 64, None)
    """
    if capacity is None:
        return None
    return min(capacity, -(-needed // CACHE_ROUNDING) * CACHE_ROUNDING)


def _noise(key, made, count, batch, vocab):
    """The Gumbel noise of `count` steps (`count b vocab`), the samples made so far
    `made` folded into `key`: a window's draws depend on where it starts, not on how the
    windows are laid out."""
    return jax.random.gumbel(jax.random.fold_in(key, made), (count, batch, vocab))


def _window(params, config, context, key, made, count, temperature, top_k, noise=None):
    """Prefill `context` (`b n`), then sample `count` >= 1 tokens: `b count`.

    The loop draws no random numbers: the Gumbel noise of every step is made up front
    (or given, `noise`); greedy decoding (temperature 0) makes none.
    """
    model = _model(config)
    length = cache_length(model.capacity(config), context.shape[1] + count)
    if length is None:  # a state of fixed size (the LSTM)
        logits, state = model.prefill(params, config, context)
    else:
        logits, state = model.prefill(params, config, context, length)
    if noise is None and temperature != 0:
        noise = _noise(key, made, count, context.shape[0], config.vocab)

    def body(carry, step_noise):
        logits, state = carry
        token = pick(logits, step_noise, temperature, top_k)
        logits, state = model.step(params, config, token, state)
        return (logits, state), token

    # the window's last token is picked after the loop: it is never fed back (the next
    # window starts with a prefill), so the loop runs count - 1 model steps, not count
    (logits, _), tokens = jax.lax.scan(body, (logits, state),
                                       None if noise is None else noise[:-1], length=count - 1)
    last = pick(logits, None if noise is None else noise[-1], temperature, top_k)
    return jnp.concatenate([tokens, last[None]]).T


NOISE_AHEAD = 2 ** 22  # a run of windows makes its noise in one go up to this many numbers


def plan(prompt_length, steps, capacity):
    """The context windows of a generation: runs of `(start, keep, count, repeats)`.

    Each window prefills the `keep` ids from `start` of the history (prompt + samples) and
    samples `count` more; a run repeats a window `repeats` times, `count` ids further on each
    time. A model without a capacity (the LSTM) has one window over the whole prompt.

    >>> plan(1, 100, 64)
    [(0, 1, 63, 1), (32, 32, 32, 1), (64, 32, 5, 1)]
    >>> plan(1, 500, 64)
    [(0, 1, 63, 1), (32, 32, 32, 13), (448, 32, 21, 1)]
    """
    runs, length, made = [], prompt_length, 0
    while made < steps:
        if capacity is None:
            keep, count = length, steps - made
        else:
            keep = max(1, capacity // 2 if length >= capacity else length)
            # a context of one position (block 1) still samples one id per window: the
            # window's last id is never fed back, so its cache holds the context alone
            count = min(steps - made, max(1, capacity - keep))
        start = length - keep
        last = runs[-1] if runs else None
        if last and last[1:3] == (keep, count) and start == last[0] + last[2] * last[3]:
            runs[-1] = (*last[:3], last[3] + 1)
        else:
            runs.append((start, keep, count, 1))
        length, made = length + count, made + count
    return runs


@functools.partial(jax.jit, static_argnames=("config", "steps", "runs", "temperature",
                                             "top_k"))
def _sample(params, config, prompt, key, *, steps, runs, temperature, top_k):
    """`steps` ids after `prompt` (`b t`), window after window, in one compiled program
    (`b steps`): the history is made and cut inside it, so a generation is one dispatch."""
    prompt_length, batch = prompt.shape[1], prompt.shape[0]
    history = jnp.concatenate([prompt, jnp.zeros((batch, steps), jnp.int32)], axis=1)
    for start, keep, count, repeats in runs:
        made = start + keep - prompt_length + count * jnp.arange(repeats)  # per window
        noise = None
        if temperature != 0 and repeats > 1 and repeats * count * batch * config.vocab \
                <= NOISE_AHEAD:
            # the same numbers as window by window, in one batched generator call: each
            # call loops over its rounds, and for small vocabularies those kernels, not
            # the numbers, were the cost (about two decoding steps' time per window)
            noise = jax.vmap(lambda made, count=count: _noise(key, made, count, batch,
                                                              config.vocab))(made)

        def one(i, history, start=start, keep=keep, count=count, made=made, noise=noise):
            at = start + i * count
            context = jax.lax.dynamic_slice_in_dim(history, at, keep, axis=1)
            tokens = _window(params, config, context, key, made[i], count, temperature,
                             top_k, None if noise is None else noise[i])
            return jax.lax.dynamic_update_slice_in_dim(history, tokens, at + keep, axis=1)

        history = one(0, history) if repeats == 1 else jax.lax.fori_loop(0, repeats, one,
                                                                          history)
    return history[:, prompt_length:]


def _checked_prompt(prompt_ids, vocab):
    """The prompt as a NumPy int32 array, once its ids are known to be integers in
    [0, vocab): it reaches the compiled sampler as an argument, with no eager op before."""
    try:
        values = np.asarray(prompt_ids)
    except ValueError:  # NumPy's words for rows of different lengths
        raise SamplingError("the prompts of a batch (b t) have the same length t: pad them, "
                            "or generate from each on its own") from None
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise SamplingError(f"the prompt holds ids, integers in [0, {vocab}); got "
                            f"{values.dtype}")
    outside = (values < 0) | (values >= vocab)
    if outside.any():
        raise SamplingError(f"the prompt holds {values[outside][0]}, outside the ids "
                            f"[0, {vocab}) of this model's vocabulary")
    return values.astype(np.int32)


def _is_key(key):
    """One JAX random key: a typed key (`jax.random.key`) or a raw `uint32[2]` one
    (`jax.random.PRNGKey`, or its NumPy copy)."""
    if not isinstance(key, (jax.Array, np.ndarray)):
        return False
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.shape == ()
    return key.dtype == jnp.uint32 and key.shape == (2,)


def generate(params, config, prompt_ids, steps, key, temperature=1.0, top_k=None):
    """`steps` new ids after `prompt_ids` (`t` or `b t`), sampled with `key`.

    `temperature=0` picks the likeliest id; `top_k` samples among the k likeliest (all of
    them when k is at least the vocabulary size). The prompt holds integer ids in
    `[0, vocab)` (else `SamplingError`: inside the compiled loop a wrong id could not
    raise); `steps` is an int >= 0.

    >>> import jax, jax.numpy as jnp
    >>> config = gpt.GPTConfig(vocab=10, layers=1, heads=2, width=8, block=8)
    >>> params = gpt.init(config, jax.random.key(0))
    >>> generate(params, config, jnp.array([1, 2, 3]), 20, jax.random.key(1)).shape
    (20,)
    """
    prompt = _checked_prompt(prompt_ids, config.vocab)
    single = prompt.ndim == 1
    prompt = prompt[None] if single else prompt
    if prompt.ndim != 2 or 0 in prompt.shape:
        raise SamplingError("the prompt is a non-empty sequence of ids (t) or a batch (b t) "
                            "of at least one")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise SamplingError(f"steps is how many ids to sample, an int >= 0; got {steps!r}")
    if (not isinstance(temperature, (int, float, np.integer, np.floating))
            or isinstance(temperature, bool) or not math.isfinite(temperature)
            or temperature < 0):  # NaN compares False with everything: say so, not `< 0`
        raise SamplingError(f"temperature is a finite number >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, (int, np.integer))
                              or isinstance(top_k, bool)):
        raise SamplingError(f"top_k is an int >= 1 or None, got {top_k!r}")
    if top_k is not None and top_k < 1:
        raise SamplingError(f"top_k must be at least 1 (None keeps every id), got {top_k}")
    if not _is_key(key):
        raise SamplingError(f"key is one JAX random key, such as jax.random.key(0); got "
                            f"{key!r}")
    if top_k is not None and top_k >= config.vocab:
        top_k = None  # keeping the k best of fewer than k ids keeps them all
    out = np.zeros((prompt.shape[0], 0), np.int32)
    if steps > 0:
        runs = tuple(plan(prompt.shape[1], steps, _model(config).capacity(config)))
        out = np.asarray(_sample(params, config, prompt, key, steps=int(steps), runs=runs,
                                 temperature=float(temperature), top_k=top_k))
    return out[0] if single else out
