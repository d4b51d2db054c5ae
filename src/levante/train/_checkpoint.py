"""Checkpoints: arrays in safetensors, everything else in JSON; one atomic protocol.

A run directory holds `checkpoint-<step>.safetensors` (parameters under `params/...`,
optimizer state under `opt/...`), `run.json`, which names the latest checkpoint with its
SHA-256, the step, the settings, the vocabulary and the history of measurements, and the
files derived from them (`metrics.jsonl`, `loss.png`, `samples.txt`).

Writing. Every file goes through `write_atomically`: it is written to a hidden temporary
`.<name>.tmp` next to its final name, flushed to disk, renamed over the final name and the
directory entry flushed; on any failure (or interrupt) the temporary is removed and the
final name keeps its previous content. `save` writes the checkpoint, then `run.json`
pointing at it, and only then removes older checkpoints: whenever it stops, `run.json`
names a whole checkpoint. Temporaries left by a killed process are removed by `clean` when
the run starts again. A write that fails (full disk, read-only directory) is a `TrainError`
naming the path.

Reading. A run directory is untrusted input: `read_record` checks the schema of `run.json`
field by field, checkpoint names are plain file names of the form
`checkpoint-<step>.safetensors` inside the run, only regular files are read (no FIFOs,
devices, directories or symbolic links) and each within a size limit, and `read_header`
checks the hash and returns the tensor shapes from the safetensors header, so a caller
compares them with the model's before building anything. Loading never executes code: no
pickle, only JSON and raw arrays.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import struct
from pathlib import Path

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load, save_file

from levante.core import tags

from ._errors import TrainError

FORMAT = "levante.run/1"
RUN_FILE = "run.json"
CHECKPOINT = re.compile(r"checkpoint-(0|[1-9][0-9]{0,17})\.safetensors")
MAX_RECORD_BYTES = 256 << 20  # run.json: settings, vocabulary and one row per step
MAX_CHECKPOINT_BYTES = 64 << 30
MAX_HEADER_BYTES = 100 << 20  # safetensors' own limit on its JSON header
TEMPORARY = re.compile(r"\..+\.tmp")


def _named_leaves(prefix, tree):
    """[("prefix/path", leaf)] in the tree's leaf order; paths as `lv.tags` writes them."""
    paths = jax.tree_util.tree_leaves(tags(tree))
    return [(f"{prefix}/{path}", leaf) for path, leaf in zip(paths,
                                                             jax.tree_util.tree_leaves(tree))]


def flatten(prefix, tree):
    """{"prefix/path": array} for the array leaves of `tree`."""
    return {name: np.asarray(leaf) for name, leaf in _named_leaves(prefix, tree)}


def shapes(prefix, tree):
    """{"prefix/path": shape} for the leaves of `tree` (arrays or shape structs)."""
    return {name: tuple(np.shape(leaf)) for name, leaf in _named_leaves(prefix, tree)}


def check_shapes(path, header, expected):
    """Raise unless the checkpoint's header holds every expected name with its shape."""
    for name, shape in expected.items():
        if name not in header:
            raise TrainError(f"the checkpoint {path} lacks {name}: it was written for another "
                             "model or optimizer configuration than run.json's settings")
        if tuple(header[name]["shape"]) != shape:
            raise TrainError(f"the checkpoint {path} holds {name} with shape "
                             f"{tuple(header[name]['shape'])}, the settings in run.json "
                             f"give {shape}")


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


# --- writing ---------------------------------------------------------------------------------

