"""Checkpoints of sharded state: each process writes the slices its devices hold.

Nothing is gathered: process i writes `checkpoint-<step>.process-<i>-of-<P>.safetensors`
(by default) with every distinct slice its devices hold, each under
`prefix/path@start:stop,...` (the path as `lv.tags` writes it, the slice of the whole array
in each axis). A slice held by
several of its devices is written once; a slice replicated across processes is written by
each of them, so that every process can resume from its own file alone (a host need not
see the others' disks). Each file is written to a temporary name, flushed and renamed; the
processes then exchange their files' SHA-256 (a collective, not a shared disk), and the
record that lists the files and hashes is what the run's `run.json` keeps. Loading checks
the process's file against its hash and builds each array from its slices with
`jax.make_array_from_single_device_arrays`: safetensors and JSON only, no pickle.

Resuming needs the same topology (number of processes and mesh); the record says which.
orbax-checkpoint does the same job and can reshard on load, but it is a large dependency
(tensorstore) with its own asynchronous writer, directory layout and metadata outside the
run's hashed record; the format here is the single-device checkpoint's (safetensors, no
pickle, written through the same atomic protocol, hashed), cut into slices.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from pathlib import Path

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save_file

from levante.core import tags

from ._checkpoint import MAX_CHECKPOINT_BYTES, read_regular, write_atomically
from ._errors import TrainError

FORMAT = "levante.shards/1"
FILE = re.compile(r"checkpoint-(0|[1-9][0-9]{0,17})(\.process-[0-9]+-of-[0-9]+)?\.safetensors")


def _slice_text(index, shape):
    """`0:4,0:32` for the slice `index` of an array of `shape` (empty for a scalar)."""
    parts = []
    for s, size in zip(index, shape):
        start, stop, _ = s.indices(size)
        parts.append(f"{start}:{stop}")
    return ",".join(parts)


def _named_leaves(prefix, tree):
    return [(f"{prefix}/{path}", leaf) for path, leaf in zip(jax.tree.leaves(tags(tree)),
                                                             jax.tree.leaves(tree))]


def local_slices(trees):
    """{"prefix/path@slice": numpy array} of the distinct slices this process's devices hold
    of each tree in `trees` ({prefix: tree})."""
    arrays = {}
    for prefix, tree in trees.items():
        for name, leaf in _named_leaves(prefix, tree):
            for shard in leaf.addressable_shards:
                key = f"{name}@{_slice_text(shard.index, leaf.shape)}"
                if key not in arrays:
                    arrays[key] = np.asarray(shard.data)
    return arrays


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _all_hashes(own):
    """Every process's hash, in process order (one collective)."""
    if jax.process_count() == 1:
        return [own]
    from jax.experimental import multihost_utils

    digests = multihost_utils.process_allgather(np.frombuffer(bytes.fromhex(own), np.uint8))
    return [bytes(np.asarray(d, np.uint8)).hex() for d in np.asarray(digests)]


def file_name(step, process, processes):
    """`checkpoint-<step>.process-<i>-of-<P>.safetensors`."""
    return f"checkpoint-{step}.process-{process}-of-{processes}.safetensors"


def save_shards(run, step, trees, mesh, name=file_name):
    """Write this process's slices of `trees` ({prefix: tree of jax.Array}) for `step`;
    every process calls it. Returns the record `load_shards` takes (files, hashes,
    topology). `name(step, process, processes)` names the files. Raises `TrainError` when
    the file cannot be written.

    >>> import tempfile, jax.numpy as jnp
    >>> from levante.train import mesh, sharded_init
    >>> m = mesh("data=1")
    >>> params = sharded_init(lambda: {"w": jnp.arange(6.0).reshape(2, 3)}, mesh=m)
    >>> record = save_shards(tempfile.mkdtemp(), 7, {"params": params}, m)
    >>> record["files"], record["mesh"]
    (['checkpoint-7.process-0-of-1.safetensors'], {'data': 1, 'fsdp': 1, 'tensor': 1})
    """
    run = Path(run)
    processes, me = jax.process_count(), jax.process_index()
    path = run / name(step, me, processes)
    arrays = local_slices(trees)
    write_atomically(path, lambda p: save_file(arrays, str(p)))
    hashes = _all_hashes(_sha256(path))
    return {"format": FORMAT, "step": step, "processes": processes,
            "mesh": {axis: int(size) for axis, size in mesh.shape.items()},
            "files": [name(step, i, processes) for i in range(processes)],
            "sha256": hashes}


