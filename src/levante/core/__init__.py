"""levante.core: networks as plain functions `f(params, x, ...)`.

`lv.trace(f, key, x)` runs the model once and returns the parameters it declared with
`lv.validate` / `lv.param`; `lv._` and `@lv.flexible` partialize calls; `chain`, `skip` and
`thread*` compose them; `tags` / `label` turn paths into optimizer groups; `summary` and
`count` describe a tree; `lv.init` holds the initializers. See README.md in this folder.
"""

from . import init
from ._compose import chain, skip, thread, thread_identity, thread_key, thread_params
from ._errors import MissingParamsError, ParamsError
from ._holes import _, flexible
from ._param import param
from ._params import Params, as_params
from ._summary import count, summary
from ._tags import label, tags
from ._trace import trace, trace_shapes
from ._validate import validate

__all__ = [
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
]
