"""Inputs a user coming from einx 0.4 writes, mistaken or hostile, each checked to give the
value einx 0.4.3 gives or one `NotationError` with a caret under the part that is wrong.

Each case here was once a raw NumPy/JAX/PyTorch error, a message without a caret, or a
value where einx refuses the input.
"""

from __future__ import annotations

import numpy as np
import pytest

from levante import ein

from .test_hardening import BACKENDS, to_backend

einx = pytest.importorskip("einx")
torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy



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


# ---------------------------------------------------------------- operands of two libraries


tf = pytest.importorskip("tensorflow")
xp = pytest.importorskip("array_api_strict")

LIBRARIES = {"numpy": lambda a: a, "jax": jnp.asarray, "torch": torch.tensor,
             "tensorflow": tf.constant, "array_api_strict": xp.asarray}
REFUSED = [("array_api_strict", "numpy"), ("array_api_strict", "jax"), ("jax", "tensorflow"),
           ("torch", "tensorflow"), ("numpy", "torch"), ("jax", "torch")]


@pytest.mark.parametrize(("first", "second"), REFUSED, ids=["-".join(p) for p in REFUSED])
@pytest.mark.parametrize(("op", "expression"), [("add", "a b, a b"),
                                                ("dot", "a b, c b -> a c")])
def test_operands_of_two_libraries_are_a_notation_error(first, second, op, expression):
    # array-api-strict with NumPy or JAX, and JAX with TensorFlow, were TypeErrors of the
    # libraries; NumPy with TensorFlow ran dot on NumPy
    x, y = LIBRARIES[first](np.ones((2, 3))), LIBRARIES[second](np.ones((2, 3)))
    with pytest.raises(ein.NotationError, match="operands mix") as info:
        getattr(ein, op)(expression, x, y)
    assert caret_under(info.value, expression.split(", ")[1].split(" ->")[0])  # the second


@pytest.mark.parametrize("library", ["jax", "tensorflow"])
@pytest.mark.parametrize(("op", "expression"), [("add", "a b, a b"), ("dot", "a b, c b -> a c"),
                                                ("rearrange", "a b, a b -> (a + a) b")])
def test_numpy_operands_join_jax_and_tensorflow_on_their_backend(library, op, expression):
    x = np.arange(6.0).reshape(2, 3)
    expected = getattr(einx, "id" if op == "rearrange" else op)(expression, x, x)
    for pair in [(x, LIBRARIES[library](x)), (LIBRARIES[library](x), x)]:
        y = getattr(ein, op)(expression, *pair)
        assert type(y) is type(LIBRARIES[library](x))
        np.testing.assert_allclose(np.asarray(y), expected)


table = np.arange(12.0).reshape(4, 3)  # [v] c


@pytest.mark.parametrize("library", ["jax", "tensorflow"])
def test_a_numpy_table_indexed_by_jax_or_tensorflow_indices(library):
    # JAX returned a NumPy array for get_at, and set_at called the missing `x.at`
    ids = LIBRARIES[library](np.array([3, 1]))
    read = ein.get_at("[v] c, i -> i c", table, ids)
    assert type(read) is type(ids)
    np.testing.assert_array_equal(np.asarray(read), table[[3, 1]])
    written = ein.set_at("[v] c, i, i c", table, ids, np.ones((2, 3)))
    assert type(written) is type(ids)
    expected = table.copy()
    expected[[3, 1]] = 1
    np.testing.assert_array_equal(np.asarray(written), expected)


def test_a_closed_over_numpy_table_under_jax_jit():
    # the index reached NumPy as a tracer: TracerArrayConversionError
    read = jax.jit(lambda i: ein.get_at("[v] c, i -> i c", table, i))(jnp.array([2]))
    np.testing.assert_array_equal(read, table[[2]])
    added = jax.jit(lambda i: ein.add_at("[v] c, i, i c", table, i, jnp.ones((2, 3))))(
        jnp.array([0, 0]))
    np.testing.assert_array_equal(added[0], table[0] + 2)


# ---------------------------------------------------------------- truth values


LOGICAL = [("any", "a [b]", 1), ("all", "a [b]", 1), ("logical_and", "a b, a b", 2),
           ("logical_or", "a b, a b", 2), ("logical_not", "a b", 1),
           ("where", "a b, a b, a b", 3)]


@pytest.mark.parametrize("library", ["numpy", "jax", "torch", "tensorflow",
                                     "array_api_strict"])
@pytest.mark.parametrize(("op", "expression", "count"), LOGICAL,
                         ids=[op for op, _, _ in LOGICAL])
def test_truth_values_of_numbers_as_in_numpy(library, op, expression, count):
    # TensorFlow's reduce_any/logical_*, the Array API's logical_*/where and torch.where
    # take bools only: each raised its own error for float operands
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    args = (x, np.array([[1.0, 0.0, 0.0], [2.0, 3.0, 0.0]]), -x)[:count]
    y = getattr(ein, op)(expression, *map(LIBRARIES[library], args))
    expected = np.logical_not(x) if op == "logical_not" else getattr(einx, op)(expression, *args)
    np.testing.assert_array_equal(np.asarray(y), expected)


def test_an_unknown_size_in_tf_function_has_a_caret():
    f = tf.function(lambda x: ein.mean("b [t] c", x),
                    input_signature=[tf.TensorSpec([None, 5, 3])], autograph=False)
    with pytest.raises(ein.NotationError, match="unknown size") as info:
        f(tf.zeros((2, 5, 3)))
    assert caret_under(info.value, "b [t] c")


