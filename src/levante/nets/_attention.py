"""Multi-head attention (Vaswani et al. 2017) with an optional KV cache.

    Attention(Q, K, V) = softmax(Q Kᵀ / sqrt(d_head) + mask) V,   per head

Q, K, V are linear projections of the query, key and value inputs, split into `heads`
heads of `d_head = width / heads` features (`b t (h c)`); the heads' outputs are joined and
projected back. Masks are boolean, True = may attend, broadcastable to `b h q k`. A causal
mask is aligned bottom-right: with 3 queries over 5 keys, query i sees keys up to i + 2
(the queries are the last positions). A row with no visible key outputs zeros, not NaN.

Inside, heads lead (`b h t c`), so that both products batch over (b, h) with no transposes;
the cache is kept in that layout too. Causal attention with no mask and no cache over more
than 256 queries goes in chunks of 256 queries, a few (b h) rows at a time, each chunk over
the keys up to its last query: it never builds the `b h q k` square and skips its masked
half.

With `cache=` (from `init_cache`), the new keys and values are written into the cache at
its index (`lax.dynamic_update_slice`), queries and
keys take their absolute positions (for RoPE and the causal mask), slots not yet written
never receive weight, and the call returns `(out, new_cache)`. Prefilling with a chunk and
then decoding token by token gives the outputs of the full uncached pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from levante import ein

from ._errors import NetsError
from ._linear import linear
from ._rope import rope as rotate


def init_cache(batch, length, heads, head_dim, dtype=jnp.float32):
    """An empty KV cache: keys and values `(b h) length c`, and the write index 0.

    The heads are folded into the batch axis, the layout the batched products of attention
    read: a decoding loop then carries, writes and reads one array per cache with no
    reshapes in between (with separate `b h` axes, XLA on CPU copies the cache each step).

    `length` is the cache's capacity: writing past it raises `NetsError` eagerly and gives
    NaN under `jit` (see `attention`); nothing wraps around.

    >>> cache = init_cache(2, 16, 4, 8)
    >>> cache["keys"].shape, int(cache["index"])
    ((8, 16, 8), 0)
    """
    for name, size in (("batch", batch), ("length", length), ("heads", heads),
                       ("head_dim", head_dim)):
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
            raise NetsError(f"init_cache: {name} is a positive int, not {size!r}")
    zeros = jnp.zeros((batch * heads, length, head_dim), dtype)
    return {"keys": zeros, "values": zeros, "index": jnp.zeros((), jnp.int32)}


def masked_softmax(scores, mask):
    """softmax over the last axis where `mask` is True; rows with nothing visible give 0.

    >>> import jax.numpy as jnp
    >>> masked_softmax(jnp.zeros((2, 2)), jnp.array([[True, True], [False, False]])).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """
    if mask is None:
        return jax.nn.softmax(scores, axis=-1)
    scores = jnp.where(mask, scores, -jnp.inf)
    peak = jnp.max(scores, axis=-1, keepdims=True)
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)  # a fully masked row
    weights = jnp.exp(scores - jax.lax.stop_gradient(peak))
    total = jnp.sum(weights, axis=-1, keepdims=True)
    return weights / jnp.where(total == 0, 1.0, total)


def dot_product_attention(q, k, v, mask=None):
    """softmax(q kᵀ / sqrt(c)) v for `b q h c` queries and `b k h c` keys and values.

    >>> import jax.numpy as jnp
    >>> q = k = v = jnp.ones((1, 3, 2, 4))
    >>> dot_product_attention(q, k, v).shape
    (1, 3, 2, 4)
    """
    heads_first = lambda t: ein.rearrange("b t h c -> b h t c", t)
    q, k, v = heads_first(q), heads_first(k), heads_first(v)
    y = _attend(q, k, v, _combine(mask, None, (*q.shape[:3], k.shape[2])))
    return ein.rearrange("b h q c -> b q h c", y)


def _attend(q, k, v, mask):
    """softmax(q kᵀ / sqrt(c)) v over `... t c` tensors (`b h t c` or `(b h) t c`), any
    boolean mask."""
    q = q * jnp.asarray(1.0 / np.sqrt(q.shape[-1]), q.dtype)
    scores = ein.dot("... q c, ... k c -> ... q k", q, k)
    weights = masked_softmax(scores.astype(jnp.promote_types(scores.dtype, jnp.float32)),
                             mask).astype(v.dtype)
    return ein.dot("... q k, ... k c -> ... q c", weights, v)


def _positions(query_length, key_length, cache_index):
    """Absolute positions of the queries and the keys."""
    if cache_index is None:
        # bottom-right: the queries are the last `query_length` of the keys' positions
        return jnp.arange(query_length) + (key_length - query_length), jnp.arange(key_length)
    return jnp.arange(query_length) + cache_index, jnp.arange(key_length)


def _combine(mask, visible, shape):
    """The user's mask (checked against the scores' shape `b h q k`) and `visible`."""
    if mask is None:
        return visible
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise NetsError(f"attention masks are boolean (True = attend); got {mask.dtype}. "
                        "Convert an additive mask with mask == 0")
    _check_mask(mask.shape, shape)
    return mask if visible is None else jnp.logical_and(mask, visible)


def _check_mask(mask, scores):
    """A mask lines up with the scores `b h q k` from the right, each axis 1 or the same
    size. Three axes are refused: `b q k` would be read as `h q k` whenever b equals h."""
    if len(mask) == 3:
        raise NetsError(f"attention: a mask of shape {tuple(mask)} is ambiguous (b q k or "
                        "h q k?); give it 4 axes b h q k, e.g. mask[:, None] for b q k")
    fits = len(mask) <= len(scores) and all(m in (1, s) for m, s in
                                            zip(mask[::-1], scores[::-1]))
    if not fits:
        raise NetsError(f"attention: a mask of shape {tuple(mask)} does not fit the scores "
                        f"b h q k = {tuple(scores)}; give it shape (b, h, q, k), with 1 for "
                        "an axis it is the same along, e.g. (b, 1, 1, k) for key padding")


def _write(cache, keys, values):
    """Write `(b h) t c` keys and values at the cache's index: (new cache, overflowed)."""
    index, length, steps = cache["index"], cache["keys"].shape[1], keys.shape[1]
    if cache["keys"].shape[::2] != keys.shape[::2]:
        raise NetsError(f"the KV cache holds (b h) L c = {cache['keys'].shape}, but the keys "
                        f"are {keys.shape}: make it with init_cache(batch, length, heads, "
                        "head_dim) of this attention")
    if steps > length:  # a shape: an error under jit too
        raise NetsError(f"the KV cache holds {length} positions; a chunk of {steps} cannot "
                        "fit: make the cache longer or feed the chunk in parts")
    if not isinstance(index, jax.core.Tracer) and int(index) + steps > length:
        raise NetsError(f"the KV cache holds {length} positions; writing {steps} at index "
                        f"{int(index)} would pass its end: make the cache longer")
    # in place inside a decoding loop (the cache is carried as one `(b h) L c` array per
    # layer, so XLA on CPU aliases it): a step writes its own slot and touches no other,
    # where a select over the slots would read and rewrite the whole cache every step
    put = lambda old, part: jax.lax.dynamic_update_slice(old, part.astype(old.dtype),
                                                         (0, index, 0))
    new = {"keys": put(cache["keys"], keys), "values": put(cache["values"], values),
           "index": index + steps}
    return new, index + steps > length


