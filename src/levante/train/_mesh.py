"""Device meshes named by what each axis splits: `data`, `fsdp`, `tensor`.

A mesh arranges the devices in a grid (`jax.sharding.Mesh`); each axis has a name that the
sharding rules refer to:

    data    copies of the model, each on its own slice of the batch (data parallelism)
    fsdp    slices of every parameter and optimizer state, and of the batch (ZeRO-3 / FSDP,
            Rajbhandari et al. 2020; PyTorch FSDP)
    tensor  slices of the attention heads and the feed-forward width (Megatron-LM,
            Shoeybi et al. 2019)

A batch splits over `data` × `fsdp`; the mesh always has all three axes (size 1 where not
asked for), so rules may name any of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from ._errors import TrainError

AXES = ("data", "fsdp", "tensor")
BATCH_AXES = ("data", "fsdp")  # the axes a batch splits over


def parse_mesh(spec):
    """{"data": n, "fsdp": m, "tensor": k} from "data=2,fsdp=4", a mapping, or None (all
    sizes unset); sizes not given are None. A string with no axis (empty) or an empty part
    ("data=2,") is a `TrainError`: None is how to ask for the default.

    >>> parse_mesh("data=2,tensor=4")
    {'data': 2, 'fsdp': None, 'tensor': 4}
    """
    if spec is None:
        return dict.fromkeys(AXES)
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",")]
        if not any(parts) or not all(parts):
            # an empty --mesh= would otherwise mean the default, a stray comma nothing
            what = "is empty" if not any(parts) else "has an empty part"
            raise TrainError(f"the mesh {spec!r} {what}: write --mesh data=N[,fsdp=M]"
                             "[,tensor=K] (e.g. data=2,fsdp=4), or leave the flag out to use "
                             "every local device on data")
        pairs = []
        for part in parts:
            name, equals, size = part.partition("=")
            if not equals:
                raise TrainError(f"the mesh {spec!r}: {part!r} is not axis=size; write e.g. "
                                 "data=2,fsdp=4")
            pairs.append((name.strip(), size.strip()))
    elif isinstance(spec, Mapping):
        pairs = list(spec.items())
    else:
        raise TrainError(f"a mesh is a string like 'data=2,fsdp=4' or a dict, not {spec!r}")
    sizes = dict.fromkeys(AXES)
    for name, size in pairs:
        if name not in AXES:
            raise TrainError(f"the mesh {spec!r} names the axis {name!r}; the axes are "
                             f"{', '.join(AXES)}")
        if sizes[name] is not None:
            raise TrainError(f"the mesh {spec!r} gives the axis {name!r} twice")
        size = _size(spec, name, size)
        if size < 1:
            raise TrainError(f"the mesh {spec!r}: the size of {name} must be at least 1")
        sizes[name] = size
    return sizes


def _size(spec, name, size):
    """An axis size as an int: a whole number or its digits; never a float, a bool or
    anything int() would truncate (2.5 is not 2)."""
    if isinstance(size, str):
        text = size.strip().lstrip("+-")
        if text.isdigit():
            return int(size)
    elif isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        return int(size)
    raise TrainError(f"the mesh {spec!r}: the size of {name} is a positive whole number, "
                     f"not {size!r}")


def mesh(spec=None, devices=None):
    """A `jax.sharding.Mesh` with the axes `data`, `fsdp`, `tensor` from "data=2,fsdp=4" or
    `{"data": 2, "fsdp": 4}`.

    Axes not named have size 1, except that with `data` unset it takes every device the
    others leave (so `mesh()` puts every device on `data`). `devices` defaults to
    `jax.devices()` (every process's, after `initialize_distributed`); a mesh smaller than
    that uses the first devices (one process only). Devices are laid out so that `tensor`
    varies fastest (neighbouring devices exchange the most), then `fsdp`, then `data`.
    Raises `TrainError` for an unknown axis, a bad size, or sizes whose product does not fit
    the devices.

    >>> m = mesh("data=1")
    >>> dict(m.shape)
    {'data': 1, 'fsdp': 1, 'tensor': 1}
    """
    devices = list(jax.devices() if devices is None else devices)
    sizes = parse_mesh(spec)
    others = math.prod(sizes[a] or 1 for a in AXES if a != "data")
    if sizes["data"] is None:
        if len(devices) % others:
            raise TrainError(f"the mesh {spec!r} needs a multiple of {others} devices; there "
                             f"are {len(devices)}")
        sizes["data"] = len(devices) // others
    shape = tuple(sizes[a] or 1 for a in AXES)
    count = math.prod(shape)
    if count > len(devices):
        raise TrainError(f"the mesh {spec!r} needs {count} devices; JAX sees {len(devices)} "
                         f"({devices[0].platform}). On CPU, XLA_FLAGS="
                         f"--xla_force_host_platform_device_count={count} makes more")
    if count < len(devices) and jax.process_count() > 1:
        raise TrainError(f"the mesh {spec!r} uses {count} of the {len(devices)} devices of "
                         f"{jax.process_count()} processes; with several processes a mesh "
                         "uses every device")
    grid = np.array(devices[:count], dtype=object).reshape(shape)
    return Mesh(grid, AXES, axis_types=(AxisType.Auto,) * len(AXES))


def batch_sharding(mesh, rank=2):
    """The sharding of a batch: its first axis split over `data` × `fsdp`, the rest whole.

    >>> batch_sharding(mesh("data=1")).spec
    P(('data', 'fsdp'), None)
    """
    return NamedSharding(mesh, PartitionSpec(BATCH_AXES, *([None] * (rank - 1))))


def replicated(mesh):
    """A whole copy on every device of `mesh`.

    >>> replicated(mesh("data=1")).spec
    P()
    """
    return NamedSharding(mesh, PartitionSpec())
