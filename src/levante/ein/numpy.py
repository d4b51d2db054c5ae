"""einx 0.4's adapters for NumPy: `ein.numpy.adapt_numpylike_reduce` and
`ein.numpy.adapt_numpylike_elementwise` (the ops they make run on every backend)."""

from ._adapters import adapt_numpylike_elementwise, adapt_numpylike_reduce

__all__ = ["adapt_numpylike_elementwise", "adapt_numpylike_reduce"]
