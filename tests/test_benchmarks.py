"""The char-GPT benchmark's matmul floor multiplies what a training step multiplies.

The floor is only a floor if its products are the step's products: the same FLOPs as the
model's own count, and the same numbers whichever library computes them.
"""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _matmul_floor as floor
from levante.train import TrainConfig

TINY = TrainConfig(layers=2, heads=2, width=8, block=4, batch=3)


def numpy_products(config):
    linear, attention, readout = floor.operands(config)
    return floor.products(linear, attention, readout, lambda a: np.swapaxes(a, -1, -2),
                          np.matmul)


def test_flops_count_every_product():
    linear, attention, (x, table, _) = floor.operands(TINY)
    counted = sum(2 * np.prod(x.shape) * w.shape[1] * 3 for x, w, _ in linear)
    counted += sum(6 * 2 * np.prod(p.shape) * q.shape[-1] for q, _, _, p, _, _ in attention)
    counted += 3 * 2 * np.prod(x.shape) * table.shape[0]  # the tied read-out
    assert floor.flops(TINY) == counted


def test_flops_match_the_model_estimate():
    """6 N T for the blocks' weights and the tied read-out (the table counted once, as the
    benchmark's model FLOPs count it) plus 12 L T² C for attention."""
    c, t = TrainConfig().width, TrainConfig().block
    config = TrainConfig()
    weights = config.layers * 12 * c * c + floor.VOCAB * c
    per_token = 6 * weights + 12 * config.layers * c * t
    assert floor.flops(config) == per_token * t * config.batch


def test_readout_products_read_the_table_as_stored():
    """x Eᵀ, dlogits E and dlogitsᵀ x with E in its `v c` layout, as the step computes them."""
    (x, table, dlogits), products = floor.operands(TINY)[2], numpy_products(TINY)
    np.testing.assert_allclose(products[0], x @ table.T, rtol=1e-6)
    np.testing.assert_allclose(products[1], dlogits @ table, rtol=1e-6)
    np.testing.assert_allclose(products[2], dlogits.T @ x, rtol=1e-6)


def test_xla_products_equal_numpy():
    linear, attention, readout = floor.operands(TINY)
    ours = floor.products(jax.tree.map(jnp.asarray, linear), jax.tree.map(jnp.asarray, attention),
                          jax.tree.map(jnp.asarray, readout), lambda a: jnp.swapaxes(a, -1, -2),
                          jnp.matmul)
    for a, b in zip(ours, numpy_products(TINY), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_torch_products_equal_numpy():
    torch = pytest.importorskip("torch", reason="the PyTorch side of the floor needs torch")
    linear, attention, readout = floor.operands(TINY)
    linear = [tuple(map(torch.from_numpy, g)) for g in linear]
    attention = [tuple(map(torch.from_numpy, g)) for g in attention]
    readout = tuple(map(torch.from_numpy, readout))
    ours = floor.products(linear, attention, readout, lambda a: a.transpose(-1, -2),
                          torch.matmul)
    for a, b in zip(ours, numpy_products(TINY), strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-5)


def test_cpu_name_is_a_sentence():
    assert floor.cpu_name().strip()
