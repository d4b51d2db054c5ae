"""levante.metrics: group accuracy on the tokun byte/character example, several levels,
depth, weights and ties; accuracy, cross-entropy against PyTorch, perplexity, the
running mean inside a jitted loop, and the labels' convention (ignore_index, out-of-range
labels: an error when concrete, NaN under jit) against PyTorch's ignore_index."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ---------------------------------------------------------------- the labels' convention


def torch_cross_entropy(logits, labels, ignore_index=-100):
    """PyTorch's mean cross-entropy over the positions whose label is not ignore_index."""
    return float(F.cross_entropy(torch.from_numpy(np.asarray(logits, np.float32)
                                                  .reshape(-1, logits.shape[-1])),
                                 torch.from_numpy(np.asarray(labels).reshape(-1)).long(),
                                 ignore_index=ignore_index))


def test_label_minus_one_no_longer_scores_the_last_class():
    logits, labels, _ = _batch(4)
    labels[0, 2] = -1  # nanoGPT's padding label
    # it was the last class's score; now an error that says how to leave it out
    with pytest.raises(MetricsError, match=r"labels hold -1 at position \(0, 2\).*"
                                           r"\[0, 7\).*ignore_index=-1"):
        metrics.cross_entropy(logits, labels)
    for metric in (metrics.accuracy, metrics.perplexity):
        with pytest.raises(MetricsError, match="-1 at position"):
            metric(logits, labels)
    with pytest.raises(MetricsError, match="y_true hold -1"):
        group_accuracy(labels, logits, group=1)
    # with ignore_index=-1, it is padding: left out of the mean, like PyTorch
    ours = float(metrics.cross_entropy(logits, labels, ignore_index=-1))
    assert ours == pytest.approx(torch_cross_entropy(logits, labels, ignore_index=-1), rel=1e-5)
    last = labels.copy()
    last[0, 2] = 6
    assert ours != pytest.approx(float(metrics.cross_entropy(logits, last)), rel=1e-3)
    hits = (logits.argmax(-1) == labels)[labels != -1]
    assert float(metrics.accuracy(logits, labels, ignore_index=-1)) == pytest.approx(
        hits.mean())
    # under jit a traced label cannot raise: NaN, not the score of the last class
    assert np.isnan(float(jax.jit(metrics.cross_entropy)(logits, labels)))
    assert np.isnan(float(jax.jit(metrics.accuracy)(logits, labels)))
    assert np.isnan(float(jax.jit(metrics.perplexity)(logits, labels)))


@pytest.mark.parametrize("label", [7, 8, 1000, -2, -7, -8, -101])
def test_labels_outside_the_classes(label):
    logits, labels, _ = _batch(5)  # 7 classes
    labels[2, 4] = label
    with pytest.raises(MetricsError, match=rf"hold {label} at position \(2, 4\)"):
        metrics.cross_entropy(logits, labels)
    with pytest.raises(MetricsError, match=rf"hold {label}"):
        metrics.accuracy(logits, labels)
    for metric in (metrics.cross_entropy, metrics.accuracy):
        assert np.isnan(float(jax.jit(metric)(logits, labels)))
    # NumPy labels under jit are concrete: checked once, when the function is traced
    with pytest.raises(MetricsError, match=rf"hold {label}"):
        jax.jit(lambda x: metrics.cross_entropy(x, labels))(logits)


def test_minus_100_is_left_out_by_default_like_pytorch():
    logits, labels, _ = _batch(6)
    labels[0, :3] = -100
    labels[2, 4] = -100
    expected = torch_cross_entropy(logits, labels)  # PyTorch's default ignore_index
    for fn in (metrics.cross_entropy, jax.jit(metrics.cross_entropy)):
        assert float(fn(logits, labels)) == pytest.approx(expected, rel=1e-5)
    kept = labels != -100
    assert float(metrics.accuracy(logits, labels)) == pytest.approx(
        (logits.argmax(-1) == labels)[kept].mean())
    assert float(jax.jit(metrics.accuracy)(logits, labels)) == pytest.approx(
        (logits.argmax(-1) == labels)[kept].mean())
    assert float(metrics.perplexity(logits, labels)) == pytest.approx(math.exp(expected),
                                                                      rel=1e-5)
    # ignore_index=None ignores nothing: -100 is then an out-of-range label
    with pytest.raises(MetricsError, match=r"hold -100.*now nothing"):
        metrics.cross_entropy(logits, labels, ignore_index=None)
    # the ignored positions are out of the count too: the mean of the others
    assert float(metrics.cross_entropy(logits, labels)) == pytest.approx(
        float(metrics.cross_entropy(logits[kept], labels[kept])), rel=1e-6)


