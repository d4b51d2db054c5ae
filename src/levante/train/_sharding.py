"""Arrays made where they live: parameters initialized directly in their shards, batches
put on the devices (and, with several processes, loaded only where they are needed).

Nothing here communicates by hand: `jax.jit` with output shardings makes each device
compute only its own slices, and XLA inserts the collectives a sharded step needs.
"""

from __future__ import annotations

import jax
import numpy as np

from ._errors import TrainError
from ._mesh import BATCH_AXES, batch_sharding
from ._partition import TENSOR_RULES, param_shardings


def sharded_init(init, *args, mesh, rules=TENSOR_RULES):
    """`init(*args)` computed under `jax.jit` with each output leaf split as
    `param_shardings` says: no leaf is ever whole on one device (unless its sharding keeps
    it whole).

    Use it for parameters (`init` runs `lv.trace` / `model.init`) and for the optimizer
    state (`init` is `optimizer.init`, `args` the sharded parameters): the rules match the
    parameters' paths inside the state, so moments split like their parameters. Non-array
    arguments (configs) belong in the closure. Raises `TrainError` when `mesh` is not a
    `jax.sharding.Mesh`, or a rule does not fit a leaf.

    >>> import jax
    >>> from levante.models import gpt
    >>> from levante.train import mesh
    >>> config = gpt.GPTConfig(vocab=16, layers=1, heads=2, width=8, block=4)
    >>> params = sharded_init(lambda key: gpt.init(config, key), jax.random.key(0),
    ...                       mesh=mesh("data=1"))
    >>> params["blocks"][0]["feed_forward"]["up"]["w"].sharding.spec
    P(None, 'tensor')
    """
    _check_mesh(mesh)
    shapes = jax.eval_shape(init, *args)
    return jax.jit(init, out_shardings=param_shardings(shapes, mesh, rules))(*args)


def _check_mesh(mesh):
    if not isinstance(mesh, jax.sharding.Mesh):
        raise TrainError(f"mesh= is a jax.sharding.Mesh (levante.train.mesh('data=2,fsdp=4')), "
                         f"not {mesh!r}")


def process_rows(batch, mesh):
    """The rows (a `slice`) of a global batch of `batch` rows that this process's devices
    hold: the only rows it needs to load. One process: all of them.

    Raises `TrainError` when `batch` does not split evenly over `data` × `fsdp`.

    >>> from levante.train import mesh
    >>> process_rows(12, mesh("data=1"))
    slice(0, 12, None)
    """
    parts = int(np.prod([mesh.shape[a] for a in BATCH_AXES]))
    if batch % parts:
        raise TrainError(f"a batch of {batch} rows cannot split evenly over the mesh's "
                         f"data x fsdp = {parts} devices; use a multiple of {parts}")
    indices = batch_sharding(mesh, 1).addressable_devices_indices_map((batch,))
    rows = sorted({(s[0].start or 0, batch if s[0].stop is None else s[0].stop)
                   for s in indices.values()})
    start, stop = rows[0][0], rows[-1][1]
    if sum(b - a for a, b in rows) != stop - start:
        raise TrainError("this process's devices hold rows of the batch that are not "
                         "contiguous; order the mesh's devices by process")
    return slice(start, stop)


def shard_batch(batch, mesh):
    """Put a batch (an array or a tree of arrays, rows first) on `mesh`, rows split over
    `data` × `fsdp` and whole across `tensor`.

    With one process, pass the whole batch. With several, each process passes only its
    own rows, `batch[process_rows(rows, mesh)]`, and the result is the global array.
    Raises `TrainError` for a leaf without rows (a scalar), rows that do not split evenly,
    or a `mesh` that is not a `jax.sharding.Mesh`.

    >>> import numpy as np
    >>> from levante.train import mesh
    >>> x = shard_batch(np.zeros((4, 3), np.int32), mesh("data=1"))
    >>> x.shape, x.sharding.spec
    ((4, 3), P(('data', 'fsdp'), None))
    """
    _check_mesh(mesh)

    def one(x):
        x = np.asarray(x)
        if x.ndim == 0:
            raise TrainError(f"a batch is an array (or a tree of arrays) with rows first, "
                             f"not the scalar {x!r}")
        sharding = batch_sharding(mesh, x.ndim)
        if jax.process_count() == 1:
            process_rows(x.shape[0], mesh)  # the same check as with several processes
            return jax.device_put(x, sharding)
        return jax.make_array_from_process_local_data(sharding, x)

    return jax.tree.map(one, batch)