def _heads(q, k, v, *, heads, mask, causal, cache, rope):
    """Attention over projected `b t (h c)` queries, keys and values: (`b q (h c)`, cache)."""
    split = lambda t: ein.rearrange("b t (h c) -> b h t c", t, h=heads)
    q, k, v = split(q), split(k), split(v)
    index = None if cache is None else cache["index"]
    if rope:
        # the causal mask's positions: without a cache the queries are the last keys
        settings = {"sequence_axis": 2, **({} if rope is True else dict(rope))}
        q = rotate(q, offset=k.shape[2] - q.shape[2] if index is None else index, **settings)
        k = rotate(k, offset=0 if index is None else index, **settings)
    if cache is not None:
        return _cached_heads(q, k, v, heads=heads, mask=mask, causal=causal, cache=cache)
    if mask is None and causal and q.shape[2] <= k.shape[2]:
        y = _causal_attention(q, k, v)
    else:
        query_positions, key_positions = _positions(q.shape[2], k.shape[2], None)
        visible = key_positions[None, :] <= query_positions[:, None] if causal else None  # q k
        y = _attend(q, k, v, _combine(mask, visible, (*q.shape[:3], k.shape[2])))
    return ein.rearrange("b h q c -> b q (h c)", y), None


def _cached_heads(q, k, v, *, heads, mask, causal, cache):
    """Attention of `b h q c` queries over the cache once `k`, `v` are written into it; the
    heads fold into the batch axis, as the cache holds them (`(b h) t c`)."""
    fold = lambda t: ein.rearrange("b h t c -> (b h) t c", t)
    index = cache["index"]
    cache, overflow = _write(cache, fold(k), fold(v))
    keys, values = cache["keys"], cache["values"]
    query_positions, key_positions = _positions(q.shape[2], keys.shape[1], index)
    visible = key_positions[None, :] < cache["index"]  # slots written so far
    if causal:
        visible = visible & (key_positions[None, :] <= query_positions[:, None])  # q k
    visible = _combine(mask, visible, (*q.shape[:3], keys.shape[1]))
    if visible.ndim > 2:  # a mask broadcastable to b h q k
        shape = (q.shape[0], heads, q.shape[2], keys.shape[1])
        visible = fold(jnp.broadcast_to(visible, shape))
    y = _attend(fold(q), keys, values, visible)
    y = ein.rearrange("(b h) q c -> b q (h c)", y, h=heads)
    # under jit a write past the end cannot raise: every output turns NaN instead
    return jnp.where(overflow, jnp.nan, y), cache


