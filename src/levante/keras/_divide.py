"""`Divide`: move a factor from one axis to another, mlable's relative reshaping as a layer.

    input before output:   ... (a f) ... c ...  ->  ... a ... (f c) ...
    input after output:    ... c ... (f a) ...  ->  ... (c f) ... a ...
    insert=True:           the output axis is a new axis of size f

mlable reshapes the memory as it lies, which scrambles values when the two axes are not
next to each other; here the values are those of the rearrangement above, as
`levante.nets.divide` computes them (for adjacent axes both agree).
"""

from __future__ import annotations

import keras
from keras import ops

from . import _arguments as check
from ._errors import LayerError

_OWNER = "Divide"


def _times(a, b):
    return None if a is None or b is None else a * b


def _over(a, b):
    return None if a is None else a // b


@keras.saving.register_keras_serializable(package="levante")
class Divide(keras.layers.Layer):
    """Divide `input_axis` by `factor` and multiply `output_axis` by it (or insert it).

    Both axes are positions in the *result*, as in mlable (they differ from the input's
    only when `insert=True` adds the output axis). The values are those of
    `levante.nets.divide`: the factor leaves the input axis on the side facing the output
    axis and joins the output axis on the side facing the input axis.

    Errors (`LayerError`): an axis outside the result's rank (never wrapped around), equal
    axes, a `factor` that is not a positive int or does not divide the input axis.

    Shapes: `(2, 4, 6, 8)` with `input_axis=2, output_axis=-1, factor=3` gives `(2, 4, 2, 24)`.

    >>> import numpy as np
    >>> from keras import ops
    >>> x = np.ones((2, 4, 6, 8), "float32")
    >>> tuple(Divide(input_axis=2, output_axis=-1, factor=3)(x).shape)
    (2, 4, 2, 24)
    >>> y = Divide(input_axis=1, output_axis=2, factor=3, insert=True)(np.arange(6.0)[None])
    >>> ops.convert_to_numpy(y).tolist()
    [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]
    """

    def __init__(self, input_axis, output_axis, factor, insert=False, **kwargs):
        super().__init__(**kwargs)
        self.input_axis = check.integer(input_axis, "input_axis", _OWNER)
        self.output_axis = check.integer(output_axis, "output_axis", _OWNER)
        self.factor = check.integer(factor, "factor", _OWNER, minimum=1)
        self.insert = check.boolean(insert, "insert", _OWNER)
        check.distinct(self.input_axis, self.output_axis, ("input_axis", "output_axis"), _OWNER)

    def _plan(self, shape, static):
        """(split shape, permutation, result shape) for an input of this shape; sizes may be
        None (`static`: while building) or symbolic."""
        rank = len(shape) + int(self.insert)
        source = check.axis(self.input_axis, rank, "input_axis", _OWNER)
        target = check.axis(self.output_axis, rank, "output_axis", _OWNER)
        if source == target:
            raise LayerError(f"{_OWNER}: input_axis={self.input_axis} and output_axis="
                             f"{self.output_axis} are the same axis of the rank-{rank} result")
        present = [i for i in range(rank) if not (self.insert and i == target)]  # input axes
        size = shape[present.index(source)]
        known = check.static_size(size)
        if known is not None and known % self.factor:
            # with insert=True the axes count in the result: say which input axis it is
            where = (f" (axis {present.index(source)} of the input, the result's axes "
                     "counting the inserted one)") if self.insert else ""
            raise LayerError(f"{_OWNER}: factor={self.factor} does not divide input axis "
                             f"{self.input_axis} of size {known}{where}")
        over = _over if static else (lambda a, b: a // b)
        times = _times if static else (lambda a, b: a * b)
        rest, right = over(size, self.factor), source < target
        split, atom = [], {}
        for position, i in enumerate(present):
            parts = ([("rest", rest), ("factor", self.factor)] if right
                     else [("factor", self.factor), ("rest", rest)]) if i == source \
                else [(i, shape[position])]
            for name, part in parts:
                atom[name] = len(split)
                split.append(part)
        order, result = [], []
        for i in range(rank):
            if i == target and self.insert:
                order.append(atom["factor"])
                result.append(self.factor)
            elif i == target:  # the factor joins on the side facing the input axis
                pair = ["factor", i] if right else [i, "factor"]
                order += [atom[name] for name in pair]
                result.append(times(split[atom[i]], self.factor))
            elif i == source:
                order.append(atom["rest"])
                result.append(rest)
            else:
                order.append(atom[i])
                result.append(split[atom[i]])
        return split, order, result

    def compute_output_shape(self, input_shape):
        return tuple(self._plan(list(input_shape), static=True)[2])

    def call(self, inputs):
        split, order, result = self._plan(list(ops.shape(inputs)), static=False)
        x = ops.reshape(inputs, split)
        if order != sorted(order):
            x = ops.transpose(x, order)
        return ops.reshape(x, result)

    def get_config(self):
        return {**super().get_config(), "input_axis": self.input_axis,
                "output_axis": self.output_axis, "factor": self.factor, "insert": self.insert}
