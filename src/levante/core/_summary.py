"""`lv.summary` and `lv.count`: what a parameter tree holds, as a table or a number.

Both read only shapes and dtypes, so they work as well on the `jax.ShapeDtypeStruct`s of
`lv.trace_shapes` as on real arrays. Rows come in JAX's order (keys sorted, as
`jax.tree.leaves` gives them), the same before and after `jit`, `grad` or an optimizer.
"""

from __future__ import annotations

import math
import sys

import jax
import numpy as np

from ._params import keypath_text


def _leaves(tree):
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    for keypath, leaf in flat:
        yield keypath_text(keypath), leaf if hasattr(leaf, "shape") else np.asarray(leaf)


def _size(leaf):
    return math.prod(int(s) for s in leaf.shape)


def count(params):
    """The number of parameters: the total size of every array in the tree.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> lv.count({"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)})
    16
    """
    return sum(_size(leaf) for _, leaf in _leaves(params))


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return None  # pragma: no cover


def summary(params, *, file=None):
    """Print a table of the parameters: path, shape, dtype, count, bytes, and the totals.

    >>> import jax.numpy as jnp
    >>> import levante as lv
    >>> lv.summary({"encoder": {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4)},
    ...             "head": jnp.zeros((4, 1000), "bfloat16")})
    path       shape      dtype     count  bytes
    encoder/b  (4,)       float32       4  16 B
    encoder/w  (3, 4)     float32      12  48 B
    head       (4, 1000)  bfloat16  4,000  7.8 KiB
    total      3 arrays             4,016  7.9 KiB
    """
    rows = [("path", "shape", "dtype", "count", "bytes")]
    total_count = total_bytes = 0
    leaves = list(_leaves(params))
    for path, leaf in leaves:
        n = _size(leaf)
        size = n * np.dtype(leaf.dtype).itemsize
        total_count += n
        total_bytes += size
        rows.append((path or "(root)", str(tuple(int(s) for s in leaf.shape)), str(leaf.dtype),
                     f"{n:,}", _bytes(size)))
    arrays = f"{len(leaves)} array{'s' if len(leaves) != 1 else ''}"
    rows.append(("total", arrays, "", f"{total_count:,}", _bytes(total_bytes)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    out = file if file is not None else sys.stdout
    for row in rows:
        cells = [row[i].rjust(widths[i]) if i == 3 else row[i].ljust(widths[i]) for i in range(5)]
        if row[0] == "total":  # the arrays count spans the shape and dtype columns
            cells[1:3] = [row[1].ljust(widths[1] + widths[2] + 2)]
        print("  ".join(cells).rstrip(), file=out)