def check_record(record):
    """The fields of a record read from disk (untrusted): kinds, plain file names, hashes."""
    def whole(v):
        return isinstance(v, int) and not isinstance(v, bool)

    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise TrainError(f"the checkpoint record is not a sharded checkpoint ({FORMAT})")
    processes, files, hashes = (record.get(k) for k in ("processes", "files", "sha256"))
    if not whole(processes) or processes < 1:
        raise TrainError(f"the sharded checkpoint record's 'processes' is {processes!r}")
    if not isinstance(record.get("mesh"), dict):
        raise TrainError("the sharded checkpoint record's 'mesh' is not an object")
    for field, values, pattern in (("files", files, FILE),
                                   ("sha256", hashes, re.compile("[0-9a-f]{64}"))):
        if (not isinstance(values, list) or len(values) != processes
                or not all(isinstance(v, str) and pattern.fullmatch(v) for v in values)):
            raise TrainError(f"the sharded checkpoint record's {field!r} is not {processes} "
                             "plain checkpoint file names and SHA-256 digests")


def _check_topology(record, mesh):
    check_record(record)
    processes = jax.process_count()
    here = {axis: int(size) for axis, size in mesh.shape.items()}
    if record["processes"] != processes or record["mesh"] != here:
        raise TrainError(f"the checkpoint was written by {record['processes']} process(es) on "
                         f"the mesh {record['mesh']}; this run has {processes} on {here}: "
                         "resume with the same --num-processes and --mesh")