def _why(error):
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "the disk is full"
    if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "the directory is not writable"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def write_atomically(path, write):
    """Write `path` through a hidden temporary, fsync and rename: `path` holds either its old
    content or the whole new one. `write(temporary_path)` writes the bytes.

    Raises TrainError naming `path` if the disk refuses (full, read-only, missing)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
        _sync_directory(path.parent)
    except BaseException as error:
        _remove(temporary)
        if isinstance(error, (OSError, SafetensorError)):
            raise TrainError(f"cannot write {path}: {_why(error)}") from None
        raise


def _sync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some systems cannot open directories; the rename itself is atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


def write_text(path, text):
    write_atomically(path, lambda p: Path(p).write_text(text, encoding="utf-8"))


def clean(run):
    """Remove the hidden temporaries (`.<name>.tmp`) a killed process left in `run`, and
    return their names. Checkpoints are left alone: `save` removes older ones only after
    `run.json` names a newer one."""
    removed = []
    for entry in sorted(Path(run).iterdir()):
        if TEMPORARY.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            _remove(entry)
            removed.append(entry.name)
    return removed


def make_directory(run):
    """Create the run directory (and its parents); TrainError naming it if that fails."""
    try:
        Path(run).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainError(f"cannot create the run directory {run}: {_why(error)}") from None


def check_writable(run, needed_bytes):
    """Write, read back and remove a probe file in `run`, and check the disk has room for
    `needed_bytes`: a run that cannot save fails before training, not after."""
    probe = Path(run) / ".levante-write-check"
    write_atomically(probe, lambda p: Path(p).write_bytes(b"levante"))
    _remove(probe)
    try:
        free = os.statvfs(run).f_bavail * os.statvfs(run).f_frsize
    except (OSError, AttributeError):
        return
    if free < needed_bytes:
        raise TrainError(f"cannot write {run}: {free / 1e6:,.0f} MB free, a checkpoint needs "
                         f"about {needed_bytes / 1e6:,.0f} MB; free some space or choose "
                         "another --out")


def _sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def save(run, step, params, opt_state, settings, vocabulary, history=None):
    """Write `checkpoint-<step>`, point `run.json` at it, then remove older checkpoints.

    Never overwrites a checkpoint that `run.json` names: if it already names this step's
    (a save interrupted after its commit, called again), only the clean-up is finished.
    Raises TrainError naming the path if a write fails; `run.json` then still names the
    previous, whole checkpoint."""
    run = Path(run)
    name = f"checkpoint-{step}.safetensors"
    if _current_name(run) != name:
        _commit(run, step, name, params, opt_state, settings, vocabulary, history)
    for old in run.glob("checkpoint-*.safetensors"):
        if old.name != name:
            _remove(old)


def _commit(run, step, name, params, opt_state, settings, vocabulary, history):
    arrays = {**flatten("params", params), **flatten("opt", opt_state)}
    write_atomically(run / name, lambda p: save_file(arrays, str(p)))
    record = {"format": FORMAT, "step": step, "checkpoint": name,
              "sha256": _sha256_file(run / name), "settings": settings,
              "vocabulary": vocabulary, "history": history or []}
    write_text(run / RUN_FILE, json.dumps(record, indent=1))


def _current_name(run):
    try:
        return json.loads((run / RUN_FILE).read_text(encoding="utf-8")).get("checkpoint")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None


# --- reading ---------------------------------------------------------------------------------

def read_regular(path, limit, what):
    """The bytes of `path` if it is a regular file (not a FIFO, device, directory or
    symbolic link) of at most `limit` bytes; TrainError otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise TrainError(f"the {what} {path} is missing") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise TrainError(f"the {what} {path} is a symbolic link, not a regular file in "
                             "the run") from None
        raise TrainError(f"the {what} {path} cannot be opened: "
                         f"{error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TrainError(f"the {what} {path} is not a regular file")
        if info.st_size > limit:
            raise TrainError(f"the {what} {path} is {info.st_size:,} bytes, over the limit of "
                             f"{limit:,}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(info.st_size + 1)  # + 1: a file that grew while read is refused
    except OSError as error:
        raise TrainError(f"the {what} {path} cannot be read: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) != info.st_size:
        raise TrainError(f"the {what} {path} changed while it was read")
    return data


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _field(path, name, why, value):
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return TrainError(f"{path} is damaged: the field {name!r} {why}, not {shown}")


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_history(path, history, step):
    if not isinstance(history, list):
        raise _field(path, "history", "is a list of measurements", history)
    last = 0
    for i, entry in enumerate(history):
        where = f"history[{i}]"
        if not isinstance(entry, dict):
            raise _field(path, where, "is an object", entry)
        if not _whole(entry.get("step")) or not last < entry["step"] <= step:
            raise _field(path, f"{where}.step", f"is a step after {last} and at most {step}",
                         entry.get("step"))
        last = entry["step"]
        for key, value in entry.items():
            if key != "step" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise _field(path, f"{where}.{key}", "is a number", value)


def check_record(record, path):
    """Raise a TrainError naming the first field of `record` (a parsed run.json) that is
    missing or of the wrong kind; settings and vocabulary are checked where they are used."""
    if not isinstance(record, dict):
        raise TrainError(f"{path} is damaged: it holds a {type(record).__name__}, not the "
                         "object a run record is")
    if record.get("format") != FORMAT:
        raise _field(path, "format", f"is {FORMAT!r} (this is not a levante run record)",
                     record.get("format"))
    step = record.get("step")
    if not _whole(step) or step < 0:
        raise _field(path, "step", "is a whole number >= 0", step)
    name = record.get("checkpoint")
    if name != f"checkpoint-{step}.safetensors":
        raise _field(path, "checkpoint", f"is the plain file name 'checkpoint-{step}.safetensors'"
                     " inside the run", name)
    digest = record.get("sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise _field(path, "sha256", "is 64 lowercase hexadecimal digits", digest)
    if not isinstance(record.get("settings"), dict):
        raise _field(path, "settings", "is an object of settings", record.get("settings"))
    if not isinstance(record.get("vocabulary"), dict):
        raise _field(path, "vocabulary", "is a vocabulary object", record.get("vocabulary"))
    _check_history(path, record.get("history", []), step)
    return record


def read_record(run):
    """The `run.json` of a run directory, read as untrusted input and checked field by field.

    Raises TrainError (naming the file and the field) if `run` is not a directory, has no
    run.json, or its run.json is not a regular file of valid UTF-8 JSON with the fields a
    run record has (`format`, `step`, `checkpoint`, `sha256`, `settings`, `vocabulary`,
    `history`).

    >>> try:
    ...     read_record("/")
    ... except TrainError as error:
    ...     print(error)
    / is not a levante run: it has no run.json
    """
    path = Path(run) / RUN_FILE
    if not Path(run).exists():  # a run stopped before its first checkpoint leaves none
        raise TrainError(f"no such directory: {run}; give the directory of a levante run")
    if not Path(run).is_dir():
        raise TrainError(f"{run} is not a directory; give the directory of a levante run")
    if not path.exists() and not path.is_symlink():
        raise TrainError(f"{run} is not a levante run: it has no {RUN_FILE}")
    data = read_regular(path, MAX_RECORD_BYTES, "run record")
    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise TrainError(f"{path} is damaged: it is not UTF-8 text") from None
    except ValueError as error:
        raise TrainError(f"{path} is damaged: it is not valid JSON ({error})") from None
    except RecursionError:
        raise TrainError(f"{path} is damaged: its JSON is nested too deeply") from None
    return check_record(record, path)


def read_header(run, record):
    """(bytes, {name: {"dtype", "shape"}}) of the checkpoint `record` names, after checking
    that it is a regular file within the size limit whose SHA-256 matches the record."""
    path = Path(run) / record["checkpoint"]
    data = read_regular(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    if _sha256_bytes(data) != record["sha256"]:
        raise TrainError(f"the checkpoint {path} is corrupt or truncated (its SHA-256 does "
                         "not match the one recorded when it was written)")
    damaged = TrainError(f"the checkpoint {path} is not a safetensors file")
    if len(data) < 8:
        raise damaged
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(MAX_HEADER_BYTES, len(data) - 8):
        raise damaged
    try:
        header = json.loads(data[8:8 + length].decode("utf-8"))
    except (ValueError, RecursionError):
        raise damaged from None
    if not isinstance(header, dict):
        raise damaged
    header.pop("__metadata__", None)
    for entry in header.values():
        if (not isinstance(entry, dict) or not isinstance(entry.get("shape"), list)
                or not all(_whole(n) and n >= 0 for n in entry["shape"])):
            raise damaged
    return data, header


def load_arrays(path, data):
    """The arrays of a checkpoint's bytes (checked by `read_header`)."""
    try:
        return load(data)
    except (SafetensorError, ValueError) as error:
        raise TrainError(f"the checkpoint {path} cannot be read: {error}") from None
