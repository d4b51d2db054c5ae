"""The character LSTM of "The Unreasonable Effectiveness of Recurrent Neural Networks":

    x = Embed(ids);  h = LSTM(x);  logits = h W + b
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from levante import metrics, nets
from levante.core import trace


class ConfigError(ValueError):
    """A model configuration that cannot work, with the setting to change."""


@dataclasses.dataclass(frozen=True)
class LSTMConfig:
    """Hyper-parameters of the character LSTM; `vocab` is set from the data."""

    vocab: int = 65
    width: int = 64  # embedding width
    hidden: int = 256
    block: int = 64  # training window

    def __post_init__(self):
        for name in ("vocab", "width", "hidden", "block"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")


def forward(params, config, ids, state=None):
    """(logits `b t vocab`, final state) for ids `b t`, starting from `state` (zeros).

    >>> import jax, jax.numpy as jnp
    >>> config = LSTMConfig(vocab=10, width=4, hidden=8)
    >>> logits, state = forward(init(config, jax.random.key(0)), config, jnp.zeros((2, 3), int))
    >>> logits.shape
    (2, 3, 10)
    """
    x = nets.embedding(params["embed"], ids, config.vocab, config.width)  # b t c
    h, state = nets.lstm(params["lstm"], x, config.hidden, state)
    return nets.linear(params["head"], h, config.vocab), state


def init(config, key):
    """The parameters, made by `lv.trace`."""
    ids = jnp.zeros((1, config.block), jnp.int32)
    return trace(lambda params, ids: forward(params, config, ids), key, ids)


def loss(params, config, ids, targets, key=None, training=False):
    """Mean cross-entropy of the next-character predictions."""
    logits, _ = forward(params, config, ids)
    return metrics.cross_entropy(logits, targets)


def prefill(params, config, ids):
    """Run the prompt `b t`: (logits of its last position, state)."""
    logits, state = forward(params, config, ids)
    return logits[:, -1], state


def step(params, config, token, state):
    """One decoding step for `token` (`b`): (logits `b vocab`, state)."""
    logits, state = forward(params, config, token[:, None], state)
    return logits[:, 0], state


def capacity(config):
    """An LSTM's state has no length limit."""
    return None
