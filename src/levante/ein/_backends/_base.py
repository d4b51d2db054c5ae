"""What a backend is: the text of each primitive call, written in that library's words.

A plan is Python source that calls the backend directly (`x0.transpose((0, 2, 1))`,
`jnp.einsum(...)`), compiled once per (op, expression, shapes, sizes, backend). A backend
only knows how to *write* each primitive; `namespace()` gives the names that text uses.
The base class writes NumPy-style calls through the module alias `self.xp`; JAX shares
them, PyTorch overrides what differs.
"""

from __future__ import annotations

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
    def gather(self, x, index):
        return f"{x}[{', '.join(index)}]"

    def scatter(self, kind, x, index, update):
        """Lines that write `update` into a copy of `x` at `index`; returns (lines, result)."""
        raise NotImplementedError
