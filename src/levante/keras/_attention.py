"""`CachedMultiHeadAttention`: Keras' multi-head attention with a KV cache, for decoding.

    Attention(Q, K, V) = softmax(Q Kᵀ / sqrt(key_dim) + mask) V,   per head

The layer is `keras.layers.MultiHeadAttention` (same arguments, same weights) with
mlable's call: `call(query, value, key=None, cache=None, step=None, ...)`. The cache is one
tensor `2 b L h c` (keys, then values), mlable's layout. Where mlable is sharp, this layer
differs, on purpose:

- the call always returns `(output, cache)` (or `(output, scores, cache)`), also in
  training and when it started from `cache=None`: the cache returned is what the next call
  needs, never None;
- `step=None` appends the new keys and values to the cache (`cache=None` starts an empty
  one); `step=i` writes them into slots `i, i+1, ...` of a fixed-size cache, replacing what
  was there (mlable adds them to it);
- queries and keys carry absolute positions: the queries are the last positions of the
  keys when appending, `step, step+1, ...` when writing; the causal mask is built from
  them, so that decoding step by step without a hand-made mask gives the outputs of the
  full causal pass (mlable's mask ignores the cache);
- with `step=i`, slots after the last one written (`i + new`) never receive weight, with or
  without the causal mask;
- writing past the end of the cache, or from a negative step, is an error (a `LayerError`
  for an int step; for a step given as a tensor, under `jit`, every output turns NaN),
  never a silent wrap or clamp.

Rows whose keys are all masked give zeros, not a uniform average of masked values.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from . import _arguments as check
from ._errors import LayerError

_OWNER = "CachedMultiHeadAttention"


@keras.saving.register_keras_serializable(package="levante")
class CachedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """Multi-head attention over `b t c` inputs with an optional KV cache `2 b L h c`.

    Arguments are those of `keras.layers.MultiHeadAttention`, with two limits that the
    single stacked cache sets: `value_dim` equals `key_dim`, and attention runs along the
    sequence axis (axis 1) of rank-3 inputs. Attention is computed explicitly (scores,
    masked softmax, dropout), so `flash_attention=True` is refused.

    `call(query, value, key=None, cache=None, step=None, training=False,
    attention_mask=None, return_attention_scores=False, use_causal_mask=True)` returns
    `(output, cache)`, or `(output, scores, cache)`:

    - `output` `b t out`, `scores` `b h t s` (the attention weights), `cache` `2 b s h c`;
    - `cache=None, step=None`: no earlier keys; the cache returned holds this call's;
    - `step=None` with a cache: appends, `s = L + t`; the queries are the last `t` positions;
    - `step=i` with a cache: writes slots `i ... i+t-1` (`s = L`); the queries are there;
    - `attention_mask` (boolean or 0/1, True = attend) has shape `b t s`, over the keys
      after the update; it is combined with the causal mask.

    Errors (`LayerError`): bad arguments (`num_heads`, `key_dim`, `value_dim`, `dropout`,
    `attention_axes`, `flash_attention`), inputs that are not rank 3, of other batch sizes
    (nothing is broadcast) or widths than the layer was built for, a key and a value of
    different lengths, a cache whose shape does not fit, a negative `step`, one without a
    cache, one that is not an int or a scalar integer tensor, a write past the end of the
    cache, an `attention_mask` not exactly `b t s`. A `step` given as a tensor cannot raise
    under `jit`: when it is negative or writes past the end, every output is NaN.

    Source: Vaswani et al. 2017; Keras' `MultiHeadAttention`; mlable's cached call, with the
    corrections listed in the module's docstring.

    >>> import numpy as np
    >>> layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    >>> full, _ = layer(x, x)                       # the causal pass over 5 positions
    >>> cache, steps = None, []
    >>> for t in range(5):                          # one position at a time, appending
    ...     y, cache = layer(x[:, t:t + 1], x[:, t:t + 1], cache=cache)
    ...     steps.append(np.asarray(y))
    >>> tuple(cache.shape), bool(np.allclose(np.concatenate(steps, 1), full, atol=1e-5))
    ((2, 1, 5, 2, 4), True)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, **kwargs):
        check.integer(num_heads, "num_heads", _OWNER, minimum=1)
        check.integer(key_dim, "key_dim", _OWNER, minimum=1)
        if value_dim is not None and value_dim != key_dim:
            raise LayerError(f"{_OWNER}: value_dim={value_dim!r} must equal key_dim={key_dim}"
                             " (or be None): keys and values share one cache tensor")
        if (not isinstance(dropout, numbers.Real) or isinstance(dropout, bool)
                or not 0 <= dropout < 1):
            raise LayerError(f"{_OWNER}: dropout={dropout!r} must be a number in [0, 1)")
        axes = kwargs.get("attention_axes")
        if axes is not None and tuple(axes if isinstance(axes, (list, tuple)) else [axes]) \
                not in ((1,), (-2,)):
            raise LayerError(f"{_OWNER}: attention_axes={axes!r}: the cache holds one "
                             "sequence axis, so attention runs along axis 1; leave it None")
        if kwargs.get("flash_attention"):
            raise LayerError(f"{_OWNER}: flash_attention=True: the masks from absolute "
                             "positions need the explicit computation; leave it None")
        super().__init__(num_heads, key_dim, value_dim=value_dim, dropout=dropout, **kwargs)

    def build(self, query_shape, value_shape, key_shape=None):
        for name, shape in (("query", query_shape), ("value", value_shape),
                            ("key", key_shape)):
            if shape is not None and len(shape) != 3:
                raise LayerError(f"{_OWNER}: {name} has shape {tuple(shape)}; it must be "
                                 "batch, sequence, features (rank 3)")
        # the feature sizes the projections were built for; later calls are checked
        # against them (the einsum's own error names no argument)
        self._widths = {"query": query_shape[-1], "value": value_shape[-1],
                        "key": (value_shape if key_shape is None else key_shape)[-1]}
        super().build(query_shape, value_shape, key_shape)

    def empty_cache(self, batch_size, length, dtype="float32"):
        """A zero cache `2 b L h c` of `length` slots, for writing with `step=i`.

        >>> layer = CachedMultiHeadAttention(num_heads=2, key_dim=4)
        >>> tuple(layer.empty_cache(3, 16).shape)
        (2, 3, 16, 2, 4)
        """
        check.integer(batch_size, "batch_size", _OWNER, minimum=1)
        check.integer(length, "length", _OWNER, minimum=0)
        return ops.zeros((2, batch_size, length, self._num_heads, self._key_dim), dtype)

    # --- shapes -------------------------------------------------------------------------
    def _cache_length(self, cache, batch=None):
        if cache is None:
            return 0
        shape = tuple(cache.shape)
        batch = check.static_size(batch)
        if len(shape) != 5 or shape[0] != 2 or tuple(shape[3:]) != (self._num_heads,
                                                                     self._key_dim) \
                or (None not in (batch, shape[1]) and shape[1] != batch):
            raise LayerError(f"{_OWNER}: cache has shape {shape}; it must be (2, {batch}, "
                             f"length, {self._num_heads}, {self._key_dim}): keys then values,"
                             " as returned by a call or by empty_cache")
        return shape[2]

    def _key_length(self, value_length, cache, step):
        length = self._cache_length(cache)
        if step is None:
            return None if value_length is None or length is None else length + value_length
        return length

    def compute_output_spec(self, query, value, key=None, cache=None, step=None,
                            training=False, attention_mask=None,
                            return_attention_scores=False, use_causal_mask=True):
        self._check_inputs(query, value, value if key is None else key)
        self._cache_length(cache, query.shape[0])
        batch, steps = query.shape[0], query.shape[1]
        width = self._output_shape if self._output_shape else (query.shape[-1],)
        keys = self._key_length(value.shape[1], cache, step)
        outputs = [keras.KerasTensor((batch, steps, *width), dtype=self.compute_dtype)]
        if return_attention_scores:
            outputs.append(keras.KerasTensor((batch, self._num_heads, steps, keys),
                                             dtype=self.compute_dtype))
        outputs.append(keras.KerasTensor((2, batch, keys, self._num_heads, self._key_dim),
                                         dtype=self.compute_dtype))
        return tuple(outputs)

    # --- the call -----------------------------------------------------------------------
    def call(self, query, value, key=None, cache=None, step=None, training=False,
             attention_mask=None, return_attention_scores=False, use_causal_mask=True):
        key = value if key is None else key
        self._check_inputs(query, value, key)
        concrete_step = self._check_step(step, cache)
        self._cache_length(cache, ops.shape(query)[0])
        q = self._query_dense(query)  # b t h c
        k, v = self._key_dense(key), self._value_dense(value)  # b s h c
        steps = ops.shape(q)[1]
        if cache is None:
            keys, values = k, v
        elif step is None:  # append
            keys = ops.concatenate([ops.cast(cache[0], k.dtype), k], axis=1)
            values = ops.concatenate([ops.cast(cache[1], v.dtype), v], axis=1)
        else:  # write slots step ... step + t - 1, replacing them
            self._check_room(concrete_step, steps, cache)
            # a tensor step is clipped into the cache, so that no backend fails deep inside
            # (torch raises IndexError, JAX clamps); its outputs turn NaN below instead
            start = (0, step if concrete_step is not None else ops.clip(
                ops.cast(step, "int32"), 0, ops.maximum(ops.shape(cache)[2] - steps, 0)),
                0, 0)
            keys = ops.slice_update(ops.cast(cache[0], k.dtype), start, k)
            values = ops.slice_update(ops.cast(cache[1], v.dtype), start, v)
        length = ops.shape(keys)[1]
        first = length - steps if step is None else step  # the first query's position
        visible = self._visible(first, steps, length, step, use_causal_mask, attention_mask,
                                ops.shape(q)[0])
        output, scores = self._attend(q, keys, values, visible, training)
        if self._use_gate:
            output = output * self._gate_dense(query)
        output = self._output_dense(output)
        if step is not None and concrete_step is None:
            # a step given as a tensor cannot raise under jit: a negative step, or a write
            # past the end, turns every output NaN instead of landing on other slots
            index = ops.cast(step, "int32")
            past = ops.logical_or(index < 0, index + steps > length)
            output = ops.where(past, ops.full_like(output, float("nan")), output)
        new_cache = ops.stack([keys, values], axis=0)
        if return_attention_scores:
            return output, scores, new_cache
        return output, new_cache

    def _check_step(self, step, cache):
        """The step as an int when it is one (None for a tensor); errors for bad steps."""
        if step is None:
            return None
        if cache is None:
            raise LayerError(f"{_OWNER}: step={step!r} writes into the slots of a cache, but "
                             "cache is None: pass cache=layer.empty_cache(batch, length), "
                             "or step=None to append")
        if isinstance(step, bool) or (isinstance(step, numbers.Real) and not isinstance(
                step, numbers.Integral)):
            raise LayerError(f"{_OWNER}: step={step!r} must be an int slot index (or None)")
        if isinstance(step, numbers.Integral):
            if step < 0:
                raise LayerError(f"{_OWNER}: step={step} must be at least 0")
            return int(step)
        shape, dtype = getattr(step, "shape", None), getattr(step, "dtype", None)
        if shape is None or tuple(shape) != () or dtype is None \
                or "int" not in keras.backend.standardize_dtype(dtype):
            raise LayerError(f"{_OWNER}: step={step!r} must be an int slot index, a scalar "
                             "integer tensor, or None")
        return None

    def _check_inputs(self, query, value, key):
        """Rank 3, one batch size, keys as long as values, the widths built for."""
        shapes = {"query": tuple(query.shape), "value": tuple(value.shape),
                  "key": tuple(key.shape)}
        for name, shape in shapes.items():
            if len(shape) != 3:
                raise LayerError(f"{_OWNER}: {name} has shape {shape}; it must be batch, "
                                 "sequence, features (rank 3)")
            width = getattr(self, "_widths", {}).get(name)
            if None not in (width, shape[-1]) and shape[-1] != width:
                raise LayerError(f"{_OWNER}: {name} has {shape[-1]} features (shape {shape}), "
                                 f"but the layer was built for {width}: a layer's weights fix "
                                 "the width of its inputs")
        batches = {check.static_size(s[0]) for s in shapes.values()} - {None}
        if len(batches) > 1:
            raise LayerError(f"{_OWNER}: query {shapes['query']}, value {shapes['value']} and "
                             f"key {shapes['key']} must have one batch size (nothing is "
                             "broadcast)")
        lengths = {check.static_size(shapes[n][1]) for n in ("value", "key")} - {None}
        if len(lengths) > 1:
            raise LayerError(f"{_OWNER}: key {shapes['key']} and value {shapes['value']} "
                             "must have one sequence length: each key goes with a value")

    def _check_room(self, step, steps, cache):
        length = self._cache_length(cache)
        if step is not None and isinstance(steps, int) and length is not None \
                and step + steps > length:
            raise LayerError(f"{_OWNER}: step={step} writes {steps} positions into a cache of "
                             f"{length} slots, past its end: make the cache longer "
                             "(empty_cache) or start a new one")

    def _visible(self, first, steps, length, step, causal, attention_mask, batch):
        """The boolean mask `b 1 t s` (True = attend), or None when everything is visible."""
        query_positions = ops.arange(steps) + ops.cast(first, "int32")  # t
        key_positions = ops.arange(length)  # s
        rows, cols = query_positions[:, None], key_positions[None, :]
        visible = None
        if step is not None:  # slots after the last one written stay out
            visible = ops.broadcast_to(cols < ops.cast(step, "int32") + steps,
                                       (steps, length))
        if causal:
            below = cols <= rows
            visible = below if visible is None else ops.logical_and(visible, below)
        if self._sliding_window is not None:
            near = ops.abs(rows - cols) < self._sliding_window
            visible = near if visible is None else ops.logical_and(visible, near)
        if visible is not None:
            visible = visible[None]  # 1 t s
        if attention_mask is not None:
            mask = ops.convert_to_tensor(attention_mask)
            expected = (batch, steps, length)
            static = tuple(check.static_size(s) for s in expected)
            got = tuple(mask.shape)
            # exact: a mask of size 1 along the keys, broadcast over a cache, would hide
            # (or show) every slot at once
            if len(got) != 3 or any(g not in (None, e) for g, e in zip(got, static)
                                    if e is not None):
                raise LayerError(f"{_OWNER}: attention_mask has shape {got}; it must be "
                                 f"(batch, queries, keys) = {static}, over the keys after "
                                 "the cache update (True or 1 = attend)")
            mask = ops.cast(mask, "bool")
            visible = mask if visible is None else ops.logical_and(visible, mask)
        return None if visible is None else visible[:, None]  # b 1 t s

    def _attend(self, q, keys, values, visible, training):
        q = q * ops.cast(self._inverse_sqrt_key_dim, q.dtype)
        scores = ops.einsum("bthc,bshc->bhts", q, keys)
        scores = ops.cast(scores, "float32") if scores.dtype in ("float16", "bfloat16") \
            else scores
        if visible is not None:
            # a finite fill: a row with a visible key gives the exact softmax, and a row with
            # none is set to zero below (a -inf fill would give NaN)
            fill = ops.cast(-3.0e38 if scores.dtype == "float32" else -1.0e300, scores.dtype)
            scores = ops.where(visible, scores, fill)
        if check.static_size(scores.shape[-1]) == 0:  # no keys at all (no cache, t = 0)
            weights = ops.cast(scores, values.dtype)  # b h t 0: the output is all zeros
            return ops.einsum("bhts,bshc->bthc", weights, values), weights
        # softmax written out: ops.softmax warns about a single key, the first decoding step
        peak = ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True))
        exponentials = ops.exp(scores - peak)
        weights = exponentials / ops.sum(exponentials, axis=-1, keepdims=True)
        if visible is not None:
            weights = ops.where(ops.any(visible, axis=-1, keepdims=True), weights, 0.0)
        weights = ops.cast(weights, values.dtype)
        dropped = self._dropout_layer(weights, training=training) if self._dropout > 0 \
            else weights
        return ops.einsum("bhts,bshc->bthc", dropped, values), weights
