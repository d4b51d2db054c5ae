"""Metrics: accuracy, hierarchical group accuracy, cross-entropy, perplexity, running means.

All are plain JAX functions of arrays, usable inside `jax.jit`.

Labels follow one convention in every metric: integer class ids in `[0, classes)`.

- A label equal to `ignore_index` (default -100, the padding label of PyTorch's
  `cross_entropy` and of Hugging Face models) leaves its position out of the mean and out of
  the count, like a False in `mask`. `ignore_index=-1` gives nanoGPT's padding,
  `ignore_index=None` ignores nothing. The default is not -1 because -1 is also a valid
  index (the last class): a forgotten setting would then quietly score the last class.
- Any other label outside `[0, classes)` is a `MetricsError` whenever the labels are
  concrete (eager calls, or NumPy labels under `jit`: checked once, at trace time). Traced
  labels cannot raise, so the metric is NaN instead of scoring some class.
- Float or bool labels are a `MetricsError`.

Labels at positions that do not count (ignored, or False in `mask`) are never read.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

IGNORE_INDEX = -100  # the label of left-out positions (PyTorch's, Hugging Face's)


class MetricsError(ValueError):
    """Metric inputs whose shapes or settings cannot work, with the fix."""


def _array(values):
    """A JAX array (or tracer) as it is; anything else as NumPy, still concrete."""
    return values if isinstance(values, jax.Array) else np.asarray(values)


def _labels(labels, mask, classes, ignore_index, name="labels"):
    """(index, weights, bad) for integer `labels` over `classes` classes.

    `index`: int32 labels with every position that does not count set to 0, safe to gather
    with; `weights`: float32, `mask` (1 without one) times 0 where the label is
    `ignore_index`; `bad`: None when the labels were concrete and checked here, else a
    traced bool, True when a counted label is outside [0, classes)."""
    labels = _array(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise MetricsError(f"{name} are integer class ids in [0, {classes}); got "
                           f"{labels.dtype}. Pass ids (the argmax of one-hot rows)")
    if ignore_index is not None and (not isinstance(ignore_index, numbers.Integral)
                                     or isinstance(ignore_index, bool)):
        raise MetricsError(f"ignore_index is an int (or None to ignore nothing), "
                           f"not {ignore_index!r}")
    mask = None if mask is None else _array(mask)
    if mask is not None and mask.shape != labels.shape:
        raise MetricsError(f"mask {mask.shape} must have the shape of the {name}, "
                           f"{labels.shape}")
    concrete = not isinstance(labels, jax.core.Tracer) and not isinstance(mask, jax.core.Tracer)
    if concrete:
        _check(np.asarray(labels), None if mask is None else np.asarray(mask), classes,
               ignore_index, name)
    labels = jnp.asarray(labels)
    counted = jnp.ones(labels.shape, bool)
    if ignore_index is not None and jnp.can_cast(np.min_scalar_type(ignore_index),
                                                 labels.dtype):
        counted = labels != ignore_index  # a uint8 label is never -100
    weights = counted.astype(jnp.float32)
    if mask is not None:
        weights = weights * jnp.asarray(mask, jnp.float32)
    # uint32 ids past 2**31 turn negative: out of range either way
    labels = labels.astype(jnp.int32)
    inside = (labels >= 0) & (labels < classes)
    index = jnp.where(inside & (weights != 0), labels, 0)
    bad = None if concrete else jnp.any(~inside & (weights != 0))
    return index, weights, bad


def _check(labels, mask, classes, ignore_index, name):
    """Raise for the first counted label outside [0, classes)."""
    counted = np.ones(labels.shape, bool) if ignore_index is None else labels != ignore_index
    if mask is not None:
        counted &= mask.astype(bool)
    outside = counted & ((labels < 0) | (labels >= classes))
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        ignored = "nothing" if ignore_index is None else f"{ignore_index}"
        raise MetricsError(
            f"{name} hold {labels[where]} at position {where}, outside the class ids "
            f"[0, {classes}); {outside.sum()} such label(s). Positions to leave out take the "
            f"label ignore_index (now {ignored}; nanoGPT pads with -1: pass ignore_index=-1) "
            "or are False in mask")


def _predicted(values, depth):
    """Class ids from one-hot / probability rows (last axis), and the number of classes."""
    values = jnp.asarray(values)
    if depth is not None:
        if values.shape[-1] % depth:
            raise MetricsError(f"depth={depth} does not divide the last axis of size "
                               f"{values.shape[-1]}")
        values = values.reshape(*values.shape[:-1], values.shape[-1] // depth, depth)
    return jnp.argmax(values, axis=-1), values.shape[-1]  # the first maximum wins


def _as_ids(y_true, y_pred, depth):
    """(true ids, predicted ids, classes, whether y_true holds labels rather than rows)."""
    predicted, classes = _predicted(y_pred, depth)
    y_true = _array(y_true)
    if jnp.issubdtype(y_true.dtype, jnp.integer) and y_true.shape == predicted.shape:
        return y_true, predicted, classes, True
    actual, _ = _predicted(y_true, depth)
    if actual.shape != predicted.shape:
        raise MetricsError(f"y_true {y_true.shape} and y_pred {jnp.shape(y_pred)} do not match:"
                           " pass one-hot rows of the same shape, or integer ids for y_true")
    return actual, predicted, classes, False


def group_accuracy(y_true, y_pred, group=4, axis=-1, depth=None, weights=None, *,
                   ignore_index=IGNORE_INDEX):
    """Fraction of groups of `group` consecutive positions predicted entirely right.

    Predictions are the argmax of the last axis of `y_pred` (first maximum wins); `y_true`
    is one-hot like `y_pred` or integer ids. Along `axis` of the ids, each run of `group`
    positions counts as correct only if all its positions are. `group` and `axis` may be
    lists, applied in turn (bytes -> characters -> words). `depth` splits a flat one-hot
    axis into (positions, depth) first. `weights` (shape of the ids) weigh positions; a
    group weighs the mean of its positions' weights. Integer `y_true` follows the labels'
    convention (module docstring): a position labelled `ignore_index` weighs 0 and does not
    break its group; other ids outside `[0, classes)` raise `MetricsError` (NaN under `jit`).

    A UTF-32-BE character is four bytes: predicting "b" for "a" gets 3 of 4 bytes right but
    no character:

    >>> import numpy as np
    >>> true = np.frombuffer("a".encode("utf-32-be"), np.uint8).astype(int)[None]
    >>> pred = jax.nn.one_hot(np.frombuffer("b".encode("utf-32-be"), np.uint8), 256)[None]
    >>> float(group_accuracy(true, pred, group=1)), float(group_accuracy(true, pred, group=4))
    (0.75, 0.0)
    """
    actual, predicted, classes, labelled = _as_ids(y_true, y_pred, depth)
    counted, bad = jnp.ones(predicted.shape, jnp.float32), None
    if labelled:
        actual, counted, bad = _labels(actual, None, classes, ignore_index, "y_true")
    # an ignored position is right as far as its group goes, and weighs nothing
    correct = jnp.where(counted != 0, actual == predicted, True).astype(jnp.float32)
    weights = jnp.ones_like(correct) if weights is None else jnp.asarray(weights, jnp.float32)
    if weights.shape != correct.shape:
        raise MetricsError(f"weights have shape {weights.shape}; they weigh positions, "
                           f"shape {correct.shape}")
    weights = weights * counted
    groups = list(group) if isinstance(group, (list, tuple)) else [group]
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis] * len(groups)
    if len(axes) != len(groups):
        raise MetricsError(f"{len(groups)} group sizes but {len(axes)} axes")
    for size, ax in zip(groups, axes):
        correct, weights = _group(correct, size, ax), _group(weights, size, ax, "mean")
    return _poisoned(jnp.sum(correct * weights) / jnp.maximum(jnp.sum(weights), 1e-12), bad)


def _group(values, size, axis, how="all"):
    if not -values.ndim <= axis < values.ndim:
        raise MetricsError(f"axis {axis} is outside the rank {values.ndim}")
    axis %= values.ndim
    length = values.shape[axis]
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise MetricsError(f"group={size!r}: a group size is a positive int")
    if length % size:
        raise MetricsError(f"group={size} does not divide axis {axis} of size {length}")
    shape = (*values.shape[:axis], length // size, size, *values.shape[axis + 1:])
    grouped = values.reshape(shape)
    if how == "all":
        return jnp.min(grouped, axis=axis + 1)  # 1 only if every position is right
    return jnp.mean(grouped, axis=axis + 1)


def accuracy(logits, labels, mask=None, *, ignore_index=IGNORE_INDEX):
    """Fraction of the counted positions whose argmax equals the label:

        acc = Σᵢ mᵢ [argmax logitsᵢ = yᵢ] / Σᵢ mᵢ

    over `logits` `... v` and integer `labels` `...`; a position counts where `mask` (True
    = count; all by default) is True and its label is not `ignore_index`. Labels follow the
    module's convention: a label outside `[0, v)` raises `MetricsError` when concrete and
    gives NaN under `jit`. 0 when no position counts.

    >>> logits = jnp.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    >>> round(float(accuracy(logits, jnp.array([1, 0, 0]))), 4)
    0.6667
    >>> float(accuracy(logits, jnp.array([1, 0, -100])))  # the third is left out
    1.0
    """
    logits = jnp.asarray(logits)
    _check_shapes(logits, labels)
    index, weights, bad = _labels(labels, mask, logits.shape[-1], ignore_index)
    hits = (jnp.argmax(logits, axis=-1) == index).astype(jnp.float32)
    return _poisoned(_weighted_mean(hits, weights), bad)


def cross_entropy(logits, labels, mask=None, *, ignore_index=IGNORE_INDEX):
    """Mean negative log-likelihood of the labels over the counted positions:

        CE = -Σᵢ mᵢ log softmax(logitsᵢ)[yᵢ] / Σᵢ mᵢ

    over `logits` `... v` (softmax in float32) and integer `labels` `...`. A position
    counts where `mask` (True = count; all by default) is True and its label is not
    `ignore_index` (-100: PyTorch's `F.cross_entropy(..., ignore_index=-100)`, whose value
    this is). A label outside `[0, v)` raises `MetricsError` when concrete and gives NaN
    under `jit`, never the score of some class. 0 when no position counts (PyTorch: NaN),
    so a running mean weighted by the count is unchanged.

    >>> float(cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])))  # log 4
    1.3862943649291992
    >>> logits = jnp.log(jnp.array([[0.5, 0.5], [0.9, 0.1]]))
    >>> round(float(cross_entropy(logits, jnp.array([0, 1]))), 4)  # (log 2 + log 10) / 2
    1.4979
    >>> round(float(cross_entropy(logits, jnp.array([0, -100]))), 4)  # log 2: one counts
    0.6931
    >>> cross_entropy(jnp.zeros((2, 4)), jnp.array([0, -1]))
    Traceback (most recent call last):
    ...
    levante.metrics.MetricsError: labels hold -1 at position (1,), outside the class ids [0, 4); ...
    """
    logits = jnp.asarray(logits)
    _check_shapes(logits, labels)
    index, weights, bad = _labels(labels, mask, logits.shape[-1], ignore_index)
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    picked = jnp.take_along_axis(log_probs, index[..., None], axis=-1)[..., 0]
    return _poisoned(_weighted_mean(-picked, weights), bad)


def perplexity(logits, labels, mask=None, *, ignore_index=IGNORE_INDEX):
    """exp(cross_entropy): the effective number of choices per position. Same labels,
    `mask` and `ignore_index` as `cross_entropy`.

    >>> round(float(perplexity(jnp.zeros((1, 5)), jnp.array([2]))), 4)
    5.0
    """
    return jnp.exp(cross_entropy(logits, labels, mask, ignore_index=ignore_index))


def _check_shapes(logits, labels):
    if np.shape(labels) != logits.shape[:-1]:
        raise MetricsError(f"labels {np.shape(labels)} must have the shape of logits without "
                           f"the class axis, {logits.shape[:-1]}")


def _weighted_mean(values, weights):
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1.0)


def _poisoned(value, bad):
    """NaN when a traced label was out of range (`bad`), else `value`."""
    return value if bad is None else jnp.where(bad, jnp.nan, value)


def mean_init():
    """A running mean's state, {total, count}, for accumulating inside a jitted loop.

    >>> state = mean_update(mean_update(mean_init(), 1.0), 3.0)
    >>> float(mean_result(state))
    2.0
    """
    return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}


def mean_update(state, value, weight=1.0):
    """The state after adding `value` with `weight`.

    >>> float(mean_result(mean_update(mean_init(), 4.0, weight=2.0)))
    4.0
    """
    return {"total": state["total"] + jnp.asarray(value, jnp.float32) * weight,
            "count": state["count"] + weight}


def mean_result(state):
    """The weighted mean so far (0 before any update).

    >>> float(mean_result(mean_init()))
    0.0
    """
    return state["total"] / jnp.maximum(state["count"], 1e-12)
