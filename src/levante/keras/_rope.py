"""`RotaryPositionalEmbedding`: RoPE (Su et al. 2021, "RoFormer") as a Keras layer.

Each pair of features (x₁, x₂) at position m is rotated by the angle m·θᵢ,
θᵢ = max_wavelength^(-2i/d):

    y₁ = x₁ cos(mθᵢ) - x₂ sin(mθᵢ)
    y₂ = x₂ cos(mθᵢ) + x₁ sin(mθᵢ)

The pairs are (i, i + d/2), the half-split layout of mlable, GPT-NeoX and Hugging Face, and
of `levante.nets.rope`. Positions are `(arange(S) + offset) / scaling_factor`; the angles are
computed in float32 whatever the input's dtype, and the output has the input's dtype.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from . import _arguments as check
from ._errors import LayerError

_OWNER = "RotaryPositionalEmbedding"


def _scalar_integer(value):
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    return shape is not None and tuple(shape) == () and dtype is not None \
        and "int" in keras.backend.standardize_dtype(dtype)


@keras.saving.register_keras_serializable(package="levante")
class RotaryPositionalEmbedding(keras.layers.Layer):
    """Rotate feature pairs of the input by angles proportional to their position.

    Called as `layer(inputs, offset=0)`: `offset` (an int or a scalar integer tensor) is the
    position of the first element along `sequence_axis`, for decoding with a cache. The
    feature axis is split in halves (pairs `(i, i + d/2)`), as in mlable.

    Errors (`LayerError`): an axis outside the input's rank (never wrapped around), the
    same axis for sequence and features, an odd feature size, inputs that are not floating
    point (the output has the input's dtype), a `max_wavelength` or `scaling_factor` that is
    not a positive number, an `offset` that is not an int or a scalar integer tensor.

    Source: Su et al. 2021; the argument names, defaults and values of mlable's layer.

    >>> import numpy as np
    >>> from keras import ops
    >>> y = RotaryPositionalEmbedding()(np.ones((1, 4, 6), "float32"))
    >>> np.round(ops.convert_to_numpy(y)[0, 1], 4).tolist()
    [-0.3012, 0.9525, 0.9978, 1.3818, 1.0453, 1.0022]
    """

    def __init__(self, sequence_axis=1, feature_axis=-1, max_wavelength=10_000,
                 scaling_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.sequence_axis = check.integer(sequence_axis, "sequence_axis", _OWNER)
        self.feature_axis = check.integer(feature_axis, "feature_axis", _OWNER)
        check.distinct(self.sequence_axis, self.feature_axis, ("sequence_axis", "feature_axis"),
                       _OWNER)
        self.max_wavelength = check.positive_number(max_wavelength, "max_wavelength", _OWNER)
        self.scaling_factor = check.positive_number(scaling_factor, "scaling_factor", _OWNER)

    def _axes(self, shape):
        rank = len(shape)
        seq = check.axis(self.sequence_axis, rank, "sequence_axis", _OWNER)
        feat = check.axis(self.feature_axis, rank, "feature_axis", _OWNER)
        if seq == feat:
            raise LayerError(f"{_OWNER}: sequence_axis={self.sequence_axis} and feature_axis="
                             f"{self.feature_axis} are the same axis of the rank-{rank} input")
        dim = check.static_size(shape[feat])
        if dim is None or dim % 2:
            raise LayerError(f"{_OWNER}: RoPE rotates pairs of features, so feature axis "
                             f"{self.feature_axis} must have an even, known size; got "
                             f"{shape[feat]}")
        return seq, feat, dim

    def compute_output_shape(self, input_shape):
        self._axes(tuple(input_shape))
        return tuple(input_shape)

    def call(self, inputs, offset=0):
        if isinstance(offset, bool) or not (isinstance(offset, numbers.Integral)
                                            or _scalar_integer(offset)):
            raise LayerError(f"{_OWNER}: offset={offset!r} must be an int (the position of "
                             "the first element) or a scalar integer tensor")
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        if "float" not in dtype:
            # the rotated values are not integers: the output in the input's dtype would
            # truncate them
            raise LayerError(f"{_OWNER}: inputs of dtype {dtype} would be truncated after the "
                             "rotation; pass floating-point features (embeddings), e.g. "
                             "ops.cast(x, 'float32')")
        shape = ops.shape(inputs)
        seq, feat, dim = self._axes(shape)
        rank, half = len(shape), dim // 2
        positions = ops.arange(shape[seq], dtype="float32") + ops.cast(offset, "float32")
        positions = positions / self.scaling_factor
        exponents = ops.arange(half, dtype="float32") * (-2.0 / dim)
        inverse = ops.power(ops.cast(self.max_wavelength, "float32"), exponents)
        angles = positions[:, None] * inverse[None, :]  # s (d/2)
        # broadcast the s (d/2) tables against the input moved to (..., d) features last
        others = [a for a in range(rank) if a != feat]
        table = [1] * (rank - 1) + [half]
        table[others.index(seq)] = shape[seq]
        cos, sin = ops.reshape(ops.cos(angles), table), ops.reshape(ops.sin(angles), table)
        moved = ops.cast(ops.moveaxis(inputs, feat, -1), "float32")
        first, second = moved[..., :half], moved[..., half:]
        rotated = ops.concatenate([first * cos - second * sin, second * cos + first * sin],
                                  axis=-1)
        return ops.cast(ops.moveaxis(rotated, -1, feat), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "sequence_axis": self.sequence_axis,
                "feature_axis": self.feature_axis, "max_wavelength": self.max_wavelength,
                "scaling_factor": self.scaling_factor}