# Long sequences attend in chunks of this many queries (see _long_causal_attention).
_CHUNK = 256
# Up to this many chunks are written out one by one (each over only the keys it sees);
# longer sequences loop over equal chunks (`lax.map`) over all keys, so that tracing and
# compiling stay bounded whatever the length (a Python loop of 4 million chunks for a
# block of 10**9 never finished tracing).
_MOST_UNROLLED = 32
# The float32 scores of one chunk over all its (b h) rows stay within this many bytes: a
# few MB, which stay in the processor's cache between the products and the softmax.
_SCORES_BYTES = 3 * 2**20


def _causal_attention(q, k, v):
    """Causal attention of `b h q c` queries, the last q of the `b h k c` keys (no user
    mask, no cache). Two regimes, one code path each:

    - up to _CHUNK queries (the training contexts of small models): one product, one
      softmax. Splitting them was measured no faster, and a loop costs the backward pass.
    - longer sequences: `_long_causal_attention`, which never builds the `b h q k` square.
    """
    if q.shape[2] <= _CHUNK:
        return _causal_block(q, k, v, k.shape[2] - q.shape[2])
    return _long_causal_attention(q, k, v)


def _causal_block(q, k, v, first):
    """softmax(q kᵀ / sqrt(c) + causal mask) v for `... q c` queries at positions first,
    first + 1, ... over `... k c` keys at 0, 1, ...: every query sees key 0, so a plain
    softmax over a finite fill is exact and its backward pass is the cheapest."""
    q = q * jnp.asarray(1.0 / np.sqrt(q.shape[-1]), q.dtype)
    scores = ein.dot("... q c, ... k c -> ... q k", q, k)
    visible = jnp.arange(k.shape[-2])[None, :] <= jnp.arange(q.shape[-2])[:, None] + first
    scores = jnp.where(visible, scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores.astype(jnp.promote_types(scores.dtype, jnp.float32)),
                             axis=-1).astype(v.dtype)
    return ein.dot("... q k, ... k c -> ... q c", weights, v)


