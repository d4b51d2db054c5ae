"""Checkpoints: arrays in safetensors, everything else in JSON; written atomically.

A run directory holds `checkpoint-<step>.safetensors` (parameters under `params/...`,
optimizer state under `opt/...`), and `run.json`, which names the latest checkpoint with its
SHA-256, the step, the settings and the vocabulary. Each file is written to a temporary
name, flushed to disk and renamed, and `run.json` moves to a new checkpoint only once that
checkpoint is complete: an interruption at any moment leaves the previous checkpoint whole.
Loading reads arrays and JSON only (no pickle, no code), checks the hash, and fits the
arrays into the structure the model and optimizer expect.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from levante.core import tags

from ._errors import TrainError

FORMAT = "levante.run/1"
RUN_FILE = "run.json"


def _named_leaves(prefix, tree):
    """[("prefix/path", leaf)] in the tree's leaf order; paths as `lv.tags` writes them."""
    paths = jax.tree_util.tree_leaves(tags(tree))
    return [(f"{prefix}/{path}", leaf) for path, leaf in zip(paths,
                                                             jax.tree_util.tree_leaves(tree))]


def flatten(prefix, tree):
    """{"prefix/path": array} for the array leaves of `tree`."""
    return {name: np.asarray(leaf) for name, leaf in _named_leaves(prefix, tree)}


def unflatten(prefix, arrays, template):
    """`template` with each leaf replaced by the array saved under the same path."""
    structure = jax.tree_util.tree_structure(template)
    filled = []
    for name, leaf in _named_leaves(prefix, template):
        if name not in arrays:
            raise TrainError(f"the checkpoint lacks {name}: it was written for another model "
                             "or optimizer configuration")
        array = arrays[name]
        if array.shape != np.shape(leaf):
            raise TrainError(f"the checkpoint's {name} has shape {array.shape}, the model "
                             f"expects {np.shape(leaf)}")
        filled.append(jax.numpy.asarray(array, dtype=np.asarray(leaf).dtype))
    return jax.tree_util.tree_unflatten(structure, filled)


def _write_atomically(path, write):
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(run, step, params, opt_state, settings, vocabulary, history=None):
    """Write a checkpoint for `step` and point `run.json` at it; older ones are removed."""
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    arrays = {**flatten("params", params), **flatten("opt", opt_state)}
    name = f"checkpoint-{step}.safetensors"
    _write_atomically(run / name, lambda p: save_file(arrays, str(p)))
    record = {"format": FORMAT, "step": step, "checkpoint": name,
              "sha256": _sha256(run / name), "settings": settings, "vocabulary": vocabulary,
              "history": history or []}

    def write_json(p):
        p.write_text(json.dumps(record, indent=1), encoding="utf-8")

    _write_atomically(run / RUN_FILE, write_json)
    for old in run.glob("checkpoint-*.safetensors"):
        if old.name != name:
            old.unlink()


def read_record(run):
    """The `run.json` of a run directory, checked.

    >>> try:
    ...     read_record("/")
    ... except TrainError as error:
    ...     print(error)
    / is not a levante run: it has no run.json
    """
    path = Path(run) / RUN_FILE
    if not Path(run).is_dir():
        raise TrainError(f"{run} is not a directory; give the directory of a levante run")
    if not path.exists():
        raise TrainError(f"{run} is not a levante run: it has no {RUN_FILE}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise TrainError(f"{path} cannot be read ({error}); the run's record is damaged") \
            from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise TrainError(f"{path} is not a levante run record (format {FORMAT})")
    return record


def load_arrays(run, record):
    """The checkpoint's arrays, after checking the file is whole."""
    path = Path(run) / record["checkpoint"]
    if not path.exists():
        raise TrainError(f"the checkpoint {path} named by {RUN_FILE} is missing")
    if _sha256(path) != record["sha256"]:
        raise TrainError(f"the checkpoint {path} is corrupt or truncated (its SHA-256 does "
                         "not match the one recorded when it was written)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise TrainError(f"the checkpoint {path} cannot be read: {error}") from None
