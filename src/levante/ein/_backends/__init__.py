"""Backends, chosen from the operands' types; JAX and PyTorch load only when theirs arrive."""

from __future__ import annotations

import importlib

_MODULES = {"numpy": "_numpy", "jax": "_jax", "torch": "_torch"}
BACKENDS = tuple(_MODULES)
_LOADED = {}
_BY_TYPE = {}  # type -> backend name, or None for Python scalars


def load(name):
    """The backend called `name` (`numpy`, `jax` or `torch`), imported on first use."""
    backend = _LOADED.get(name)
    if backend is None:
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        backend = _LOADED[name] = module.BACKEND
    return backend


def kind_of(value):
    """`numpy`, `jax`, `torch` for a tensor, None for a Python scalar, `?` otherwise."""
    cls = type(value)
    try:
        return _BY_TYPE[cls]
    except KeyError:
        pass
    module = cls.__module__ or ""
    if cls in (bool, int, float, complex):
        kind = None
    elif module.startswith("numpy"):
        kind = "numpy"
    elif module.startswith(("jax", "jaxlib")):
        kind = "jax"
    elif module.startswith("torch"):
        kind = "torch"
    else:
        kind = "?"
    _BY_TYPE[cls] = kind
    return kind
