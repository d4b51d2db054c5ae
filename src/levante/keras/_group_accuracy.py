"""`CategoricalGroupAccuracy`: the fraction of groups of positions predicted entirely right,
mlable's metric as a Keras metric, with `levante.metrics.group_accuracy`'s semantics.

Predictions are the argmax of the last axis of `y_pred` (the first maximum wins); `y_true`
is one-hot (or probabilities) like `y_pred`, or class ids of the shape of the predicted ids.
Along `axis` of the ids, each run of `group` positions counts as one group, right only if
every position in it is right. A UTF-32-BE character is 4 bytes: predicting "b" for "a"
gets 3 bytes of 4 right, and no character.

Class ids follow the labels' convention of `levante.metrics`: a position labelled
`ignore_index` (-100, PyTorch's padding label) weighs 0 and does not break its group; any
other id outside `[0, classes)` is a `LayerError` when `y_true` is a NumPy array, and makes
the result NaN otherwise (inside `model.fit` the metric runs traced, where nothing can
raise), never a score against some class.
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
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
    positions' weights. Class ids equal to `ignore_index` (-100; None ignores nothing)
    weigh 0 and do not break their group; other ids outside `[0, classes)` raise when
    `y_true` is a NumPy array and make the result NaN otherwise.

    Errors (`LayerError`): a group size that is not a positive int or does not divide its
    axis, an axis outside the ids' rank, as many axes as groups, a depth that does not divide
    the last axis, `y_true` and `y_pred` that do not match, weights of another shape, a
    class id outside `[0, classes)`, bool or fractional ids (NumPy `y_true`).

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
                 dtype=None, ignore_index=-100, **kwargs):
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
        if ignore_index is not None and (not isinstance(ignore_index, numbers.Integral)
                                         or isinstance(ignore_index, bool)):
            raise LayerError(f"{_OWNER}: ignore_index={ignore_index!r} must be an int (or None "
                             "to ignore nothing)")
        self.group, self.axis, self.depth = group, axis, depth
        self.ignore_index = None if ignore_index is None else int(ignore_index)
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
        given = y_true
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        predicted = self._ids(y_pred)
        ids_shape = tuple(predicted.shape)
        counted, bad = None, None
        if tuple(y_true.shape) == ids_shape:  # class ids
            classes = self.depth if self.depth > 0 else y_pred.shape[-1]
            if isinstance(given, np.ndarray):
                self._check_ids(given, classes)
            actual = ops.cast(y_true, "int32")
            counted = ops.ones(ids_shape, "bool") if self.ignore_index is None \
                else ops.not_equal(actual, self.ignore_index)
            inside = ops.logical_and(actual >= 0, actual < classes)
            bad = ops.any(ops.logical_and(counted, ops.logical_not(inside)))
            actual = ops.where(counted, actual, -1)  # an ignored position never matches ...
            predicted = ops.cast(predicted, "int32")
        else:
            actual = self._ids(y_true)
            if tuple(actual.shape) != ids_shape:
                raise LayerError(f"{_OWNER}: y_true {tuple(y_true.shape)} and y_pred "
                                 f"{tuple(y_pred.shape)} do not match: pass one-hot rows of "
                                 f"the shape of y_pred, or class ids of shape {ids_shape}")
        correct = ops.cast(ops.equal(actual, predicted), "float32")
        weights = self._weights(sample_weight, ids_shape)
        if counted is not None:  # ... but counts as right for its group, and weighs 0
            correct = ops.where(counted, correct, 1.0)
            weights = weights * ops.cast(counted, "float32")
        for size, ax in self._pairs:
            correct, weights = self._group(correct, size, ax, ops.min), \
                self._group(weights, size, ax, ops.mean)
        hits = ops.sum(correct * weights)
        if bad is not None:  # a label outside the classes poisons the result
            hits = ops.where(bad, float("nan"), hits)
        self.correct.assign_add(ops.cast(hits, self.dtype))
        self.total.assign_add(ops.cast(ops.sum(weights), self.dtype))

    def _check_ids(self, ids, classes):
        """Raise for the first counted id of a NumPy `y_true` outside [0, classes)."""
        ids = np.asarray(ids)
        if ids.dtype.kind == "b" or (ids.dtype.kind == "f" and not np.array_equal(
                ids, np.floor(ids))):  # Keras pipelines often carry ids as floats: whole ones
            raise LayerError(f"{_OWNER}: y_true of dtype {ids.dtype} holds no class ids; pass "
                             "integer ids (or one-hot rows of the shape of y_pred)")
        counted = np.ones(ids.shape, bool) if self.ignore_index is None \
            else ids != self.ignore_index
        outside = counted & ((ids < 0) | (ids >= classes))
        if outside.any():
            where = tuple(int(i) for i in np.argwhere(outside)[0])
            raise LayerError(f"{_OWNER}: y_true holds {ids[where]} at position {where}, "
                             f"outside the class ids [0, {classes}); positions to leave out "
                             f"take the label ignore_index={self.ignore_index}")

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
                "depth": self.depth, "ignore_index": self.ignore_index}
