"""The backend cases of test_backends.py on TensorFlow (eager and inside tf.function) and
on any Array API namespace (array-api-strict), against the same NumPy oracle."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from levante import ein

from .test_backends import CASES, ids_of

tf = pytest.importorskip("tensorflow")
xp = pytest.importorskip("array_api_strict")


def check(got, want):
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    want = list(want) if isinstance(want, (tuple, list)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


def as_tf(inputs):
    return [tf.convert_to_tensor(x) if isinstance(x, np.ndarray) else x for x in inputs]


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_tensorflow_eager(case):
    got = case.run(*as_tf(case.inputs))
    assert all(isinstance(g, tf.Tensor) for g in (got if isinstance(got, tuple) else (got,)))
    check(got, case.ref(np, *case.inputs))


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_tensorflow_function(case):
    inputs = as_tf(case.inputs)
    tensors = [i for i, x in enumerate(inputs) if isinstance(x, tf.Tensor)]

    @tf.function
    def traced(*xs):
        args = list(inputs)
        for i, x in zip(tensors, xs):
            args[i] = x
        return case.run(*args)

    check(traced(*[inputs[i] for i in tensors]), case.ref(np, *case.inputs))


@pytest.mark.parametrize("case", CASES, ids=ids_of)
def test_array_api_strict(case):
    inputs = [xp.asarray(x) if isinstance(x, np.ndarray) else x for x in case.inputs]
    got = case.run(*inputs)
    assert all(hasattr(g, "__array_namespace__")
               for g in (got if isinstance(got, tuple) else (got,)))
    check(got, case.ref(np, *case.inputs))


@pytest.mark.parametrize("make", [tf.convert_to_tensor, xp.asarray], ids=["tf", "arrayapi"])
def test_indices_are_checked(make):
    table = make(np.arange(30.0).reshape(10, 3))
    for dtype in ("uint8", "int8", "int16", "int64"):
        ids = make(np.array([1, 2, -1]).astype(dtype) if dtype != "uint8"
                   else np.array([1, 2, 9], np.uint8))
        check(ein.get_at("[v] c, t -> t c", table, ids), np.arange(30.0).reshape(10, 3)[
            [1, 2, 9]])
    for bad, match in ((np.array([10]), "out of range"), (np.array([1.0]), "integers")):
        with pytest.raises(ein.NotationError, match=match):
            ein.get_at("[v] c, t -> t c", table, make(bad))


def test_unknown_dimensions_in_a_tf_function_are_a_notation_error():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def f(x):
        return ein.sum("a [b]", x)

    with pytest.raises(ein.NotationError, match="unknown size"):
        f(tf.ones((2, 3)))


def test_backend_argument_makes_tensorflow_tensors():
    y = ein.rearrange("a b -> b a", np.ones((2, 3)), backend="tensorflow")
    assert isinstance(y, tf.Tensor) and tuple(y.shape) == (3, 2)


def test_tensorflow_loads_only_when_its_tensors_arrive():
    code = ("import sys, numpy as np; from levante import ein; "
            "ein.add('a, a', np.ones(2), np.ones(2)); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
