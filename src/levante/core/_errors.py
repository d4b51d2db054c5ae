"""The one error type of the functional core, and how messages show parameter paths.

Every message names the parameter path (`encoder/mlp/0/w`), says what went wrong, and ends
with a `tl;dr:` line giving the code to write instead.
"""

from __future__ import annotations


class ParamsError(ValueError):
    """A parameter was declared, used or looked up in a way that cannot work.

    The message names the parameter's path and ends with a `tl;dr:` line saying what to
    write instead.

    >>> import levante as lv
    >>> def broken(params, x):
    ...     return x * params["scale"]          # the tracing object is not an array
    >>> try:
    ...     lv.trace(broken, 0, 2.0)
    ... except lv.ParamsError as error:
    ...     print(str(error).splitlines()[-1])
    tl;dr: w = lv.validate(params['scale'], shape, init=...) and use `w`,
    or pass lv.param(params['scale']) to a notation op
    """


class MissingParamsError(ParamsError, KeyError):
    """Apply time: the model asked for a parameter the params tree does not hold.

    It is a `KeyError` too, and lists the keys that the level does hold.

    >>> import levante as lv
    >>> params = lv.as_params({"encoder": {"w": 1.0}})
    >>> try:
    ...     params["encoder"]["b"]
    ... except KeyError as error:
    ...     print(str(error).splitlines()[0])
    no parameters at 'encoder/b': 'encoder' holds 'w'
    """

    __str__ = Exception.__str__


class ParamsAttributeError(ParamsError, AttributeError):
    """An array attribute (`.shape`, `.T`, ...) asked of the tracing params object."""


def path_text(path):
    """`encoder/mlp/0/w` for the path ('encoder', 'mlp', 0, 'w')."""
    return "/".join(str(k) for k in path)


def quoted(path):
    """The path for a message: `'encoder/w'`, or `the root` for the empty path."""
    return f"'{path_text(path)}'" if path else "the root"


def where(path):
    """The parameter for a message: `params 'encoder/w'`, or `params (the root)`."""
    return f"params '{path_text(path)}'" if path else "params (the root)"


def local(path):
    """How the function that holds this node writes it: `params['w']`, `params[0]`."""
    return f"params[{path[-1]!r}]" if path else "params"


def keys_text(keys):
    """The keys of one level for a message: `'b', 'w'` or `nothing`."""
    return ", ".join(repr(k) for k in keys) if keys else "nothing"


def fail(problem, fix, kind=ParamsError):
    """An error whose message is the problem, then `tl;dr:` and the fix."""
    return kind(f"{problem}\ntl;dr: {fix}")
