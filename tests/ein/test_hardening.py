"""The notation never returns a wrong value: indices, concatenations, hostile sizes, plans.

Each input below was once a silently wrong result or a raw exception; each is now either
the right value (checked against NumPy) or a `NotationError` that names the problem.
"""

from __future__ import annotations

import numpy as np
import pytest

from levante import ein

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jnp = jax.numpy

table = np.arange(30.0).reshape(10, 3)  # [v] c
v6 = np.zeros(6)

INT_DTYPES = ["uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64"]


def to_backend(name, x):
    if name == "numpy":
        return x
    if name == "jax":
        return jnp.asarray(x)
    return torch.from_numpy(np.ascontiguousarray(x))


BACKENDS = ["numpy", "jax", "torch"]


# ---------------------------------------------------------------- indices


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_get_at_gives_the_same_rows_for_every_integer_dtype(backend, dtype):
    signed = np.dtype(dtype).kind == "i"
    ids = np.array([1, 2, 3, -4] if signed else [1, 2, 3, 4]).astype(dtype)
    want = table[ids.astype(np.int64)]  # 4 rows, never a mask
    got = ein.get_at("[v] c, t -> t c", to_backend(backend, table), to_backend(backend, ids))
    assert tuple(got.shape) == (4, 3)
    np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int64"])
def test_set_and_add_at_give_the_same_values_for_every_integer_dtype(backend, dtype):
    ids = np.array([1, 1, 7]).astype(dtype)
    updates = np.ones((3, 3))
    added = np.zeros((10, 3))
    np.add.at(added, ids.astype(np.int64), updates)
    got = ein.add_at("[v] c, t, t c", to_backend(backend, np.zeros((10, 3))),
                     to_backend(backend, ids), to_backend(backend, updates))
    np.testing.assert_array_equal(np.asarray(got), added)
    written = np.zeros((10, 3))
    written[[1, 7]] = 1.0
    got = ein.set_at("[v] c, t, t c", to_backend(backend, np.zeros((10, 3))),
                     to_backend(backend, ids), to_backend(backend, updates))
    np.testing.assert_array_equal(np.asarray(got), written)


def test_a_wide_axis_indexed_by_a_narrow_negative_dtype():
    # JAX would compute i + 300 in int8; the backend widens the indices first
    x = np.arange(300)
    ids = np.array([-1, -100, 5], np.int8)
    for backend in BACKENDS:
        got = ein.get_at("[v], i -> i", to_backend(backend, x), to_backend(backend, ids))
        np.testing.assert_array_equal(np.asarray(got), [299, 200, 5])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ids", [np.array([0.0, 1.0]), np.array([True, False, True]),
                                 np.array([1.5])], ids=["float", "bool", "fraction"])
def test_float_or_bool_indices_are_notation_errors(backend, ids):
    with pytest.raises(ein.NotationError, match="indices are integers"):
        ein.get_at("[v], i -> i", to_backend(backend, np.arange(3.0)), to_backend(backend, ids))


@pytest.mark.parametrize("index", [True, 1.0, 0.5])
def test_python_bool_or_float_index_is_a_notation_error(index):
    # a bool used to index as a mask: shape (1, 3) for what should be a scalar
    with pytest.raises(ein.NotationError, match="an index is an integer"):
        ein.get_at("[v], -> ", np.zeros(3), index)


def test_scalar_index_gives_a_scalar():
    got = ein.get_at("[v], -> ", np.arange(3.0), 2)
    assert np.shape(got) == () and got == 2.0
    assert ein.get_at("[v], -> ", np.arange(3.0), np.int64(-1)) == 2.0
    assert ein.get_at("[v], -> ", torch.arange(3.0), 1).item() == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [3, -4, 100])