def test_autograph_calls_the_ops_as_they_are():
    # autograph rewrote the whole engine on a first trace (13.8 s against 0.12 s for a
    # softmax of a mean, measured): every op, the alias and the adapters' ops are marked
    # as do_not_convert marks them
    public = [getattr(ein, name) for name in ein.__all__]
    made = [ein.numpy.adapt_numpylike_reduce(np.sum),
            ein.numpy.adapt_numpylike_elementwise(np.hypot),
            ein.jax.adapt_with_vmap(jnp.sum)]
    for op in [f for f in public if callable(f) and not isinstance(f, type)] + made + [ein.id]:
        assert hasattr(op, "autograph_info__"), op

    def f(x):
        return ein.softmax("b [t] c", ein.mean("b t [c] -> b t", x)[..., None] + x)

    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(tf.function(f)(tf.constant(x)).numpy(), f(x), rtol=1e-5)


# ---------------------------------------------------------------- keyword sizes


def test_axes_named_like_the_parameters_take_keyword_sizes():
    # `expression=3` was Python's "got multiple values for argument 'expression'"
    x = np.arange(6.0).reshape(2, 3)
    y = ein.rearrange("a -> a expression", x[0], expression=3)
    np.testing.assert_array_equal(y, einx.id("a -> a expression", x[0], expression=3))
    assert ein.solve("a expression", x, expression=3) == {"a": 2, "expression": 3}
    assert ein.add("a, tensors -> a tensors", x[:, 0], x[0], tensors=3).shape == (2, 3)
    assert ein.dot("a [tensors->b]", x, np.ones((3, 4)), tensors=3).shape == (2, 4)
    assert ein.get_at("[v] c, i -> i c", x, np.array([1]), expression=1).shape == (1, 3)
    assert "x0.sum" in ein.explain("sum", "a [op]", (2, 3), op=3)
    l2 = ein.numpy.adapt_numpylike_elementwise(np.hypot)
    assert l2("a, expression -> a expression", x[:, 0], x[0], expression=3).shape == (2, 3)


# ---------------------------------------------------------------- Python numbers


@pytest.mark.parametrize("library", ["tensorflow", "array_api_strict", "torch", "jax"])
@pytest.mark.parametrize("number", [2.0, 2])
@pytest.mark.parametrize(("op", "expression"), [
    ("maximum", "a b, "), ("minimum", "a b, "), ("logaddexp", "a b, "),
    ("where", "a b, , a b"), ("logical_and", "a b, "), ("logical_or", "a b, ")])
def test_a_number_takes_the_dtype_of_the_tensors_it_meets(library, number, op, expression):
    # TensorFlow made 2.0 a float32 tensor, which tf.math.maximum and tf.where refuse
    # next to float64 (and 2 an int32 next to float); the Array API's logical functions
    # refuse a number next to bools
    y = np.array([[1.0, 0.0, -1.5], [2.0, 3.0, 0.0]])
    args = (y > 0, number, y) if op == "where" else (y, number)
    expected = getattr(einx, op)(expression, *args)
    out = getattr(ein, op)(expression, *[LIBRARIES[library](a) if isinstance(a, np.ndarray)
                                         else a for a in args])
    np.testing.assert_allclose(np.asarray(out).astype(float), expected.astype(float),
                               rtol=1e-6)


# ---------------------------------------------------------------- dot


@pytest.mark.parametrize(("expression", "shapes"), [
    ("a a, a -> a", [(3, 3), (3,)]), ("a a, a ->", [(3, 3), (3,)]),
    ("a a b, b -> a", [(3, 3, 2), (2,)]), ("(a a) c, c d -> a d", [(9, 3), (3, 4)])])
def test_a_diagonal_in_a_dot_is_refused_as_in_einx(expression, shapes):
    # computed as np.einsum('aa,a->a') before; einx 0.4.3 refuses every one
    xs = [np.ones(s) for s in shapes]
    with pytest.raises(einx.errors.SemanticError):
        einx.dot(expression, *xs)
    with pytest.raises(ein.NotationError, match="`a` is written twice in one operand") as info:
        ein.dot(expression, *xs)
    assert caret_under(info.value, "a")
    assert "ein.rearrange('a a -> a', x)" in str(info.value)


# ---------------------------------------------------------------- writes


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("op", "table_dtype", "update_dtype"), [
    ("set_at", "float64", "float32"), ("add_at", "float64", "int64"),
    ("subtract_at", "float32", "float64"), ("set_at", "int64", "float32")])
def test_updates_of_another_dtype_are_converted_on_every_backend(backend, op, table_dtype,
                                                                  update_dtype):
    # torch's index_put refused them ("Index put requires the source and destination
    # dtypes match"); NumPy and JAX convert the updates to the table's dtype
    x = np.arange(12).reshape(4, 3).astype(table_dtype)
    i, u = np.array([1, 1]), np.full((2, 3), 2.5).astype(update_dtype)
    expected = getattr(ein, op)("[v] c, i, i c", x, i, u)
    out = getattr(ein, op)("[v] c, i, i c", *(to_backend(backend, a) for a in (x, i, u)))
    assert out.dtype == to_backend(backend, x).dtype  # (JAX without x64: float32)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)
