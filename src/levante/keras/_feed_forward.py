"""`FeedForwardGate`: the GeGLU feed-forward layer (Shazeer 2020, "GLU Variants Improve
Transformer"), without biases, as mlable's `FeedForwardGate` and `levante.nets.feed_forward_gate`:

    y = (GELU(x W_gate) ⊙ (x W_linear)) W_output        GELU exact (erf), not tanh

mlable starts all three matrices at zero, where every gradient is zero too and the layer
never learns; here they start from `kernel_initializer` (Glorot uniform by default).
"""

from __future__ import annotations

import keras
from keras import ops

from . import _arguments as check
from ._errors import LayerError

_OWNER = "FeedForwardGate"


@keras.saving.register_keras_serializable(package="levante")
class FeedForwardGate(keras.layers.Layer):
    """Gated feed-forward `... input_dim -> ... hidden_dim -> ... input_dim`, GeGLU with the
    exact GELU and no biases. The weights are `gate` and `linear` (input_dim, hidden_dim)
    and `output` (hidden_dim, input_dim).

    Errors (`LayerError`): `input_dim` or `hidden_dim` not a positive int, an input whose
    last axis is not `input_dim`.

    >>> import numpy as np
    >>> layer = FeedForwardGate(input_dim=8, hidden_dim=32)
    >>> tuple(layer(np.ones((2, 5, 8), "float32")).shape), [w.name for w in layer.weights]
    ((2, 5, 8), ['gate', 'linear', 'output'])
    """

    def __init__(self, input_dim, hidden_dim, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim = check.integer(input_dim, "input_dim", _OWNER, minimum=1)
        self.hidden_dim = check.integer(hidden_dim, "hidden_dim", _OWNER, minimum=1)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _check(self, shape):
        if not shape or shape[-1] != self.input_dim:
            raise LayerError(f"{_OWNER}: input_dim={self.input_dim}, but the input's last "
                             f"axis has size {shape[-1] if shape else None} (shape "
                             f"{tuple(shape)}); set input_dim to the input's width")

    def build(self, input_shape):
        self._check(tuple(input_shape))
        make = lambda name, shape: self.add_weight(name=name, shape=shape,
                                                   initializer=self.kernel_initializer)
        self.gate_kernel = make("gate", (self.input_dim, self.hidden_dim))
        self.linear_kernel = make("linear", (self.input_dim, self.hidden_dim))
        self.output_kernel = make("output", (self.hidden_dim, self.input_dim))

    def compute_output_shape(self, input_shape):
        self._check(tuple(input_shape))
        return tuple(input_shape)

    def call(self, inputs):
        self._check(tuple(inputs.shape))
        gate = ops.gelu(ops.matmul(inputs, self.gate_kernel), approximate=False)
        return ops.matmul(gate * ops.matmul(inputs, self.linear_kernel), self.output_kernel)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "hidden_dim": self.hidden_dim,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
