"""What a backend is: the text of each primitive call, written in that library's words.

A plan is Python source that calls the backend directly (`x0.transpose((0, 2, 1))`,
`jnp.einsum(...)`), compiled once per (op, expression, shapes, sizes, backend). A backend
only knows how to *write* each primitive; `namespace()` gives the names that text uses.
The base class writes NumPy-style calls through the module alias `self.xp`; JAX shares
them, PyTorch overrides what differs.
"""

from __future__ import annotations

from .._errors import NotationError

REDUCTIONS = ("sum", "mean", "var", "std", "prod", "max", "min", "logsumexp", "any", "all",
              "count_nonzero")

# elementwise ops written as Python operators work the same on every backend
OPERATORS = {
    "add": "{0} + {1}",
    "subtract": "{0} - {1}",
    "multiply": "{0} * {1}",
    "divide": "{0} / {1}",
    "true_divide": "{0} / {1}",
    "floor_divide": "{0} // {1}",
    "power": "{0} ** {1}",
    "less": "{0} < {1}",
    "less_equal": "{0} <= {1}",
    "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}",
    "equal": "{0} == {1}",
    "not_equal": "{0} != {1}",
}


class Backend:
    """Writes primitive calls as NumPy-style source text through the alias `xp`."""

    name = "numpy"
    xp = "np"

    def namespace(self):
        raise NotImplementedError

    def asarray(self, x):
        """A NumPy array as this backend's tensor (for `backend=`)."""
        return x

    def wrap(self, plan):
        """The compiled plan as the library wants to call it (unchanged by default)."""
        return plan

    def scalar(self, x):
        """Source text making a tensor of a Python number (which has no .reshape)."""
        return f"{self.xp}.asarray({x})"

    # -- layout
    def reshape(self, x, shape):
        return f"{x}.reshape({tuple(shape)!r})"

    def transpose(self, x, perm):
        return f"{x}.transpose({tuple(perm)!r})"

    def broadcast_to(self, x, shape):
        return f"{self.xp}.broadcast_to({x}, {tuple(shape)!r})"

    def concatenate(self, xs, axis):
        return f"{self.xp}.concatenate([{', '.join(xs)}], axis={axis})"

    def stack(self, xs, axis):
        return f"{self.xp}.stack([{', '.join(xs)}], axis={axis})"

    def einsum(self, spec, xs):
        optimize = ", optimize=True" if len(xs) > 2 else ""
        return f"{self.xp}.einsum({spec!r}, {', '.join(xs)}{optimize})"

    # -- reductions over a tuple of axes
    def reduce(self, kind, x, axes, keepdims):
        keep = ", keepdims=True" if keepdims else ""
        if kind == "logsumexp":
            return f"_logsumexp({x}, axis={tuple(axes)!r}{keep})"
        if kind == "count_nonzero":
            return f"{self.xp}.count_nonzero({x}, axis={tuple(axes)!r}{keep})"
        return f"{self.xp}.{kind}({x}, axis={tuple(axes)!r}{keep})"

    # -- elementwise
    def number(self, x, like=None):
        """A Python number operand as something the elementwise call takes (as it is);
        `like` is a tensor operand of the same call, or None."""
        return None

    def elementwise(self, kind, xs):
        if kind in OPERATORS:
            return OPERATORS[kind].format(*xs)
        return f"{self.xp}.{kind}({', '.join(xs)})"

    # -- along axes
    def softmax(self, kind, x, axes):
        return f"_{kind}({x}, axis={tuple(axes)!r})"

    def roll(self, x, shifts, axes):
        return f"{self.xp}.roll({x}, {tuple(shifts)!r}, axis={tuple(axes)!r})"

    def flip(self, x, axes):
        return f"{self.xp}.flip({x}, axis={tuple(axes)!r})"

    def sort(self, kind, x, axis):
        return f"{self.xp}.{kind}({x}, axis={axis})"

    def arg(self, kind, x, axis):
        return f"{self.xp}.{kind}({x}, axis={axis})"

    def arange(self, n, dtype):
        return f"{self.xp}.arange({n}, dtype={self.xp}.{dtype})"

    def astype(self, x, dtype):
        return f"{x}.astype({self.xp}.{dtype})"

    # -- indexing
    def index(self, i, size, where):
        """An index array made safe to use: checked integers in range (see `check_index`)."""
        return f"_index({i}, {int(size)}, {where})"

    def gather(self, x, index):
        return f"{x}[{', '.join(index)}]"

    def scatter(self, kind, x, index, update):
        """Lines that write `update` into a copy of `x` at `index`; returns (lines, result)."""
        raise NotImplementedError


# ---------------------------------------------------------------- index checks at run time


class IndexContext:
    """What an index check names in its error: the call's expression, the span of the
    index operand, the indexed axis and the operand shapes (known when the plan is made)."""

    __slots__ = ("axis", "shapes", "sizes", "span", "text")

    def __init__(self, text, span, axis, shapes, sizes):
        self.text, self.span, self.axis, self.shapes, self.sizes = text, span, axis, shapes, sizes

    def error(self, reason):
        return NotationError(reason, self.text, self.span, self.shapes, self.sizes)


def check_python_index(i, n, where):
    """A Python number used as an index: an int in [-n, n)."""
    if isinstance(i, bool) or not isinstance(i, int):
        raise where.error(f"the index for axis `{where.axis}` is {i!r}; an index is an integer "
                          "(or a tensor of integers)")
    check_bounds(i, i, n, where)
    return i


def dtype_error(dtype, where):
    kind = "booleans (a mask)" if "bool" in str(dtype) else str(dtype)
    return where.error(f"the indices for axis `{where.axis}` are {kind}; indices are integers: "
                       "convert them with .astype(int) (or mask with ein.where)")


def check_bounds(low, high, n, where):
    """Indices count from the start, or from the end when negative (as in NumPy and einx):
    every one must lie in [-n, n). Out of range is an error, never clamped or wrapped."""
    if low < -n or high >= n:
        bad = low if low < -n else high
        raise where.error(f"index {bad} is out of range for axis `{where.axis}` of size {n}: "
                          f"indices run from {-n} to {n - 1} (negative ones count from the end)")
