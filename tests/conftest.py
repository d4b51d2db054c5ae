"""Settings every test process needs before any test module imports a library."""

import os

# Keras picks its backend once, at its first import, which another module (TensorFlow's
# or transformers') may trigger before tests/keras is collected; the Keras tests run on JAX
# unless the caller chose otherwise.
os.environ.setdefault("KERAS_BACKEND", "jax")