def test_out_of_range_indices_are_notation_errors_on_every_backend(backend, bad):
    x = to_backend(backend, np.arange(3.0))
    ids = to_backend(backend, np.array([0, bad]))
    for call in (lambda: ein.get_at("[v], i -> i", x, ids),
                 lambda: ein.set_at("[v], i, i", x, ids, to_backend(backend, np.ones(2))),
                 lambda: ein.add_at("[v], i, i", x, ids, to_backend(backend, np.ones(2)))):
        with pytest.raises(ein.NotationError, match=f"index {bad} is out of range") as info:
            call()
        assert "[v], i" in str(info.value) and "^" in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_indices_count_from_the_end_as_in_einx(backend):
    einx = pytest.importorskip("einx")
    x, ids = np.arange(3.0) * 10, np.array([-1, -3, 0])
    got = ein.get_at("[v], i -> i", to_backend(backend, x), to_backend(backend, ids))
    np.testing.assert_array_equal(np.asarray(got), [20.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(got), np.asarray(einx.get_at(
        "[v], i -> i", to_backend(backend, x), to_backend(backend, ids))))


def test_coordinates_are_checked_axis_by_axis():
    x = np.zeros((3, 4))
    with pytest.raises(ein.NotationError, match="axis `w` of size 4"):
        ein.add_at("[h w], p [2], p", x, np.array([[2, 4]]), np.ones(1))
    got = ein.get_at("[h w], p [2] -> p", np.arange(12).reshape(3, 4), np.array([[2, 3], [-1, 0]]))
    np.testing.assert_array_equal(got, [11, 8])


def test_indices_under_jit_stay_one_gather():
    # values unknown under jit: no check, and the program is the hand-written one
    f = jax.jit(lambda t, i: ein.get_at("[v] c, b -> b c", t, i))
    hand = jax.jit(lambda t, i: t[i])
    t, i = jnp.asarray(table), jnp.array([1, 2], jnp.int32)
    assert str(jax.make_jaxpr(f)(t, i)) == str(jax.make_jaxpr(hand)(t, i))


def test_out_of_range_indices_under_jit_follow_jax_indexing():
    """What the README says: under jit a read clamps (after negatives count from the end),
    where einx 0.4.3 reads NaN; a write out of range is dropped, as in einx."""
    einx = pytest.importorskip("einx")
    t = jnp.arange(4.0) * 10
    i = jnp.array([-6, -5, -4, -1, 0, 3, 4, 7])
    got = jax.jit(lambda t, i: ein.get_at("[v], i -> i", t, i))(t, i)
    np.testing.assert_array_equal(np.asarray(got), [0, 0, 0, 30, 0, 30, 30, 30])
    np.testing.assert_array_equal(np.asarray(got), np.asarray(jax.jit(lambda t, i: t[i])(t, i)))
    theirs = jax.jit(lambda t, i: einx.get_at("[v], i -> i", t, i))(t, i)
    assert np.isnan(np.asarray(theirs)[[0, 1, 6, 7]]).all()
    far, u = jnp.array([-6, 5, 7, 1]), jnp.array([1.0, 2.0, 3.0, 4.0])
    for op in ("set_at", "add_at"):
        mine = jax.jit(lambda t, i, u, op=op: getattr(ein, op)("[v], i, i", t, i, u))(t, far, u)
        theirs = jax.jit(lambda t, i, u, op=op: getattr(einx, op)("[v], i, i -> [v]", t, i,
                                                                  u))(t, far, u)
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
        np.testing.assert_array_equal(np.asarray(mine),
                                      [0, 4 if op == "set_at" else 14, 20, 30])


def test_torch_compile_reads_indices_of_any_dtype():
    f = torch.compile(lambda t, i: ein.get_at("[v] c, b -> b c", t, i))
    ids = torch.tensor([1, 2, 3, 4], dtype=torch.uint8)
    np.testing.assert_array_equal(f(torch.from_numpy(table), ids).numpy(), table[1:5])


# ---------------------------------------------------------------- concatenations


def test_a_concatenated_output_of_dot_is_an_error_like_einx():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2)
    with pytest.raises(ein.NotationError, match="only understood by rearrange") as info:
        ein.dot("a b, b c -> (a + c)", a, b)  # once (A @ B).ravel()
    assert "^^^^^^^" in str(info.value)
    with pytest.raises(ein.NotationError, match="only understood by rearrange"):
        ein.dot("a b, b c -> (a + c)", a, np.ones((3, 5)))  # once a raw ValueError


