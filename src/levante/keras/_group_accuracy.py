"""`CategoricalGroupAccuracy`: the fraction of groups of positions predicted entirely right,
mlable's metric as a Keras metric, with `levante.metrics.group_accuracy`'s semantics.

Predictions are the argmax of the last axis of `y_pred` (the first maximum wins); `y_true`
is one-hot (or probabilities) like `y_pred`, or class ids of the shape of the predicted ids.
Along `axis` of the ids, each run of `group` positions counts as one group, right only if
every position in it is right. A UTF-32-BE character is 4 bytes: predicting "b" for "a"
gets 3 bytes of 4 right, and no character.
"""

from __future__ import annotations

import keras
from keras import ops

from . import _arguments as check
from ._errors import LayerError

_OWNER = "CategoricalGroupAccuracy"


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


@keras.saving.register_keras_serializable(package="levante")
class CategoricalGroupAccuracy(keras.metrics.Metric):
    """Fraction of groups of `group` consecutive positions (along `axis` of the class ids)
    whose every position is predicted right, accumulated over batches.

    `group` and `axis` may be lists, applied in turn (bytes -> characters -> words). A
    positive `depth` first splits a flat last axis of `y_pred` (and of a one-hot `y_true`)
    into (positions, depth); `depth=-1`, the default, reads the last axis as the classes.
    `sample_weight` has the shape of the ids, or (batch,); a group weighs the mean of its
    positions' weights.

    Errors (`LayerError`): a group size that is not a positive int or does not divide its
    axis, an axis outside the ids' rank, as many axes as groups, a depth that does not divide
    the last axis, `y_true` and `y_pred` that do not match, weights of another shape.

    Source: mlable's `CategoricalGroupAccuracy` (argument names and defaults);
    `levante.metrics.group_accuracy` (the values).

    >>> import numpy as np
    >>> true = np.frombuffer("a".encode("utf-32-be"), np.uint8).astype("int32")[None]
    >>> pred = np.eye(256, dtype="float32")[np.frombuffer("b".encode("utf-32-be"), np.uint8)][None]
    >>> byte, character = CategoricalGroupAccuracy(group=1), CategoricalGroupAccuracy(group=4)
    >>> byte.update_state(true, pred); character.update_state(true, pred)
    >>> float(byte.result()), float(character.result())
    (0.75, 0.0)
    """

    def __init__(self, group=4, axis=-1, depth=-1, name="categorical_group_accuracy",
                 dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        groups, axes = _as_list(group), _as_list(axis)
        for size in groups:
            check.integer(size, "group", _OWNER, minimum=1)
        for ax in axes:
            check.integer(ax, "axis", _OWNER)
        if len(axes) == 1 and len(groups) > 1:
            axes = axes * len(groups)
        if len(axes) != len(groups):
            raise LayerError(f"{_OWNER}: group={group!r} has {len(groups)} sizes but "
                             f"axis={axis!r} has {len(axes)}: give one axis, or one per size")
        depth = check.integer(depth, "depth", _OWNER)
        if depth == 0 or depth < -1:
            raise LayerError(f"{_OWNER}: depth={depth} must be a positive int, or -1 for "
                             "classes along the whole last axis")
        self.group, self.axis, self.depth = group, axis, depth
        self._pairs = list(zip(groups, axes))
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def _ids(self, values):
        if self.depth > 0:
            size = values.shape[-1]
            if size % self.depth:
                raise LayerError(f"{_OWNER}: depth={self.depth} does not divide the last axis "
                                 f"of size {size}")
            values = ops.reshape(values, (*ops.shape(values)[:-1], size // self.depth,
                                          self.depth))
        return ops.argmax(values, axis=-1)  # the first maximum wins

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        predicted = self._ids(y_pred)
        ids_shape = tuple(predicted.shape)
        if tuple(y_true.shape) == ids_shape:  # class ids
            actual = ops.cast(y_true, predicted.dtype)
        else:
            actual = self._ids(y_true)
            if tuple(actual.shape) != ids_shape:
                raise LayerError(f"{_OWNER}: y_true {tuple(y_true.shape)} and y_pred "
                                 f"{tuple(y_pred.shape)} do not match: pass one-hot rows of "
                                 f"the shape of y_pred, or class ids of shape {ids_shape}")
        correct = ops.cast(ops.equal(actual, predicted), "float32")
        weights = self._weights(sample_weight, ids_shape)
        for size, ax in self._pairs:
            correct, weights = self._group(correct, size, ax, ops.min), \
                self._group(weights, size, ax, ops.mean)
        self.correct.assign_add(ops.cast(ops.sum(correct * weights), self.dtype))
        self.total.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def _weights(self, sample_weight, shape):
        if sample_weight is None:
            return ops.ones(shape, "float32")
        weights = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
        got = tuple(weights.shape)
        if got == shape[:1] and len(shape) > 1:  # one weight per sample
            weights = ops.broadcast_to(ops.reshape(weights, (-1,) + (1,) * (len(shape) - 1)),
                                       shape)
        elif got != shape:
            raise LayerError(f"{_OWNER}: sample_weight has shape {got}; it weighs samples "
                             f"{shape[:1]} or positions {shape}")
        return weights

    @staticmethod
    def _group(values, size, ax, reduce):
        shape = tuple(values.shape)
        position = check.axis(ax, len(shape), "axis", _OWNER)
        length = shape[position]
        if length % size:
            raise LayerError(f"{_OWNER}: group={size} does not divide axis {ax} of size "
                             f"{length}")
        grouped = ops.reshape(values, (*shape[:position], length // size, size,
                                       *shape[position + 1:]))
        return reduce(grouped, axis=position + 1)  # min: 1 only if every position is right

    def result(self):
        return self.correct / ops.maximum(self.total, 1e-12)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "group": self.group, "axis": self.axis,
                "depth": self.depth}
