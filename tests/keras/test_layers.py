"""levante.keras in the test process, on Keras' JAX backend: every check of _keras_checks.py."""

import _keras_checks as _checks
import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levante import nets
from levante.keras.layers import Divide, Merge


def test_the_backend_is_jax():
    assert keras.backend.backend() == "jax", "KERAS_BACKEND was set before this suite ran"


@pytest.mark.parametrize("check", _checks.CHECKS, ids=[c.__name__ for c in _checks.CHECKS])
def test_check(check):
    check()


@st.composite
def _divisions(draw):
    """(input, Divide settings) where the factor divides the input axis."""
    rank = draw(st.integers(2, 4))
    insert = draw(st.booleans())
    result_rank = rank + int(insert)
    source, target = draw(st.lists(st.integers(0, result_rank - 1), min_size=2, max_size=2,
                                   unique=True))
    factor = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    present = [i for i in range(result_rank) if not (insert and i == target)]
    shape[present.index(source)] *= factor
    # axes written from the end half the time
    negative = draw(st.booleans())
    source, target = (source - result_rank, target - result_rank) if negative else (source,
                                                                                    target)
    x = np.arange(np.prod(shape), dtype="float32").reshape(shape)
    return x, dict(input_axis=source, output_axis=target, factor=factor, insert=insert)


@settings(max_examples=25, deadline=None)
@given(_divisions())
def test_divide_is_nets_divide_and_merge_undoes_it(case):
    """Property: Divide gives nets.divide's values, and a Merge of the factor's two places
    gives the input back when the output axis was inserted next to the input axis."""
    x, arguments = case
    y = _checks.numpy(Divide(**arguments)(x))
    np.testing.assert_array_equal(y, np.asarray(nets.divide(x, **arguments)))
    rank = y.ndim
    source, target = arguments["input_axis"] % rank, arguments["output_axis"] % rank
    if arguments["insert"] and abs(source - target) == 1:
        back = Merge(left_axis=min(source, target), right_axis=max(source, target),
                     left=True)(y)
        np.testing.assert_array_equal(_checks.numpy(back), x)