@pytest.mark.parametrize("shape", [(2, 2), (2, 3)])
def test_a_concatenated_output_of_an_elementwise_op_is_an_error(shape):
    with pytest.raises(ein.NotationError, match="only understood by rearrange"):
        ein.add("a b, b -> (a + b)", np.ones(shape), np.zeros(shape[1]))  # once x.ravel()


@pytest.mark.parametrize("call", [
    lambda: ein.sum("a b -> (a + 1)", np.ones((2, 3))),
    lambda: ein.softmax("a [b] -> (a + b)", np.ones((2, 2))),
    lambda: ein.get_at("[v] c, t -> (t + c)", table, np.zeros(3, int)),
    lambda: ein.arange("(a + b)", a=2, b=3),
], ids=["sum", "softmax", "get_at", "arange"])
def test_a_concatenated_output_is_an_error_on_every_op_but_rearrange(call):
    with pytest.raises(ein.NotationError, match="only understood by rearrange"):
        call()


def test_rearrange_still_concatenates():
    got = ein.rearrange("a, b -> (a + b)", np.arange(2), np.arange(3))
    np.testing.assert_array_equal(got, [0, 1, 0, 1, 2])


# ---------------------------------------------------------------- hostile sizes and shapes


@pytest.mark.parametrize("size", [float("inf"), float("nan"), 2**63, 10**30, -1, 2.5, "3",
                                  None, 1j, [2**70], True, np.True_],
                         ids=["inf", "nan", "2**63", "10**30", "negative", "fraction",
                              "string", "none", "complex", "list", "True", "np.True_"])
def test_hostile_sizes_are_notation_errors_naming_the_size(size):
    with pytest.raises(ein.NotationError) as info:
        ein.rearrange("a -> a b", v6, b=size)
    assert "`b`" in str(info.value)


def test_a_size_too_large_for_any_array_names_the_axes():
    with pytest.raises(ein.NotationError, match="more than 2\\*\\*63 - 1 elements"):
        ein.rearrange("a -> a b c", v6, b=2**40, c=2**40)
    assert ein.rearrange("a -> a b", v6, b=2**40).shape == (6, 2**40)  # a broadcast view


def test_seventy_unit_axes_are_a_rank_error():
    with pytest.raises(ein.NotationRankError, match="at most 64"):
        ein.rearrange("a -> a " + "1 " * 70, v6)
    with pytest.raises(ein.NotationRankError, match="at most 64"):
        ein.rearrange("a -> a s...", v6, s=(1,) * 70)


@pytest.mark.parametrize("opening", ["(", "["])
def test_deep_nesting_is_a_syntax_error(opening):
    closing = {"(": ")", "[": "]"}[opening]
    with pytest.raises(ein.NotationSyntaxError, match="nested"):
        ein.sum("a -> " + opening * 400 + "a" + closing * 400, v6)
    with pytest.raises(ein.NotationSyntaxError, match="nested more than 32"):
        ein.rearrange("a -> " + "(" * 400 + "a" + ")" * 400, v6)


def test_moderate_nesting_still_works():
    assert ein.rearrange("a -> " + "(" * 20 + "a" + ")" * 20, v6).shape == (6,)


# ---------------------------------------------------------------- nothing becomes source text


