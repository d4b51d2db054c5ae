"""A GPT (Radford et al. 2018/2019) for characters or tokens, in the shape of nanoGPT:

    x = Embed(ids) (+ learned positions)
    x = Block(x) × layers             # pre-norm, attention + feed-forward, residuals
    logits = Norm(x) Eᵀ                # read-out tied to the embedding, or its own matrix

`positions="rotary"` rotates queries and keys (RoPE) instead of adding learned position
vectors; `gated=True` uses GeGLU (or SwiGLU with activation="silu"), `norm="rms"` RMSNorm:
together the Llama-style variant.
"""

from __future__ import annotations

import dataclasses
import numbers

import jax
import jax.numpy as jnp

from levante import metrics, nets
from levante.core import init as initializers
from levante.core import trace, validate


class ConfigError(ValueError):
    """A model configuration that cannot work, with the setting to change."""


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Hyper-parameters of a GPT; `vocab` is set from the data."""

    vocab: int = 65
    layers: int = 4
    heads: int = 4
    width: int = 128
    block: int = 64  # the longest context
    dropout: float = 0.0
    positions: str = "learned"  # or "rotary"
    gated: bool = False
    norm: str = "layer"  # or "rms"
    norm_eps: float | None = None  # None: the norm's default (1e-5 layer, 1e-6 rms); GPT-2 1e-5
    activation: str = "gelu"
    tie: bool = True  # read-out shares the embedding table
    bias: bool = True
    precision: str = "float32"  # compute dtype; "bfloat16" keeps float32 parameters

    def __post_init__(self):
        if self.width % self.heads:
            raise ConfigError(f"heads ({self.heads}) must divide width ({self.width})")
        if (self.width // self.heads) % 2 and self.positions == "rotary":
            raise ConfigError("rotary positions need an even head width (width / heads)")
        if self.positions not in ("learned", "rotary"):
            raise ConfigError(f"positions is 'learned' or 'rotary', not {self.positions!r}")
        if self.activation not in nets.ACTIVATIONS:
            raise ConfigError(f"activation is one of {', '.join(sorted(nets.ACTIVATIONS))}, "
                              f"not {self.activation!r}")
        if self.norm not in ("layer", "rms"):
            raise ConfigError(f"norm is 'layer' or 'rms', not {self.norm!r}")
        for name in ("vocab", "layers", "heads", "width", "block"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.precision not in ("float32", "bfloat16"):
            raise ConfigError(f"precision is 'float32' or 'bfloat16', not {self.precision!r}")
        if self.norm_eps is not None and not self.norm_eps > 0:
            raise ConfigError(f"norm_eps is positive (or None for the norm's default), "
                              f"not {self.norm_eps}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout is a probability in [0, 1), not {self.dropout}")


def forward(params, config, ids, cache=None, key=None, training=False, logits_to_keep=None):
    """Logits `b t vocab` for ids `b t`; with `cache` (from `init_cache`), `(logits, cache)`.

    `logits_to_keep=n` gives the logits of the last n positions only (`b n vocab`, as in
    transformers): the last block's feed-forward and the read-out then run on those n rows
    alone, so a prefill, which needs the last position's logits, skips nearly a fifth of its
    matrix products in a 4-layer model. With dropout while training, the masks are the whole pass's
    (the same `key`), so the kept logits are its last rows. Where transformers reads 0 as
    "all", write None.

    Positions are checked, never clamped: without a cache at most `block` tokens; with one,
    learned positions end at `block` (a chunk or step past it raises `ConfigError` when the
    cache index is concrete, and gives NaN logits under `jit`), and every cache ends at its
    length (`nets.attention`'s rule). Ids outside `[0, vocab)`: see `nets.embedding`.

    >>> import jax, jax.numpy as jnp
    >>> config = GPTConfig(vocab=10, layers=1, heads=2, width=8, block=16)
    >>> params = init(config, jax.random.key(0))
    >>> forward(params, config, jnp.zeros((2, 5), jnp.int32)).shape
    (2, 5, 10)
    """
    length = ids.shape[1]
    if logits_to_keep is not None and (not isinstance(logits_to_keep, numbers.Integral)
                                       or isinstance(logits_to_keep, bool)
                                       or not 1 <= logits_to_keep <= length):
        raise ConfigError(f"logits_to_keep is how many of the last positions to give logits "
                          f"for, an int in [1, {length}] (the ids' t), or None for all; got "
                          f"{logits_to_keep!r}")
    if cache is not None and len(cache) != config.layers:
        raise ConfigError(f"the cache has {len(cache)} layers, the model {config.layers}: "
                          "make it with init_cache(config, batch)")
    offset = 0 if cache is None else cache[0]["index"]
    if cache is None and length > config.block:
        raise ConfigError(f"{length} tokens exceed the context of {config.block} (block)")
    x = nets.embedding(params["embed"], ids, config.vocab, config.width)  # b t c
    if config.positions == "learned":
        table = validate(params["positions"], (config.block, config.width),
                         init=initializers.normal(0.02))
        x = x + _learned_positions(table, offset, length)[None]
    # the blocks compute in the dtype of their input: mixed precision starts here
    x = x.astype(config.precision)
    keys = [None] * config.layers if key is None else list(jax.random.split(key, config.layers))
    new_cache = []
    for i in range(config.layers):
        x = nets.transformer_block(
            params["blocks"][i], x, heads=config.heads, gated=config.gated, norm=config.norm,
            activation=config.activation, cache=None if cache is None else cache[i],
            rope=config.positions == "rotary", bias=config.bias, dropout=config.dropout,
            key=keys[i], training=training, eps=config.norm_eps,
            keep_last=logits_to_keep if i == config.layers - 1 else None)
        if cache is not None:
            x, layer_cache = x
            new_cache.append(layer_cache)
    normalize = nets.layer_norm if config.norm == "layer" else nets.rms_norm
    x = normalize(params["norm"], x) if config.norm_eps is None else \
        normalize(params["norm"], x, eps=config.norm_eps)
    if config.tie:
        logits = nets.embedding_readout(params["embed"], x, config.vocab)
    else:
        logits = nets.linear(params["head"], x, config.vocab, bias=False)
    return logits if cache is None else (logits, new_cache)


def _learned_positions(table, offset, length):
    """Rows `offset .. offset + length - 1` of the position table (`t c`): never clamped to
    its last row (`dynamic_slice` would), an error past it, or NaN when `offset` is traced."""
    block = table.shape[0]
    if length > block:  # a shape: an error under jit too
        raise ConfigError(f"{length} tokens exceed the {block} learned positions (block): feed "
                          f"at most {block} at once")
    if isinstance(offset, int):
        return table[offset:offset + length]
    if not isinstance(offset, jax.core.Tracer) and int(offset) + length > block:
        raise ConfigError(f"positions {int(offset)}..{int(offset) + length - 1} are past the "
                          f"{block} learned positions (block): a GPT with learned positions "
                          f"sees at most {block} tokens; restart the context (generate does)")
    rows = jax.lax.dynamic_slice_in_dim(table, offset, length)
    return jnp.where(offset + length > block, jnp.nan, rows)


def init(config, key):
    """The parameters of a GPT, made by `lv.trace` (path-stable: see levante.core).

    >>> import jax
    >>> from levante.core import count
    >>> count(init(GPTConfig(), jax.random.key(0)))
    809856
    """
    ids = jnp.zeros((1, config.block), jnp.int32)
    return trace(lambda params, ids: forward(params, config, ids), key, ids)


def init_cache(config, batch, length=None, dtype=jnp.float32):
    """One empty KV cache per layer, each holding `length` (default: block) positions.

    With learned positions a cache holds at most `block` (there are no vectors for later
    positions); rotary positions have no such limit."""
    length = config.block if length is None else length
    if config.positions == "learned" and length > config.block:
        raise ConfigError(f"a cache of {length} positions is longer than the {config.block} "
                          "learned positions (block): use length <= block, or "
                          "positions='rotary'")
    return [nets.init_cache(batch, length, config.heads, config.width // config.heads, dtype)
            for _ in range(config.layers)]


def loss(params, config, ids, targets, key=None, training=False):
    """Mean cross-entropy of the next-token predictions."""
    logits = forward(params, config, ids, key=key, training=training)
    return metrics.cross_entropy(logits, targets)


def prefill(params, config, ids, length=None):
    """Run the prompt `b t` through a fresh cache of `length` positions (default: block):
    (logits of its last position, cache). Each decoding step reads the whole cache, so a
    cache sized to what is left to decode costs less per step than a full block."""
    cache = init_cache(config, ids.shape[0], length)
    logits, cache = forward(params, config, ids, cache=cache, logits_to_keep=1)
    return logits[:, -1], cache


def step(params, config, token, cache):
    """One decoding step for `token` (`b`): (logits `b vocab`, cache)."""
    logits, cache = forward(params, config, token[:, None], cache=cache)
    return logits[:, 0], cache


def capacity(config):
    """The most positions one cache holds: the context, `block`."""
    return config.block
