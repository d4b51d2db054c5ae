"""levante.metrics: group accuracy on the tokun byte/character example, several levels,
depth, weights and ties; accuracy, cross-entropy against PyTorch, perplexity, and the
running mean inside a jitted loop."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from levante import metrics
from levante.metrics import MetricsError, group_accuracy


def utf32(text):
    """The UTF-32-BE bytes of `text` as ids, 4 per character."""
    return np.frombuffer(text.encode("utf-32-be"), np.uint8).astype(np.int32)


def one_hot(ids, depth=256):
    return np.eye(depth, dtype=np.float32)[ids]


def score(*args, **kwargs):
    return float(group_accuracy(*args, **kwargs))


# ---------------------------------------------------------------- group accuracy


def test_tokun_byte_and_character_accuracy():
    true, pred = utf32("a")[None], one_hot(utf32("b"))[None]
    assert (utf32("a") == utf32("b")).tolist() == [True, True, True, False]
    assert score(true, pred, group=1) == 0.75  # 3 of 4 bytes
    assert score(true, pred, group=4) == 0.0  # no character
    # y_true as one-hot rows gives the same
    assert score(one_hot(utf32("a"))[None], pred, group=1) == 0.75
    assert score(one_hot(utf32("a"))[None], pred, group=4) == 0.0
    assert score(true, one_hot(utf32("a"))[None], group=4) == 1.0


def test_tokun_strings():
    true, pred = utf32("abcd")[None], one_hot(utf32("abxd"))[None]
    assert score(true, pred, group=1) == 15 / 16
    assert score(true, pred, group=4) == 3 / 4
    assert score(true, pred, group=16) == 0.0
    # two levels: bytes -> characters -> words of two characters
    assert score(true, pred, group=[4, 2]) == 1 / 2
    assert score(true, pred, group=[4, 2], axis=[-1, -1]) == 1 / 2
    assert score(true, pred, group=(4, 2), axis=-1) == 1 / 2
    assert score(true, one_hot(utf32("abcd"))[None], group=[4, 2]) == 1.0


def test_levels_on_different_axes():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 256, (2, 3, 4)).astype(np.int32)  # b chars bytes
    guess = true.copy()
    guess[0, 1, 2] = (guess[0, 1, 2] + 1) % 256  # one wrong byte
    pred = one_hot(guess)
    assert score(true, pred, group=1) == pytest.approx(23 / 24)
    assert score(true, pred, group=4) == pytest.approx(5 / 6)  # characters
    # then rows of 3 characters: a grouped axis stays (with size length / group)
    assert score(true, pred, group=[4, 3], axis=[2, 1]) == 1 / 2
    assert score(true, pred, group=[4, 3], axis=[-1, -2]) == 1 / 2
    with pytest.raises(MetricsError, match="group=3 does not divide axis 2 of size 1"):
        group_accuracy(true, pred, group=[4, 3])
    # grouping the character axis keeps the byte axis: (2, 1, 4), one byte column wrong
    assert score(true, pred, group=3, axis=1) == 7 / 8
    assert score(true, pred, group=[3, 4], axis=[1, 2]) == 1 / 2


def test_depth_splits_a_flat_one_hot_axis():
    true, guess = utf32("abcd"), utf32("abxd")
    flat_pred = one_hot(guess).reshape(1, -1)  # 1 (16 * 256)
    flat_true = one_hot(true).reshape(1, -1)
    assert flat_pred.shape == (1, 16 * 256)
    for y_true in (true[None], flat_true):
        assert score(y_true, flat_pred, group=1, depth=256) == 15 / 16
        assert score(y_true, flat_pred, group=4, depth=256) == 3 / 4
    with pytest.raises(MetricsError, match="depth=3 does not divide"):
        group_accuracy(true[None], flat_pred, group=4, depth=3)


def test_weights_weigh_positions():
    true, pred = utf32("abcd")[None], one_hot(utf32("abxd"))[None]
    weights = np.ones((1, 16), np.float32)
    weights[0, 11] = 0.0  # the wrong byte (character 2, byte 3) does not count
    assert score(true, pred, group=1, weights=weights) == 1.0
    # a group weighs the mean of its positions: characters 0, 1, 3 weigh 1, character 2 0.75
    assert score(true, pred, group=4, weights=weights) == pytest.approx(3 / 3.75)
    # the same as weighing each position by its group's result (keras' MeanMetricWrapper)
    correct = np.repeat([1.0, 1.0, 0.0, 1.0], 4)
    assert score(true, pred, group=4, weights=weights) == pytest.approx(
        (correct * weights[0]).sum() / weights.sum())
    character_weights = np.repeat([[1.0, 1.0, 0.0, 1.0]], 4, axis=-1).astype(np.float32)
    assert score(true, pred, group=4, weights=character_weights) == 1.0
    with pytest.raises(MetricsError, match="weights"):
        group_accuracy(true, pred, group=4, weights=np.ones((1, 4)))


def test_first_maximum_wins_on_ties():
    pred = np.array([[[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]])
    assert score(np.array([[0, 1]]), pred, group=1) == 1.0
    assert score(np.array([[1, 2]]), pred, group=1) == 0.0
    assert float(metrics.accuracy(pred[0], np.array([0, 1]))) == 1.0


def test_group_accuracy_errors():
    true, pred = utf32("abc")[None], one_hot(utf32("abc"))[None]  # 12 bytes
    with pytest.raises(MetricsError, match="group=8 does not divide axis 1 of size 12"):
        group_accuracy(true, pred, group=8)
    with pytest.raises(MetricsError, match="group=5 does not divide"):
        group_accuracy(true, pred, group=[4, 5])  # 3 characters in groups of 5
    with pytest.raises(MetricsError, match="outside the rank"):
        group_accuracy(true, pred, group=4, axis=2)
    with pytest.raises(MetricsError, match="2 group sizes but 3 axes"):
        group_accuracy(true, pred, group=[4, 3], axis=[-1, -1, -1])
    with pytest.raises(MetricsError, match="do not match"):
        group_accuracy(utf32("abcd")[None], pred, group=4)
    for size in (0, 2.0, True):
        with pytest.raises(MetricsError, match="positive int"):
            group_accuracy(true, pred, group=size)
    assert score(true, pred, group=np.int64(4)) == 1.0  # NumPy integers are sizes too


def test_group_accuracy_under_jit():
    true, pred = utf32("abcd")[None], one_hot(utf32("abxd"))[None]
    weights = np.linspace(0.5, 1.5, 16, dtype=np.float32)[None]
    jitted = jax.jit(functools.partial(group_accuracy, group=[4, 2]))
    for w in (None, weights):
        assert float(jitted(true, pred, weights=w)) == pytest.approx(
            score(true, pred, group=[4, 2], weights=w))


# ---------------------------------------------------------------- accuracy, cross-entropy


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((3, 5, 7)).astype(np.float32) * 2
    labels = rng.integers(0, 7, (3, 5)).astype(np.int32)
    mask = rng.random((3, 5)) < 0.7
    mask[0, 0] = True
    return logits, labels, mask


def test_accuracy():
    logits, labels, mask = _batch()
    hits = logits.argmax(-1) == labels
    assert float(metrics.accuracy(logits, labels)) == pytest.approx(hits.mean())
    assert float(metrics.accuracy(logits, labels, mask)) == pytest.approx(hits[mask].mean())
    assert float(metrics.accuracy(logits, logits.argmax(-1))) == 1.0


def test_cross_entropy_equals_torch():
    logits, labels, mask = _batch(1)
    t_logits = torch.from_numpy(logits.reshape(-1, 7))
    expected = F.cross_entropy(t_logits, torch.from_numpy(labels.reshape(-1)).long())
    assert float(metrics.cross_entropy(logits, labels)) == pytest.approx(float(expected),
                                                                         rel=1e-5)
    ignored = np.where(mask, labels, -100).reshape(-1)
    expected = F.cross_entropy(t_logits, torch.from_numpy(ignored).long(), ignore_index=-100)
    assert float(metrics.cross_entropy(logits, labels, mask)) == pytest.approx(
        float(expected), rel=1e-5)
    # bfloat16 logits: the softmax runs in float32
    low = jnp.asarray(logits, jnp.bfloat16)
    assert float(metrics.cross_entropy(low, labels)) == pytest.approx(float(
        metrics.cross_entropy(np.asarray(low, np.float32), labels)), rel=1e-6)
    with pytest.raises(MetricsError, match="labels"):
        metrics.cross_entropy(logits, labels[:, :4])


def test_perplexity():
    assert float(metrics.perplexity(np.zeros((2, 3, 11)), np.zeros((2, 3), np.int32))) == \
        pytest.approx(11.0, rel=1e-6)
    logits, labels, mask = _batch(2)
    assert float(metrics.perplexity(logits, labels, mask)) == pytest.approx(
        math.exp(float(metrics.cross_entropy(logits, labels, mask))), rel=1e-6)


def test_running_mean_inside_jitted_loops():
    logits, labels, mask = _batch(3)  # three batches of five positions
    expected = float(metrics.cross_entropy(logits, labels, mask))
    counts = mask.sum(axis=1).astype(np.float32)

    @jax.jit
    def with_fori_loop(logits, labels, mask):
        def body(i, state):
            loss = metrics.cross_entropy(logits[i], labels[i], mask[i])
            return metrics.mean_update(state, loss, weight=jnp.sum(mask[i]).astype(jnp.float32))

        return metrics.mean_result(jax.lax.fori_loop(0, logits.shape[0], body,
                                                     metrics.mean_init()))

    @jax.jit
    def with_scan(logits, labels, mask):
        def body(state, batch):
            logits, labels, mask = batch
            accuracy = metrics.accuracy(logits, labels, mask)
            return metrics.mean_update(state, accuracy, jnp.sum(mask).astype(jnp.float32)), None

        state, _ = jax.lax.scan(body, metrics.mean_init(), (logits, labels, mask))
        return metrics.mean_result(state)

    assert float(with_fori_loop(logits, labels, mask)) == pytest.approx(expected, rel=1e-5)
    per_batch = [float(metrics.accuracy(logits[i], labels[i], mask[i])) for i in range(3)]
    assert float(with_scan(logits, labels, mask)) == pytest.approx(
        np.dot(per_batch, counts) / counts.sum(), rel=1e-5)
    # unweighted: the plain mean of the values
    state = metrics.mean_init()
    for value in (1.0, 2.0, 6.0):
        state = metrics.mean_update(state, value)
    assert float(metrics.mean_result(state)) == 3.0
    assert float(metrics.mean_result(metrics.mean_init())) == 0.0
