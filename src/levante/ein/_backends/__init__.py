"""Backends, chosen from the operands' types; each library loads only when its tensors arrive."""

from __future__ import annotations

import importlib

_MODULES = {"numpy": "_numpy", "jax": "_jax", "torch": "_torch", "tensorflow": "_tensorflow"}
BACKENDS = tuple(_MODULES)
_LOADED = {}
_BY_TYPE = {}  # type -> backend name, or None for Python scalars


_NAMESPACES = {}  # "arrayapi:<name>" -> the namespace its tensors reported


def load(name):
    """The backend called `name` (`numpy`, `jax`, `torch`, `tensorflow`, or
    `arrayapi:<namespace>` for any Array API library), imported on first use."""
    backend = _LOADED.get(name)
    if backend is None:
        if name.startswith("arrayapi:"):
            from ._arrayapi import ArrayApiBackend

            backend = _LOADED[name] = ArrayApiBackend(_NAMESPACES[name])
            return backend
        module = importlib.import_module(f"{__name__}.{_MODULES[name]}")
        backend = _LOADED[name] = module.BACKEND
    return backend


def kind_of(value):
    """`numpy`, `jax`, `torch`, `tensorflow`, `arrayapi:<namespace>` for a tensor, None for
    a Python scalar, `?` otherwise."""
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
    elif module.startswith("tensorflow"):
        kind = "tensorflow"
    elif hasattr(cls, "__array_namespace__"):
        namespace = value.__array_namespace__()
        kind = f"arrayapi:{getattr(namespace, '__name__', cls.__module__)}"
        _NAMESPACES[kind] = namespace
    else:
        kind = "?"
    _BY_TYPE[cls] = kind
    return kind
