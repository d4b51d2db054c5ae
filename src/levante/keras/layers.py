"""Keras 3 layers with mlable's API: relative reshaping, RoPE, cached attention, GeGLU.

>>> from levante.keras import layers
>>> sorted(layers.__all__)[:2]
['CachedMultiHeadAttention', 'Divide']
"""

from ._attention import CachedMultiHeadAttention
from ._divide import Divide
from ._feed_forward import FeedForwardGate
from ._merge import Merge
from ._rope import RotaryPositionalEmbedding

__all__ = [
    "CachedMultiHeadAttention",
    "Divide",
    "FeedForwardGate",
    "Merge",
    "RotaryPositionalEmbedding",
]
