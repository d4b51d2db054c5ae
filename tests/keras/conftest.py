"""The Keras tests run on Keras' JAX backend unless KERAS_BACKEND says otherwise; the other
backends are checked in subprocesses (test_backends.py). Keras reads the variable once, on
its first import, which this file precedes."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
