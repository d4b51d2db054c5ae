"""Ops that TensorFlow's autograph calls as they are, inside `tf.function`.

Autograph rewrites the Python a `tf.function` calls, recursively, unless a function is
marked as its own artifact: `tf.autograph.experimental.do_not_convert` marks one by the
attribute `autograph_info__`. The ops are plain Python that plans once per shape and then
calls TensorFlow, so rewriting them gains nothing, slows the trace and turns every
`NotationError` into autograph's `StagingError`. The attribute is set without importing
TensorFlow, so that `import levante.ein` stays NumPy only.
"""

from __future__ import annotations


def as_python(function):
    """`function`, marked to run unconverted under autograph (as `do_not_convert` marks)."""
    function.autograph_info__ = None
    return function
