"""The one exception type of the notation, and how its messages are laid out.

Every user error raised by `levante.ein` is a `NotationError`. Its message opens with the
reason, then repeats the expression with `^` under the offending part, then lists the input
shapes and the sizes given as keywords, so that the user sees their own words.
"""

from __future__ import annotations


class NotationError(ValueError):
    """A notation expression does not fit its operands (or is not a valid expression).

    >>> from levante import ein
    >>> import numpy as np
    >>> try:
    ...     ein.sum("a [b]", np.ones((2, 3, 4)))
    ... except ein.NotationError as error:
    ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
    the expression has 2 axes but operand 1 has rank 3: write one name per dimension
    (or `...` for the rest)
        a [b]
        ^^^^^
      operand shapes: (2, 3, 4)
    """

    def __init__(self, reason, expression=None, span=None, shapes=None, sizes=None):
        self.reason = reason
        self.expression = expression
        if span is None and isinstance(expression, str):
            # a mistake in the call as a whole (a dtype, a backend name): the caret goes
            # under the whole expression, so that every message shows where
            span = (0, max(1, len(expression)))
        self.span = span
        self.shapes = shapes
        self.sizes = sizes
        super().__init__(self._render())

    def _render(self):
        lines = [self.reason]
        if self.expression is not None:
            lines.append(f"    {self.expression}")
            if self.span is not None:
                start, stop = self.span
                lines.append("    " + " " * start + "^" * max(1, stop - start))
        if self.shapes is not None:
            shown = ", ".join(_describe(s) for s in self.shapes) or "none"
            lines.append(f"  operand shapes: {shown}")
        if self.sizes:
            given = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
            lines.append(f"  given sizes: {given}")
        return "\n".join(lines)

    def with_context(self, expression, shapes, sizes):
        """The same error, completed with the call's expression, shapes and sizes."""
        if self.expression is not None and self.shapes is not None:
            return self
        return type(self)(
            self.reason,
            self.expression if self.expression is not None else expression,
            self.span,
            shapes,
            sizes,
        )


class NotationSyntaxError(NotationError):
    """The expression is not well formed: unknown characters, unbalanced brackets, ..."""


class NotationRankError(NotationError):
    """An operand's rank does not match its expression, or the operand count is wrong."""


class NotationSizeError(NotationError):
    """Axis sizes conflict, do not divide, or cannot be determined."""


def _describe(shape):
    if shape is None:
        return "scalar"
    if isinstance(shape, str):
        return shape
    return str(tuple(shape))
