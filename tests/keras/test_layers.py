"""levante.keras in the test process, on Keras' JAX backend: every check of _keras_checks.py."""

import _keras_checks as _checks
import pytest

import keras


def test_the_backend_is_jax():
    assert keras.backend.backend() == "jax", "KERAS_BACKEND was set before this suite ran"


@pytest.mark.parametrize("check", _checks.CHECKS, ids=[c.__name__ for c in _checks.CHECKS])
def test_check(check):
    check()