def _read_verified(path, digest):
    """The arrays of one process's file, once its bytes match the SHA-256 recorded when it
    was written (a corrupt, truncated or unreadable file is a TrainError naming it)."""
    raw = read_regular(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    if hashlib.sha256(raw).hexdigest() != digest:
        raise TrainError(f"the checkpoint {path} is corrupt or truncated (its SHA-256 does "
                         "not match the one recorded when it was written)")
    try:
        return load(raw)
    except (SafetensorError, ValueError) as error:
        raise TrainError(f"the checkpoint {path} cannot be read: {error}") from None


def load_shards(run, record, templates, mesh):
    """Arrays shaped and sharded like `templates` ({prefix: tree of arrays or
    `jax.ShapeDtypeStruct`s with `.sharding`}), filled from this process's file of the
    checkpoint `record` (from `save_shards`). Raises `TrainError` for another topology, a
    missing, corrupt or foreign file.

    >>> import tempfile, jax.numpy as jnp
    >>> from levante.train import mesh, sharded_init
    >>> m, run = mesh("data=1"), tempfile.mkdtemp()
    >>> params = sharded_init(lambda: {"w": jnp.arange(6.0).reshape(2, 3)}, mesh=m)
    >>> record = save_shards(run, 7, {"params": params}, m)
    >>> template = sharded_init(lambda: {"w": jnp.zeros((2, 3))}, mesh=m)
    >>> load_shards(run, record, {"params": template}, m)["params"]["w"].tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    _check_topology(record, mesh)
    me = jax.process_index()
    path = Path(run) / record["files"][me]
    arrays = _read_verified(path, record["sha256"][me])
    out = {}
    for prefix, template in templates.items():
        leaves = [_assemble(name, leaf, arrays, path)
                  for name, leaf in _named_leaves(prefix, template)]
        out[prefix] = jax.tree.unflatten(jax.tree.structure(template), leaves)
    return out


def _assemble(name, leaf, arrays, path):
    shape, sharding = tuple(leaf.shape), leaf.sharding
    pieces = []
    for device, index in sharding.addressable_devices_indices_map(shape).items():
        key = f"{name}@{_slice_text(index, shape)}"
        if key not in arrays:
            raise TrainError(f"the checkpoint {path} lacks {key}: it was written for another "
                             "model, optimizer or sharding")
        piece = arrays[key]
        expected = tuple(len(range(*s.indices(n))) for s, n in zip(index, shape))
        if piece.shape != expected:
            raise TrainError(f"the checkpoint's {key} has shape {piece.shape}, not {expected}")
        pieces.append(jax.device_put(piece.astype(leaf.dtype), device))
    return jax.make_array_from_single_device_arrays(shape, sharding, pieces)


def _parse_key(key, run_file):
    """("prefix/path", (slice, ...)) of a key `prefix/path@0:4,0:32` of a shard file."""
    name, at, text = key.rpartition("@")
    if not at:
        raise TrainError(f"the checkpoint {run_file} holds {key!r}, not a slice name "
                         "path@start:stop,...")
    bounds = []
    for part in filter(None, text.split(",")):
        start, colon, stop = part.partition(":")
        if not (colon and start.isdigit() and stop.isdigit() and int(start) <= int(stop)):
            raise TrainError(f"the checkpoint {run_file} holds {key!r}, whose slice "
                             f"{part!r} is not start:stop")
        bounds.append((int(start), int(stop)))
    return name, tuple(bounds)


def _check_tiling(name, shape, slices, where):
    """The distinct slices of one array cover it exactly: along each axis their bounds tile
    [0, size), and every cell of that grid is present (the slices of one sharding are a
    grid; anything else is a damaged or foreign checkpoint)."""
    cells = 1
    for axis, size in enumerate(shape):
        bounds = sorted({s[axis] for s in slices})
        if (bounds[0][0] != 0 or bounds[-1][1] != size
                or any(a[1] != b[0] for a, b in itertools.pairwise(bounds))):
            raise TrainError(f"the checkpoint files {where} hold slices of {name} that do not "
                             f"cover its {size} entries along axis {axis}: a file is missing "
                             "or was written for another sharding")
        cells *= len(bounds)
    if len(slices) != cells:
        raise TrainError(f"the checkpoint files {where} lack {cells - len(slices)} of the "
                         f"{cells} slices of {name}: a process's file is missing or damaged")


def gather_shards(run, record, expected):
    """{name: whole NumPy array} for each `"prefix/path": shape` in `expected`, assembled
    from the slices in every process's file of the sharded checkpoint `record` (what
    `levante sample` and `levante export` read from a run trained by several processes).

    Every file must be present in `run` and match the SHA-256 the record keeps (as when the
    run resumes); the slices of each array must tile it exactly, and a slice that several
    processes wrote must be the same in each. Raises `TrainError` naming the missing or
    corrupt file, or the array whose slices are missing.

    >>> import tempfile, jax.numpy as jnp
    >>> from levante.train import mesh, sharded_init
    >>> m, run = mesh("data=1"), tempfile.mkdtemp()
    >>> params = sharded_init(lambda: {"w": jnp.arange(6.0).reshape(2, 3)}, mesh=m)
    >>> record = save_shards(run, 7, {"params": params}, m)
    >>> gather_shards(run, record, {"params/w": (2, 3)})["params/w"].tolist()
    [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    """
    check_record(record)
    run = Path(run)
    paths = [run / name for name in record["files"]]
    missing = [f"{p.name} (process {i}'s slices)" for i, p in enumerate(paths)
               if not p.exists() and not p.is_symlink()]
    if missing:
        raise TrainError(f"the checkpoint of step {record.get('step')} in {run} was written by "
                         f"{record['processes']} processes, one file each, and "
                         f"{', '.join(missing)} is missing: copy every process's "
                         "checkpoint file into the run directory")
    prefixes = {name.partition("/")[0] for name in expected}
    out, seen = {}, {name: set() for name in expected}
    where = f"{', '.join(p.name for p in paths)} in {run}"
    for path, digest in zip(paths, record["sha256"]):
        arrays = _read_verified(path, digest)
        for key in list(arrays):
            piece = arrays.pop(key)
            name, bounds = _parse_key(key, path)
            if name.partition("/")[0] not in prefixes:
                continue  # the optimizer state, when only the parameters are asked for
            if name not in expected:
                raise TrainError(f"the checkpoint {path} holds {name}, which the run's "
                                 "settings do not give: it was written for another model")
            shape = tuple(expected[name])
            if len(bounds) != len(shape) or any(stop > n for (_, stop), n in zip(bounds, shape)):
                raise TrainError(f"the checkpoint {path} holds the slice {key} of {name}, "
                                 f"outside its shape {shape}")
            index = tuple(slice(start, stop) for start, stop in bounds)
            if piece.shape != tuple(stop - start for start, stop in bounds):
                raise TrainError(f"the checkpoint's {key} in {path} has shape {piece.shape}")
            whole = out.setdefault(name, np.empty(shape, piece.dtype))
            if bounds in seen[name]:  # replicated: every copy must agree
                if not np.array_equal(whole[index], piece):
                    raise TrainError(f"the checkpoint files {where} disagree on {key}")
            else:
                whole[index] = piece
                seen[name].add(bounds)
    for name, shape in expected.items():
        if not seen[name]:
            raise TrainError(f"the checkpoint files {where} lack {name}: they were written "
                             "for another model or optimizer configuration")
        _check_tiling(name, tuple(shape), seen[name], where)
    return out
