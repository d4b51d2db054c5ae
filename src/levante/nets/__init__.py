"""levante.nets: building blocks, each a plain function of (params, inputs, hyper-parameters).

Blocks with parameters take `params` first and declare them with `lv.validate` /
`lv.param`, so `lv.trace(block, key, x, ...)` makes them; blocks without take the inputs.
A block computes in its floating-point input's precision: float32 parameters with bfloat16
inputs give bfloat16 outputs (norms keep their statistics, RoPE its angles, in float32).
"""

from ._activations import ACTIVATIONS, activation_function, gelu, gelu_tanh
from ._attention import (
    attention,
    dot_product_attention,
    init_cache,
    masked_softmax,
    multi_head_self_attention,
)
from ._block import transformer_block
from ._conv import avg_pool, conv_1d, conv_2d, max_pool
from ._dropout import dropout
from ._embedding import embedding, embedding_readout
from ._errors import NetsError
from ._feed_forward import feed_forward, feed_forward_gate
from ._linear import branch_linear, linear, mlp
from ._lstm import lstm, lstm_cell, zero_state
from ._norms import layer_norm, rms_norm
from ._reshape import divide, merge
from ._rope import rope

__all__ = [
    "ACTIVATIONS",
    "NetsError",
    "activation_function",
    "attention",
    "avg_pool",
    "branch_linear",
    "conv_1d",
    "conv_2d",
    "divide",
    "dot_product_attention",
    "dropout",
    "embedding",
    "embedding_readout",
    "feed_forward",
    "feed_forward_gate",
    "gelu",
    "gelu_tanh",
    "init_cache",
    "layer_norm",
    "linear",
    "lstm",
    "lstm_cell",
    "masked_softmax",
    "max_pool",
    "merge",
    "mlp",
    "multi_head_self_attention",
    "rms_norm",
    "rope",
    "transformer_block",
    "zero_state",
]
