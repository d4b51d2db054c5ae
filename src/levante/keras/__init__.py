"""levante.keras: Keras 3 layers and metrics with mlable's API and levante's semantics.

`levante.keras.layers` holds `Divide`, `Merge`, `RotaryPositionalEmbedding`,
`CachedMultiHeadAttention` and `FeedForwardGate`; `levante.keras.metrics` holds
`CategoricalGroupAccuracy`. They are written with `keras.ops`, so they run on every Keras
backend (JAX, TensorFlow, PyTorch; Keras reads `KERAS_BACKEND` once, when it is first
imported), and save to `.keras` files. Bad settings and inputs raise `LayerError`.

This package needs the `keras` extra (`pip install "levante[keras]"`); `import levante`
never imports Keras.
"""

from . import layers, metrics
from ._errors import LayerError

__all__ = ["LayerError", "layers", "metrics"]
