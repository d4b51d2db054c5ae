"""`Merge`: join two axes into one, mlable's relative reshaping as a layer.

    ... l ... r ...  ->  ... (l r) ...   at l's place (left=True) or r's place (left=False)

`left_axis` becomes the outer part of the merged axis and `right_axis` the inner part,
whatever their order in the input; the values are those of `levante.nets.merge` (a
transpose then a reshape), where mlable's plain reshape scrambles them unless the axes are
neighbours.
"""

from __future__ import annotations

import keras
from keras import ops

from . import _arguments as check
from ._errors import LayerError

_OWNER = "Merge"


@keras.saving.register_keras_serializable(package="levante")
class Merge(keras.layers.Layer):
    """Join `left_axis` (outer) and `right_axis` (inner) into one axis, placed where
    `left_axis` was (`left=True`) or where `right_axis` was (`left=False`).

    Defaults are mlable's: the last two axes, at the left one's place.

    Errors (`LayerError`): an axis outside the input's rank (never wrapped around), or the
    same axis twice.

    Shapes: `(2, 4, 6, 8)` with `left_axis=1, right_axis=-1, left=False` gives `(2, 6, 32)`.

    >>> import numpy as np
    >>> from keras import ops
    >>> tuple(Merge(left_axis=1, right_axis=-1, left=False)(np.ones((2, 4, 6, 8))).shape)
    (2, 6, 32)
    >>> ops.convert_to_numpy(Merge(0, 1)(np.arange(6.0).reshape(2, 3))).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    """

    def __init__(self, left_axis=-2, right_axis=-1, left=True, **kwargs):
        super().__init__(**kwargs)
        self.left_axis = check.integer(left_axis, "left_axis", _OWNER)
        self.right_axis = check.integer(right_axis, "right_axis", _OWNER)
        self.left = check.boolean(left, "left", _OWNER)
        check.distinct(self.left_axis, self.right_axis, ("left_axis", "right_axis"), _OWNER)

    def _plan(self, shape, static):
        rank = len(shape)
        outer = check.axis(self.left_axis, rank, "left_axis", _OWNER)
        inner = check.axis(self.right_axis, rank, "right_axis", _OWNER)
        if outer == inner:
            raise LayerError(f"{_OWNER}: left_axis={self.left_axis} and right_axis="
                             f"{self.right_axis} are the same axis of the rank-{rank} input")
        place = outer if self.left else inner
        order, result = [], []
        for i in range(rank):
            if i == place:
                order += [outer, inner]
                a, b = shape[outer], shape[inner]
                result.append(None if static and (a is None or b is None) else a * b)
            elif i not in (outer, inner):
                order.append(i)
                result.append(shape[i])
        return order, result

    def compute_output_shape(self, input_shape):
        return tuple(self._plan(list(input_shape), static=True)[1])

    def call(self, inputs):
        order, result = self._plan(list(ops.shape(inputs)), static=False)
        x = inputs if order == sorted(order) else ops.transpose(inputs, order)
        return ops.reshape(x, result)

    def get_config(self):
        return {**super().get_config(), "left_axis": self.left_axis,
                "right_axis": self.right_axis, "left": self.left}
