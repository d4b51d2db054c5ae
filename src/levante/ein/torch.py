"""einx 0.4's adapters for PyTorch: `ein.torch.adapt_with_vmap` (vectorized with
`torch.vmap`), `ein.torch.adapt_numpylike_reduce` and `ein.torch.adapt_numpylike_elementwise`."""

from __future__ import annotations

import torch

from ._adapters import adapt_numpylike_elementwise, adapt_numpylike_reduce
from ._adapters import adapt_with_vmap as _adapt

__all__ = ["adapt_numpylike_elementwise", "adapt_numpylike_reduce", "adapt_with_vmap"]


def adapt_with_vmap(op, signature=None):
    """An op in the notation from `op`, which sees only the bracketed axes of each operand
    and is vectorized over the others with `torch.vmap` (einx 0.4's
    `einx.torch.adapt_with_vmap`).

    >>> import torch
    >>> from levante import ein
    >>> norm = ein.torch.adapt_with_vmap(lambda x: x / x.sum())
    >>> norm("b [k] -> b [k]", torch.ones(2, 4))[0]
    tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """
    return _adapt(op, lambda f, axes: torch.vmap(f, in_dims=axes), signature)
