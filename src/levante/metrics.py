"""Metrics: accuracy, hierarchical group accuracy, cross-entropy, perplexity, running means.

All are plain JAX functions of arrays, usable inside `jax.jit`.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp


class MetricsError(ValueError):
    """Metric inputs whose shapes or settings cannot work, with the fix."""


def _predicted(values, depth):
    """Class ids from one-hot / probability rows (last axis), or ids passed through."""
    values = jnp.asarray(values)
    if depth is not None:
        if values.shape[-1] % depth:
            raise MetricsError(f"depth={depth} does not divide the last axis of size "
                               f"{values.shape[-1]}")
        values = values.reshape(*values.shape[:-1], values.shape[-1] // depth, depth)
    return jnp.argmax(values, axis=-1)  # the first maximum wins


def _as_ids(y_true, y_pred, depth):
    predicted = _predicted(y_pred, depth)
    y_true = jnp.asarray(y_true)
    if jnp.issubdtype(y_true.dtype, jnp.integer) and y_true.shape == predicted.shape:
        return y_true, predicted
    actual = _predicted(y_true, depth)
    if actual.shape != predicted.shape:
        raise MetricsError(f"y_true {y_true.shape} and y_pred {jnp.shape(y_pred)} do not match:"
                           " pass one-hot rows of the same shape, or integer ids for y_true")
    return actual, predicted


def group_accuracy(y_true, y_pred, group=4, axis=-1, depth=None, weights=None):
    """Fraction of groups of `group` consecutive positions predicted entirely right.

    Predictions are the argmax of the last axis of `y_pred` (first maximum wins); `y_true`
    is one-hot like `y_pred` or integer ids. Along `axis` of the ids, each run of `group`
    positions counts as correct only if all its positions are. `group` and `axis` may be
    lists, applied in turn (bytes -> characters -> words). `depth` splits a flat one-hot
    axis into (positions, depth) first. `weights` (shape of the ids) weigh positions; a
    group weighs the mean of its positions' weights.

    A UTF-32-BE character is four bytes: predicting "b" for "a" gets 3 of 4 bytes right but
    no character:

    >>> import numpy as np
    >>> true = np.frombuffer("a".encode("utf-32-be"), np.uint8).astype(int)[None]
    >>> pred = jax.nn.one_hot(np.frombuffer("b".encode("utf-32-be"), np.uint8), 256)[None]
    >>> float(group_accuracy(true, pred, group=1)), float(group_accuracy(true, pred, group=4))
    (0.75, 0.0)
    """
    actual, predicted = _as_ids(y_true, y_pred, depth)
    correct = (actual == predicted).astype(jnp.float32)
    weights = jnp.ones_like(correct) if weights is None else jnp.asarray(weights, jnp.float32)
    if weights.shape != correct.shape:
        raise MetricsError(f"weights have shape {weights.shape}; they weigh positions, "
                           f"shape {correct.shape}")
    groups = list(group) if isinstance(group, (list, tuple)) else [group]
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis] * len(groups)
    if len(axes) != len(groups):
        raise MetricsError(f"{len(groups)} group sizes but {len(axes)} axes")
    for size, ax in zip(groups, axes):
        correct, weights = _group(correct, size, ax), _group(weights, size, ax, "mean")
    return jnp.sum(correct * weights) / jnp.maximum(jnp.sum(weights), 1e-12)


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


def accuracy(logits, labels, mask=None):
    """Fraction of positions whose argmax equals the integer label (over `mask`).

    >>> float(accuracy(jnp.array([[0.1, 0.9], [0.8, 0.2]]), jnp.array([1, 0])))
    1.0
    """
    hits = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    return _masked_mean(hits, mask)


def cross_entropy(logits, labels, mask=None):
    """Mean of -log softmax(logits)[label] over the positions where `mask` is True.

    Labels are integer ids; `mask` (True = count) leaves out padding.

    >>> float(cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])))  # log 4
    1.3862943649291992
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    if labels.shape != logits.shape[:-1]:
        raise MetricsError(f"labels {labels.shape} must have the shape of logits without "
                           f"the class axis, {logits.shape[:-1]}")
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    picked = jnp.take_along_axis(log_probs, labels[..., None].astype(jnp.int32), axis=-1)
    return _masked_mean(-picked[..., 0], mask)


def perplexity(logits, labels, mask=None):
    """exp(cross_entropy): the effective number of choices per position.

    >>> round(float(perplexity(jnp.zeros((1, 5)), jnp.array([2]))), 4)
    5.0
    """
    return jnp.exp(cross_entropy(logits, labels, mask))


def _masked_mean(values, mask):
    if mask is None:
        return jnp.mean(values)
    mask = jnp.asarray(mask, jnp.float32)
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


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