def _long_causal_attention(q, k, v):
    """`_causal_block` for long sequences: the (b h) rows go a few at a time (`lax.map`),
    and within them the queries in chunks of _CHUNK, each over the keys up to its last
    query only. The causal half of the square is never computed, and the scores of one
    step stay within _SCORES_BYTES, in the cache: the whole `b h q k` square in float32
    (400 MB per layer for GPT-2 at 8 x 1024) made every pass over it a pass over memory,
    and XLA on CPU ran it several times slower than these steps."""
    b, h, queries, c = q.shape
    keys = k.shape[2]
    first = keys - queries  # the first query's position: the queries are the last keys
    if queries > _MOST_UNROLLED * _CHUNK:
        return _looped_causal_attention(q, k, v, first)
    rows = _rows(b * h, _SCORES_BYTES // (_CHUNK * keys * 4))
    group = lambda t: t.reshape(b * h // rows, rows, *t.shape[2:])  # (b h) t c, grouped

    def step(part):  # rows t c
        q, k, v = part
        outs = []
        for start in range(0, queries, _CHUNK):
            stop = min(start + _CHUNK, queries)
            seen = first + stop  # the keys up to this chunk's last query
            outs.append(_causal_block(q[:, start:stop], k[:, :seen], v[:, :seen],
                                      first + start))
        return jnp.concatenate(outs, axis=1)

    y = jax.lax.map(step, (group(q), group(k), group(v)))
    return y.reshape(b, h, queries, c)


def _looped_causal_attention(q, k, v, first):
    """`_causal_block` for very long sequences: a loop (`lax.map`) over equal chunks of
    _CHUNK queries (the last one padded), each over all the keys with the causal mask: twice
    the FLOPs of the written-out chunks, but a program of one chunk whatever the length."""
    queries = q.shape[2]
    count = -(-queries // _CHUNK)
    q = jnp.pad(q, ((0, 0), (0, 0), (0, count * _CHUNK - queries), (0, 0)))
    chunks = ein.rearrange("b h (n t) c -> n b h t c", q, t=_CHUNK)
    starts = first + _CHUNK * jnp.arange(count)
    y = jax.lax.map(lambda part: _causal_block(part[1], k, v, part[0]), (starts, chunks))
    return ein.rearrange("n b h t c -> b h (n t) c", y)[:, :, :queries]


def _rows(total, most):
    """The largest divisor of `total` that is at most `most` (at least 1)."""
    return max(d for d in range(1, max(1, min(total, most)) + 1) if total % d == 0)


def _check_heads(width, heads):
    if width % heads:
        raise NetsError(f"attention: heads={heads} must divide the width {width}")


def attention(params, query, key=None, value=None, *, heads, mask=None, causal=True,
              cache=None, rope=None, bias=True):
    """Multi-head attention of `query` (`b q c`) over `key`/`value` (`b k c`, default
    `query`), with separate query, key, value and output projections. Returns `b q c`, or
    `(out, new_cache)` with `cache=`.

    `rope=True` (or a dict of `rope` settings) rotates queries and keys at their absolute
    positions. Under `jit`, writing past the end of the cache cannot raise: the output is
    then NaN, never silently wrapped around.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((2, 5, 16))
    >>> params = lv.trace(attention, 0, x, heads=4)
    >>> sorted(params), attention(params, x, heads=4).shape
    (['key', 'out', 'query', 'value'], (2, 5, 16))
    """
    key = query if key is None else key
    value = key if value is None else value
    width = query.shape[-1]
    _check_heads(width, heads)
    q = linear(params["query"], query, width, bias)
    k = linear(params["key"], key, width, bias)
    v = linear(params["value"], value, width, bias)
    y, cache = _heads(q, k, v, heads=heads, mask=mask, causal=causal, cache=cache, rope=rope)
    out = linear(params["out"], y, width, bias)
    return out if cache is None else (out, cache)


def multi_head_self_attention(params, x, *, heads, mask=None, causal=True, cache=None,
                              rope=None, bias=True):
    """Attention of `x` over itself, with the query, key and value projections fused into
    one matrix `qkv` (c, 3c): one matmul instead of three. Same options as `attention`.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> x = jnp.ones((1, 3, 8))
    >>> f = lambda p, x: multi_head_self_attention(p, x, heads=2)
    >>> params = lv.trace(f, 0, x)
    >>> sorted(params), params["qkv"]["w"].shape, f(params, x).shape
    (['out', 'qkv'], (8, 24), (1, 3, 8))
    """
    width = x.shape[-1]
    _check_heads(width, heads)
    q, k, v = jnp.split(linear(params["qkv"], x, 3 * width, bias), 3, axis=-1)
    y, cache = _heads(q, k, v, heads=heads, mask=mask, causal=causal, cache=cache, rope=rope)
    out = linear(params["out"], y, width, bias)
    return out if cache is None else (out, cache)
