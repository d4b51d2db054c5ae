"""Train/validation splits and reproducible batches of random windows.

A batch is `batch` windows of `block + 1` consecutive tokens: inputs are the first
`block`, targets the last `block` (shifted by one). The windows of step `k` depend only
on (seed, k), so a resumed run draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

from ._errors import DataError


def split(ids, validation=0.1):
    """(train, validation): the first `1 - validation` of the tokens, then the rest.

    >>> train, val = split(np.arange(10), validation=0.2)
    >>> train.tolist(), val.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    if not 0 <= validation < 1:
        raise DataError(f"validation is a fraction in [0, 1); got {validation}")
    cut = round(len(ids) * (1 - validation))
    return ids[:cut], ids[cut:]


def window_starts(length, block, batch, seed, step):
    """Start positions of the windows of one step (from the seed and the step alone).

    >>> starts = window_starts(100, block=8, batch=3, seed=0, step=7)
    >>> starts.tolist() == window_starts(100, 8, 3, 0, 7).tolist(), bool((starts <= 92).all())
    (True, True)
    """
    if length < block + 1:
        raise DataError(f"the text has {length} tokens but one window needs block + 1 = "
                        f"{block + 1}; use a smaller --block or more text")
    rng = np.random.default_rng([seed, step])
    return rng.integers(0, length - block, size=batch)


def get_batch(ids, block, batch, seed, step):
    """(inputs, targets), each `batch x block` int32, for training step `step`.

    >>> x, y = get_batch(np.arange(100), block=8, batch=2, seed=0, step=0)
    >>> x.shape, bool((y[:, :-1] == x[:, 1:]).all())
    ((2, 8), True)
    """
    starts = window_starts(len(ids), block, batch, seed, step)
    windows = ids[starts[:, None] + np.arange(block + 1)].astype(np.int32)  # b (t + 1)
    return windows[:, :-1], windows[:, 1:]
