"""`levante bench`: the training step time and the sampling speed of a configuration."""

from __future__ import annotations

import time

import jax
import numpy as np

from levante.models import generate

from ._optimizer import optimizer
from ._placement import Placement
from ._run import finetune_settings, model_of
from ._sharding import shard_batch

VOCAB = 65  # tiny Shakespeare's character count


def measure(config, steps=50, sample_tokens=500, repeats=3):
    """{train_ms_per_step, train_tokens_per_s, sample_tokens_per_s, ...} on random tokens;
    with `init_from`, of the checkpoint's architecture and vocabulary (random weights)."""
    vocab = VOCAB
    if config.init_from is not None:
        config, tokenizer = finetune_settings(config)
        vocab = len(tokenizer)
    model, model_config = model_of(config, vocab)
    opt = optimizer(config)
    placement = Placement(config)  # --mesh, --precision and --grad-accum count here too
    model_config = placement.model_config(model_config)
    params, opt_state = placement.init(model, model_config, opt, config.seed)
    step = placement.step(model, model_config, opt)
    rng = np.random.default_rng(config.seed)
    x = rng.integers(0, vocab, (config.batch, config.block)).astype(np.int32)
    y = rng.integers(0, vocab, (config.batch, config.block)).astype(np.int32)
    if placement.sharded:
        x, y = shard_batch((x, y), placement.mesh)
    key = jax.random.key(0)
    for _ in range(3):  # compile and warm up
        params, opt_state, loss = step(params, opt_state, x, y, key)
    loss.block_until_ready()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(steps):
            params, opt_state, loss = step(params, opt_state, x, y, key)
        loss.block_until_ready()
        times.append((time.perf_counter() - began) / steps)
    per_step = min(times)
    prompt = np.zeros((1,), np.int32)
    generate(params, model_config, prompt, sample_tokens, key, 0.8, 40)  # compile
    sample_times = []
    for _ in range(repeats):
        began = time.perf_counter()
        generate(params, model_config, prompt, sample_tokens, key, 0.8, 40)
        sample_times.append(time.perf_counter() - began)
    return {
        "model": config.model,
        "layers": config.layers, "heads": config.heads, "width": config.width,
        "block": config.block, "batch": config.batch,
        "train_ms_per_step": per_step * 1e3,
        "train_tokens_per_s": config.batch * config.block / per_step,
        "sample_tokens_per_s": sample_tokens / min(sample_times),
        "sample_tokens": sample_tokens,
        "device": jax.devices()[0].platform,
    }
