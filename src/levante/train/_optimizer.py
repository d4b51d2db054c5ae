"""AdamW with linear warm-up then cosine decay, gradient clipping, and weight decay on
matrices only (chosen through the functional core's labels)."""

from __future__ import annotations

import optax

from levante.core import label


def schedule(config):
    """Learning rate: 0 -> lr over `warmup` steps, then cosine down to `min_lr` at `steps`.

    >>> from levante.train import TrainConfig
    >>> rate = schedule(TrainConfig(lr=1e-3, min_lr=1e-4, warmup=100, steps=2000))
    >>> [round(float(rate(s)), 6) for s in (0, 50, 100, 2000)]
    [0.0, 0.0005, 0.001, 0.0001]
    """
    warmup = min(config.warmup, max(config.steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.lr, warmup_steps=warmup,
        decay_steps=max(config.steps, warmup + 1), end_value=config.min_lr)


def decay_mask(params):
    """True for matrices (rank >= 2): biases, norm scales and vectors are not decayed.

    >>> import numpy as np
    >>> decay_mask({"w": np.ones((2, 3)), "b": np.ones(3)})
    {'b': False, 'w': True}
    """
    return label(params, lambda path, leaf: leaf.ndim >= 2)


def optimizer(config):
    """AdamW (b1 0.9, b2 `beta2`) on the `schedule`, after clipping the gradient's global
    norm to `clip`; weight decay on matrices only.

    >>> import jax.numpy as jnp
    >>> from levante.train import TrainConfig
    >>> opt = optimizer(TrainConfig())
    >>> state = opt.init({"w": jnp.ones((2, 2))})
    """
    chain = []
    if config.clip > 0:
        chain.append(optax.clip_by_global_norm(config.clip))
    chain.append(optax.adamw(schedule(config), b1=0.9, b2=config.beta2,
                             weight_decay=config.weight_decay, mask=decay_mask))
    return optax.chain(*chain)
