"""AdamW with linear warm-up then cosine decay, gradient clipping, and weight decay on
matrices only (chosen through the functional core's labels)."""

from __future__ import annotations

import optax

from levante.core import label


def schedule(config):
    """Learning rate: 0 -> lr over `warmup` steps, then cosine down to `min_lr` at `steps`."""
    warmup = min(config.warmup, max(config.steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.lr, warmup_steps=warmup,
        decay_steps=max(config.steps, warmup + 1), end_value=config.min_lr)


def decay_mask(params):
    """True for matrices (rank >= 2): biases, norm scales and vectors are not decayed."""
    return label(params, lambda path, leaf: leaf.ndim >= 2)


def optimizer(config):
    chain = []
    if config.clip > 0:
        chain.append(optax.clip_by_global_norm(config.clip))
    chain.append(optax.adamw(schedule(config), b1=0.9, b2=config.beta2,
                             weight_decay=config.weight_decay, mask=decay_mask))
    return optax.chain(*chain)