def test_ignored_positions_get_no_gradient_and_match_torch():
    logits, labels, _ = _batch(7)
    labels[1, 1:4] = -100
    ours = np.asarray(jax.grad(metrics.cross_entropy)(jnp.asarray(logits), labels))
    t_logits = torch.from_numpy(logits.reshape(-1, 7)).requires_grad_()
    F.cross_entropy(t_logits, torch.from_numpy(labels.reshape(-1)).long()).backward()
    np.testing.assert_allclose(ours.reshape(-1, 7), t_logits.grad.numpy(), atol=1e-6)
    assert not ours[1, 1:4].any() and np.isfinite(ours).all()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([-100, -1, 0, 3]), st.floats(0, 1))
def test_cross_entropy_with_ignored_labels_equals_torch(seed, ignore_index, share):
    rng = np.random.default_rng(seed)
    logits = (3 * rng.standard_normal((4, 6, 5))).astype(np.float32)
    labels = rng.integers(0, 5, (4, 6)).astype(np.int64)
    labels[rng.random((4, 6)) < share] = ignore_index
    labels[0, 0] = ignore_index + 1 if ignore_index in (-1, 3) else 2  # one position counts
    expected = torch_cross_entropy(logits, labels, ignore_index)
    ours = metrics.cross_entropy(logits, labels, ignore_index=ignore_index)
    assert float(ours) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_labels_of_positions_that_do_not_count_are_never_read():
    logits, labels, mask = _batch(8)
    garbage = np.where(mask, labels, -1)  # padded with -1 but left out by the mask
    assert float(metrics.cross_entropy(logits, garbage, mask)) == pytest.approx(
        float(metrics.cross_entropy(logits, labels, mask)), rel=1e-6)
    assert float(metrics.accuracy(logits, garbage, mask)) == float(
        metrics.accuracy(logits, labels, mask))
    assert float(jax.jit(metrics.cross_entropy)(logits, garbage, mask)) == pytest.approx(
        float(metrics.cross_entropy(logits, labels, mask)), rel=1e-6)
    # mask and ignore_index together; nothing counted gives 0 (a running mean's weight 0)
    both = np.where(np.arange(5) < 2, -100, garbage)
    assert float(metrics.cross_entropy(logits, both, mask)) == pytest.approx(
        torch_cross_entropy(logits, np.where(mask, both, -100)), rel=1e-5)
    nothing = np.full_like(labels, -100)
    assert float(metrics.cross_entropy(logits, nothing)) == 0.0
    assert float(metrics.accuracy(logits, nothing)) == 0.0


def test_labels_are_integer_ids_of_any_integer_dtype():
    logits, labels, _ = _batch(9)
    expected = float(metrics.cross_entropy(logits, labels))
    for dtype in (np.uint8, np.int8, np.int16, np.uint16, np.int64, np.uint32):
        assert float(metrics.cross_entropy(logits, labels.astype(dtype))) == pytest.approx(
            expected, rel=1e-6), dtype
        assert float(jax.jit(metrics.cross_entropy)(logits, labels.astype(dtype))) == \
            pytest.approx(expected, rel=1e-6), dtype
    big = labels.astype(np.uint32)
    big[0, 0] = 2**32 - 1  # -1 once cast to int32: still out of range, not the last class
    assert np.isnan(float(jax.jit(metrics.cross_entropy)(logits, big)))
    for bad in (labels.astype(np.float32), labels > 3):
        with pytest.raises(MetricsError, match="integer class ids"):
            metrics.cross_entropy(logits, bad)
        with pytest.raises(MetricsError, match="integer class ids"):
            metrics.accuracy(logits, bad)
    for bad in (1.5, True, "-1"):
        with pytest.raises(MetricsError, match="ignore_index is an int"):
            metrics.cross_entropy(logits, labels, ignore_index=bad)
    with pytest.raises(MetricsError, match="mask"):
        metrics.cross_entropy(logits, labels, np.ones((3, 1), bool))
    with pytest.raises(MetricsError, match="labels"):
        metrics.accuracy(logits, labels[:, :4])


def test_group_accuracy_leaves_ignored_positions_out():
    true, pred = utf32("abcd")[None], one_hot(utf32("abxd"))[None]
    ignored = true.copy()
    ignored[0, 11] = -100  # the one wrong byte
    assert score(ignored, pred, group=1) == 1.0  # 15 of 15 counted bytes
    assert score(ignored, pred, group=4) == 1.0  # character 2's 3 counted bytes are right
    ignored[0, 8:12] = -100  # the whole character
    assert score(ignored, pred, group=4) == 1.0
    assert score(ignored, pred, group=[4, 2]) == 1.0
    wrong = true.copy()
    wrong[0, 0] = 256
    with pytest.raises(MetricsError, match=r"y_true hold 256 at position \(0, 0\)"):
        group_accuracy(wrong, pred, group=4)
    assert np.isnan(float(jax.jit(functools.partial(group_accuracy, group=4))(wrong, pred)))
    with_minus_one = true.copy()
    with_minus_one[0, 11] = -1
    assert score(with_minus_one, pred, group=1, ignore_index=-1) == 1.0
