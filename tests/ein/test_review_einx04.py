"""Inputs a user coming from einx 0.4 writes, mistaken or hostile, each checked to give the
value einx 0.4.3 gives or one `NotationError` with a caret under the part that is wrong.

Each case here was once a raw NumPy/JAX/PyTorch error, a message without a caret, or a
value where einx refuses the input.
"""

from __future__ import annotations

import numpy as np
import pytest

from levante import ein

einx = pytest.importorskip("einx")
torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy


def to_backend(name, x):
    if name == "numpy":
        return x
    if name == "jax":
        return jnp.asarray(x)
    return torch.from_numpy(np.ascontiguousarray(x))


BACKENDS = ["numpy", "jax", "torch"]


def caret_under(error, part):
    """The caret line of a rendered error points at `part` of the expression."""
    lines = str(error).splitlines()
    row = next(i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"^"})
    expression, carets = lines[row - 1], lines[row]
    start = carets.index("^")
    return expression[start:start + len(carets.strip())] == part


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize("size", [2.0, np.float32(2), np.float64(2.0)],
                         ids=["float", "float32", "float64"])
def test_a_whole_float_is_no_size_as_in_einx(size):
    x = np.arange(6.0)
    with pytest.raises(ValueError):  # einx 0.4.3 refuses it too
        einx.id("(a b) -> a b", x, a=size)
    with pytest.raises(ein.NotationSizeError, match=r"`a` is .*write int\("):
        ein.rearrange("(a b) -> a b", x, a=size)
    with pytest.raises(ein.NotationSizeError, match="`s`"):
        ein.rearrange("b s... -> b (s...)", np.zeros((2, 3, 4)), s=(3, 4.0))


@pytest.mark.parametrize("size", [np.int64(2), np.int8(2), np.array(2)],
                         ids=["int64", "int8", "0-d array"])
def test_integer_scalars_of_any_library_are_sizes(size):
    x = np.arange(6.0)
    np.testing.assert_array_equal(ein.rearrange("(a b) -> a b", x, a=size),
                                  einx.id("(a b) -> a b", x, a=2))
    assert ein.rearrange("(a b) -> a b", x, a=torch.tensor(2)).shape == (2, 3)
    assert ein.rearrange("(a b) -> a b", x, a=jnp.int32(2)).shape == (2, 3)


# ---------------------------------------------------------------- empty axes


EMPTY = [("max", "a [b]", (2, 0), "b"), ("min", "[a] b", (0, 2), "a"),
         ("max", "a b -> a", (2, 0), "b"), ("logsumexp", "a [b]", (2, 0), "b"),
         ("max", "(a [b]) c", (0, 3), "b"), ("softmax", "a [b]", (2, 0), "b"),
         ("log_softmax", "a [b c]", (2, 3, 0), "c"), ("argmax", "a [b]", (2, 0), "b"),
         ("argmin", "[a b]", (0, 0), "a"), ("argmin", "[a b]", (0, 3), "a")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("op", "expression", "shape", "axis"), EMPTY,
                         ids=[f"{op}-{e}-{s}" for op, e, s, _ in EMPTY])
def test_ops_without_a_value_over_an_empty_axis_name_it(backend, op, expression, shape, axis):
    # NumPy raised "zero-size array to reduction operation", JAX a ValueError, PyTorch an
    # IndexError, and argmin over [a b] a ZeroDivisionError in the plan
    x = to_backend(backend, np.zeros(shape))
    with pytest.raises(ein.NotationSizeError, match=f"axis `{axis}` of size 0") as info:
        getattr(ein, op)(expression, x, a=2) if "(a" in expression else \
            getattr(ein, op)(expression, x)
    assert caret_under(info.value, axis)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reductions_with_a_value_over_an_empty_axis_still_return_it(backend):
    x = to_backend(backend, np.zeros((2, 0)))
    np.testing.assert_array_equal(np.asarray(ein.sum("a [b]", x)), np.zeros(2))
    np.testing.assert_array_equal(np.asarray(ein.max("[a] b", x)), np.zeros(0))
    assert tuple(ein.argmax("[a] b", x).shape) == (1, 0)


# ---------------------------------------------------------------- carets


@pytest.mark.parametrize("dtype", ["bool", "complex64", "foo"])
def test_a_bad_arange_dtype_has_a_caret(dtype):
    with pytest.raises(ein.NotationError, match="integer or float dtype") as info:
        ein.arange("h w [2]", h=2, w=3, dtype=dtype)
    assert caret_under(info.value, "h w [2]")


def test_a_bad_backend_name_has_a_caret():
    with pytest.raises(ein.NotationError, match="unknown backend") as info:
        ein.arange("n", n=3, backend="cupy")
    assert caret_under(info.value, "n")
