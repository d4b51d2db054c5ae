"""levante: deep-learning models as short readable math that runs as fast as hand-written JAX.

`import levante` stays light (NumPy only): the functional core (`lv.trace`, `lv.validate`,
`lv.param`, ...) and its JAX import load on first use of one of its names, and
`import levante.ein` never imports JAX.
"""

import importlib

__version__ = "0.1.0"

# names of levante.core, loaded on first use (tests/core/test_surface.py keeps this in sync)
_CORE = (
    "MissingParamsError",
    "Params",
    "ParamsError",
    "_",
    "as_params",
    "chain",
    "count",
    "flexible",
    "init",
    "label",
    "param",
    "skip",
    "summary",
    "tags",
    "thread",
    "thread_identity",
    "thread_key",
    "thread_params",
    "trace",
    "trace_shapes",
    "validate",
)

__all__ = ["ein", *_CORE]


def __getattr__(name):
    if name in _CORE:
        value = getattr(importlib.import_module("levante.core"), name)
    elif name == "ein":
        value = importlib.import_module("levante.ein")
    else:
        raise AttributeError(f"module 'levante' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
