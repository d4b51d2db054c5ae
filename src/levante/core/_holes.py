"""`lv._` and `@lv.flexible`: leave arguments open, fill them later, left to right.

`linear(_, _, out=4)` is `linear` waiting for `params` and `x`; calling it with two values
fills the holes in the order they were written. A call that passes holes again
(`partial(_, x)`) gives a partial with the remaining holes. The partial keeps the
function's `__name__`, `__doc__` and `__wrapped__`, and has a signature listing its holes,
so `jax.jit`, `inspect` and editors see a plain function.
"""

from __future__ import annotations

import functools
import inspect


class Hole:
    """The placeholder `lv._`: an argument left open in a call to an `@lv.flexible` function.

    >>> import levante as lv
    >>> lv._
    _
    """

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "_"

    def __reduce__(self):
        return (Hole, ())


_ = Hole()


def _name(f):
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)


def _signature(f):
    try:
        return inspect.signature(f)
    except (TypeError, ValueError):
        return None


class Partial:
    """A call to an `@lv.flexible` function with holes: call it with one value per hole."""

    def __init__(self, func, args, kwargs, signature):
        functools.update_wrapper(self, func)
        self.func, self.args, self.kwargs = func, args, kwargs
        self.holes = sum(a is _ for a in args) + sum(v is _ for v in kwargs.values())
        self.__signature__ = self._holes_signature(signature)

    def _holes_signature(self, signature):
        if signature is None:
            return None
        positional = [p for p in signature.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        holes = []
        for i, a in enumerate(self.args):
            if a is _:
                name = positional[i].name if i < len(positional) else f"arg{i}"
                holes.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY))
        for k, v in self.kwargs.items():
            if v is _:
                holes.append(inspect.Parameter(k, inspect.Parameter.POSITIONAL_ONLY))
        taken = {p.name for p in positional[:len(self.args)]} | set(self.kwargs)
        rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                for p in signature.parameters.values()
                if p.name not in taken and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                and p.default is not inspect.Parameter.empty]
        return inspect.Signature(holes + rest)

    def __call__(self, *values, **kwargs):
        if len(values) != self.holes:
            raise TypeError(
                f"{self!r} has {self.holes} hole{'s' if self.holes != 1 else ''} and got "
                f"{len(values)} argument{'s' if len(values) != 1 else ''}: pass one value "
                "per hole, left to right (and others by keyword)")
        doubled = sorted(set(kwargs) & set(self.kwargs))
        if doubled:
            raise TypeError(f"{self!r} got {doubled[0]!r} again: it is already given")
        values = iter(values)
        args = tuple(next(values) if a is _ else a for a in self.args)
        given = {k: next(values) if v is _ else v for k, v in self.kwargs.items()}
        given.update(kwargs)
        if any(a is _ for a in args) or any(v is _ for v in given.values()):
            return Partial(self.func, args, given, _signature(self.func))
        return self.func(*args, **given)

    def __repr__(self):
        parts = [repr(a) if a is _ else _short(a) for a in self.args]
        parts += [f"{k}={v!r}" if v is _ else f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return f"{_name(self.func)}({', '.join(parts)})"


def _short(value):
    text = repr(value)
    return text if len(text) <= 40 else f"<{type(value).__name__}>"


def flexible(f):
    """Let calls to `f` leave arguments open with `lv._`, to fill later left to right.

    `f(_, _, hidden=4)` returns a partial waiting for two values; a call without holes is
    an ordinary call. Partials nest: calling one with holes again returns a partial with
    the holes that remain. Too many arguments for `f`, or a number of values that is not
    the number of holes, raise `TypeError` naming `f`. The partial keeps `__name__`,
    `__doc__` and `__wrapped__`.

    >>> import levante as lv
    >>> from levante import _
    >>> @lv.flexible
    ... def affine(params, x, scale, shift=0.0):
    ...     "x * scale + shift"
    ...     return x * scale + shift
    >>> f = affine(_, _, 2.0, shift=1.0)
    >>> f
    affine(_, _, 2.0, shift=1.0)
    >>> f(None, 3.0)
    7.0
    >>> g = f(None, _)          # nested: one hole left
    >>> g(5.0), g.__name__, g.__doc__
    (11.0, 'affine', 'x * scale + shift')
    >>> try:
    ...     f(None)
    ... except TypeError as error:
    ...     print(error)
    affine(_, _, 2.0, shift=1.0) has 2 holes and got 1 argument:
    pass one value per hole, left to right (and others by keyword)
    """
    signature = _signature(f)

    @functools.wraps(f)
    def call(*args, **kwargs):
        if not (any(a is _ for a in args) or any(v is _ for v in kwargs.values())):
            return f(*args, **kwargs)
        if signature is not None:
            try:
                signature.bind_partial(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{_name(f)}{signature}: {error}") from None
        return Partial(f, args, kwargs, signature)

    return call