def test_a_crafted_dtype_never_runs(tmp_path):
    marker = tmp_path / "ran"
    crafted = f"int32); open({str(marker)!r}, 'w').close(); (np.int32"
    for call in (lambda: ein.explain("arange", "n", n=3, dtype=crafted),
                 lambda: ein.arange("n", n=3, dtype=crafted)):
        with pytest.raises(ein.NotationError, match="arange makes"):
            call()
    assert not marker.exists()


class Sneaky(int):
    """An int whose text is code: only its value may reach a plan."""

    def __repr__(self):
        return "__import__('os').getcwd()"

    __str__ = __repr__


def test_values_reach_plans_as_plain_ints():
    assert "getcwd" not in ein.explain("rearrange", "a -> a b", (6,), b=Sneaky(2))
    assert "getcwd" not in ein.explain("roll", "[a]", (6,), shift=Sneaky(1))
    assert "getcwd" not in ein.explain("rearrange", "a b -> b a", (Sneaky(2), 3))
    np.testing.assert_array_equal(ein.roll("[a]", np.arange(3), shift=Sneaky(1)), [2, 0, 1])


@pytest.mark.parametrize("call", [
    lambda: ein.explain("roll", "[a]", (6,), shift="1); import os; (1"),
    lambda: ein.explain("rearrange", "a -> a", ("6); import os; (1",)),
    lambda: ein.explain("rearrange", "a -> a", (6.5,)),
    lambda: ein.explain("rearrange", "a -> a", (6,), backend="numpy; import os"),
    lambda: ein.explain("arange", "n", n=3, backend="os"),
], ids=["shift", "shape-string", "shape-float", "backend", "arange-backend"])
def test_explain_rejects_values_that_are_not_ints_or_names(call):
    with pytest.raises(ein.NotationError):
        call()


def test_the_plan_check_rejects_foreign_source():
    from levante.ein._writer import compile_plan

    for source in ("def f(x0):\n    t1 = __import__('os')\n    return t1\n",
                   "def f(x0):\n    t1 = x0.__class__\n    return t1\n",
                   "def f(x0):\n    t1 = x0 + 'text; rm'\n    return t1\n",
                   "def f(x0):\n    import os\n    return x0\n"):
        with pytest.raises(ein.NotationError, match="cannot be part of its plan"):
            compile_plan(source, {"np": np}, "f")


# ---------------------------------------------------------------- repeated bracketed axes


def test_a_bracketed_axis_written_twice_is_two_axes_of_one_size():
    x = np.arange(12.0).reshape(2, 2, 3)
    np.testing.assert_array_equal(ein.sum("[a a] b", x), x.sum((0, 1)))  # not the trace
    np.testing.assert_array_equal(ein.rearrange("a a b -> a b", x), [x[0, 0], x[1, 1]])
    with pytest.raises(ein.NotationSizeError, match="written twice"):
        ein.sum("[a a] b", np.ones((2, 3, 4)))


def test_argmax_over_a_diagonal_batch_and_a_repeated_bracket():
    y = np.random.default_rng(0).normal(size=(2, 2, 3, 3, 4))
    diagonal = np.stack([y[i, i] for i in range(2)])  # b h h c
    flat = diagonal.reshape(2, 9, 4).argmax(1)  # b c
    want = np.stack(np.unravel_index(flat, (3, 3)), -1).transpose(1, 0, 2)  # c b 2
    np.testing.assert_array_equal(ein.argmax("b b [h h] c -> c b [2]", y), want)


def test_a_negative_index_with_batch_axes_counts_from_the_end_of_its_own_row():
    # x[b, p, i[b, p]], as NumPy reads it (einx 0.4.3 reads the previous row's last entry)
    x, i = np.arange(24.0).reshape(2, 3, 4), np.array([[0, 3, 1], [2, 2, -1]])
    want = np.take_along_axis(x, (i % 4)[..., None], -1)[..., 0]
    np.testing.assert_array_equal(ein.get_at("b p [i,->]", x, i), want)
    np.testing.assert_array_equal(ein.get_at("b p [i], b p -> b p", x, i), want)
