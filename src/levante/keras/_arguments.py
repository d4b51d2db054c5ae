"""Checks shared by the layers: each failure names the argument and the layer."""

from __future__ import annotations

import numbers

from ._errors import LayerError


def integer(value, name, owner, minimum=None):
    """`value` as a Python int (not a bool), at least `minimum`."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise LayerError(f"{owner}: {name}={value!r} must be an int")
    if minimum is not None and value < minimum:
        raise LayerError(f"{owner}: {name}={value!r} must be at least {minimum}")
    return int(value)


def positive_number(value, name, owner):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not value > 0):
        raise LayerError(f"{owner}: {name}={value!r} must be a positive number")
    return float(value)


def boolean(value, name, owner):
    if not isinstance(value, bool):
        raise LayerError(f"{owner}: {name}={value!r} must be True or False")
    return value


def axis(value, rank, name, owner):
    """A position in a tensor of rank `rank`, counted from the end when negative. An axis
    outside the rank is an error, never wrapped around (mlable takes it modulo the rank)."""
    if not -rank <= value < rank:
        raise LayerError(f"{owner}: {name}={value} is outside the rank {rank} "
                         f"(axes run from {-rank} to {rank - 1})")
    return value % rank


def distinct(first, second, names, owner):
    """Two axes written as the same int are the same axis at every rank: an error as soon as
    the layer is made (other pairs, such as 2 and -2, depend on the rank: checked in call)."""
    if first == second:
        raise LayerError(f"{owner}: {names[0]}={first} and {names[1]}={second} are the same "
                         "axis")


def static_size(size):
    """A dimension known while building, or None (a symbolic batch or sequence size)."""
    return size if isinstance(size, numbers.Integral) else None
