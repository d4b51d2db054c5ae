"""Relative reshaping: move a factor from one axis to another (`divide`), or join two
axes into one (`merge`), named by position like mlable's helpers.

mlable reinterprets memory with a plain reshape, which scrambles values when the axes are
not adjacent. Here the values are always those of the equivalent `ein.rearrange`:

    divide, input before output:  ... (a f) ... c ...  ->  ... a ... (f c) ...
    divide, input after output:   ... c ... (f a) ...  ->  ... (c f) ... a ...
    merge:                        ... l ... r ...      ->  ... (l r) ...  at l's or r's place

For adjacent axes this is exactly a plain reshape; `insert=True` makes the output axis a new
axis of size `factor` instead of growing an existing one.
"""

from __future__ import annotations

from levante import ein

from ._errors import NetsError


def _axis(axis, rank, name):
    if not -rank <= axis < rank:
        raise NetsError(f"{name}={axis} is outside the rank {rank}")
    return axis % rank


def divide(x, input_axis, output_axis, factor, insert=False):
    """Divide `input_axis` by `factor` and multiply `output_axis` by it.

    Both axes are positions in the *result* (they only differ from the input's when
    `insert=True` adds the output axis).

    >>> import numpy as np
    >>> divide(np.ones((2, 4, 6, 8)), input_axis=2, output_axis=-1, factor=3).shape
    (2, 4, 2, 24)
    >>> divide(np.arange(6).reshape(1, 6), input_axis=1, output_axis=2, factor=3,
    ...        insert=True).tolist()
    [[[0, 1, 2], [3, 4, 5]]]
    """
    rank = x.ndim + (1 if insert else 0)
    source, target = _axis(input_axis, rank, "input_axis"), _axis(output_axis, rank,
                                                                  "output_axis")
    if source == target:
        raise NetsError("divide: input_axis and output_axis must differ")
    if not isinstance(factor, int) or factor < 1:
        raise NetsError(f"divide: factor must be a positive int, got {factor!r}")
    result_names = [f"a{i}" for i in range(rank)]
    inputs = [n for i, n in enumerate(result_names) if not (insert and i == target)]
    size = x.shape[inputs.index(result_names[source])]
    if size % factor:
        raise NetsError(f"divide: axis {input_axis} has size {size}, which {factor} does not "
                        "divide")
    right = source < target
    left_side = [(f"({n} f)" if right else f"(f {n})") if n == result_names[source] else n
                 for n in inputs]
    out = []
    for i, n in enumerate(result_names):
        if i == target:
            out.append("f" if insert else (f"(f {n})" if right else f"({n} f)"))
        else:
            out.append(n)
    return ein.rearrange(f"{' '.join(left_side)} -> {' '.join(out)}", x, f=factor)


def merge(x, left_axis, right_axis, left=True):
    """Join `left_axis` (outer) and `right_axis` (inner) into one axis, placed where
    `left_axis` was (`left=True`) or where `right_axis` was.

    >>> import numpy as np
    >>> merge(np.ones((2, 4, 6, 8)), left_axis=1, right_axis=-1, left=False).shape
    (2, 6, 32)
    >>> merge(np.arange(6).reshape(2, 3), 0, 1).tolist()
    [0, 1, 2, 3, 4, 5]
    """
    rank = x.ndim
    outer, inner = _axis(left_axis, rank, "left_axis"), _axis(right_axis, rank, "right_axis")
    if outer == inner:
        raise NetsError("merge: left_axis and right_axis must differ")
    names = [f"a{i}" for i in range(rank)]
    place = outer if left else inner
    out = []
    for i, n in enumerate(names):
        if i == place:
            out.append(f"({names[outer]} {names[inner]})")
        elif i not in (outer, inner):
            out.append(n)
    return ein.rearrange(f"{' '.join(names)} -> {' '.join(out)}", x)
