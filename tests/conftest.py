"""Settings every test process needs before any test module imports a library."""

import os

import numpy as np
import pytest

# Keras picks its backend once, at its first import, which another module (TensorFlow's
# or transformers') may trigger before tests/keras is collected; the Keras tests run on JAX
# unless the caller chose otherwise.
os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small text of repeated words (no file from outside the repository), for tiny runs."""
    rng = np.random.default_rng(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "\n"]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text(" ".join(rng.choice(words, 3000)), encoding="utf-8")
    return path
