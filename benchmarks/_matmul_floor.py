"""The matmul floor of one char-GPT training step: its matrix products alone, timed in XLA
and in PyTorch on this machine.

A training step multiplies, per layer, four weight matrices three times each (forward,
input gradient, weight gradient) and runs six batched attention products (two forward,
four backward); once per step the tied read-out multiplies by the embedding table three
times (logits x Eᵀ, their gradient times E, and E's gradient), in the table's own `v c`
layout. Nothing else: no normalization, softmax, GELU, loss, embedding lookup or
optimizer. A step can be no faster than this floor, so it shows how much of a step-time
target is left for everything else on the machine at hand.

Every layer gets its own operands, so the compiler cannot merge layers into one product.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

VOCAB = 65  # tiny Shakespeare's characters: the read-out's width, as in `levante bench`


def shapes(config):
    """(weight shapes `i o`, attention shapes b h t d) of one layer at `config`."""
    c = config.width
    weights = [(c, 3 * c), (c, c), (c, 4 * c), (4 * c, c)]  # qkv, proj, up, down
    return weights, (config.batch, config.heads, config.block, c // config.heads)


def flops(config, vocab=VOCAB):
    """Multiply-adds × 2 of all the products of one step."""
    weights, (b, h, t, d) = shapes(config)
    n = config.batch * config.block
    per_layer = sum(3 * 2 * n * i * o for i, o in weights) + 6 * 2 * b * h * t * t * d
    return config.layers * per_layer + 3 * 2 * n * config.width * vocab


def operands(config, seed=0, vocab=VOCAB):
    """NumPy float32 operands: per layer (x, w, dy) for each weight, then q k v p da ds;
    and the read-out's (x, E, dlogits)."""
    rng = np.random.default_rng(seed)
    weights, (b, h, t, d) = shapes(config)
    n = config.batch * config.block

    def draw(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    linear = [(draw(n, i), draw(i, o), draw(n, o))
              for _ in range(config.layers) for i, o in weights]
    attention = [(draw(b, h, t, d), draw(b, h, t, d), draw(b, h, t, d), draw(b, h, t, t),
                  draw(b, h, t, d), draw(b, h, t, t)) for _ in range(config.layers)]
    readout = (draw(n, config.width), draw(vocab, config.width), draw(n, vocab))
    return linear, attention, readout


def products(linear, attention, readout, transpose, matmul):
    """Every product of one step, written once for both libraries."""
    x, table, dlogits = readout  # (b t) c, v c, (b t) v: the table as it is stored
    out = [matmul(x, transpose(table)), matmul(dlogits, table), matmul(transpose(dlogits), x)]
    for x, w, dy in linear:
        out += [matmul(x, w), matmul(dy, transpose(w)), matmul(transpose(x), dy)]
    for q, k, v, p, da, ds in attention:
        out += [matmul(q, transpose(k)), matmul(p, v),                     # forward
                matmul(da, transpose(v)), matmul(transpose(p), da),        # backward
                matmul(ds, k), matmul(transpose(ds), q)]
    return out


def best_ms(run, calls=20, repeats=5):
    """Milliseconds per call of `run`: the best of `repeats` timings of `calls` calls."""
    run()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, (time.perf_counter() - began) / calls)
    return best * 1e3


def xla_ms(config):
    import jax
    import jax.numpy as jnp

    linear, attention, readout = jax.tree.map(jnp.asarray, operands(config))
    step = jax.jit(lambda linear, attention, readout: products(
        linear, attention, readout, lambda a: jnp.swapaxes(a, -1, -2), jnp.matmul))
    return best_ms(lambda: jax.block_until_ready(step(linear, attention, readout)))


def torch_ms(config):
    import torch

    torch.set_num_threads(2)
    linear, attention, readout = operands(config)
    linear = [tuple(map(torch.from_numpy, group)) for group in linear]
    attention = [tuple(map(torch.from_numpy, group)) for group in attention]
    readout = tuple(map(torch.from_numpy, readout))
    with torch.no_grad():
        return best_ms(lambda: products(linear, attention, readout,
                                        lambda a: a.transpose(-1, -2), torch.matmul))


def cpu_name():
    """The processor's model name, family and model (they tell Zen 4 from Zen 5)."""
    info = Path("/proc/cpuinfo")
    if not info.exists():
        return platform.processor() or "unknown"
    fields = {}
    for line in info.read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return (f"{fields.get('model name', 'unknown')} (family {fields.get('cpu family', '?')}, "
            f"model {fields.get('model', '?')})")
