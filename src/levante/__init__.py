"""levante: deep-learning models as short readable math that runs as fast as hand-written JAX."""

__version__ = "0.1.0"
