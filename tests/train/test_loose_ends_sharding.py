"""A run trained by several processes, read whole (`levante sample`, `levante export`,
`load_params`), and the mesh flag's empty value.

The sharded checkpoint is built here as several processes write it (one safetensors file
per process, each with the slices its devices hold, named `path@start:stop,...`, and the
record of files and hashes in run.json), from a run trained in this process: a real
two-process run takes a minute to start and join."""

import hashlib
import io
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from levante import cli
from levante.train import TrainConfig, TrainError, load_params, train
from levante.train._mesh import mesh, parse_mesh
from levante.train._shards import FORMAT


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    return train(TrainConfig(layers=1, width=16, heads=2, block=8, batch=2, steps=2,
                             eval_batches=1, sample_tokens=1, out=str(out)),
                 stream=io.StringIO())


def _slices(shape, parts):
    """The slices FSDP over `parts` devices gives: the largest axis it divides, cut."""
    axes = [a for a in sorted(range(len(shape)), key=lambda a: -shape[a])
            if shape[a] % parts == 0]
    if not axes:  # replicated: each device holds all of it
        return [tuple(slice(0, n) for n in shape)] * parts
    axis, size = axes[0], shape[axes[0]] // parts
    return [tuple(slice(i * size, (i + 1) * size) if a == axis else slice(0, n)
                  for a, n in enumerate(shape)) for i in range(parts)]


def _key(name, index):
    return f"{name}@{','.join(f'{s.start}:{s.stop}' for s in index)}"


def shard_run(whole, out, processes=2, devices=2, drop=None):
    """Rewrite the run `whole` as `processes` processes of `devices` devices each on
    fsdp=processes*devices write it; `drop` leaves one slice out of every file."""
    out.mkdir()
    record = json.loads((whole / "run.json").read_text())
    arrays = load_file(str(whole / record["checkpoint"]))
    step, files, hashes = record["step"], [], []
    for p in range(processes):
        mine = {}
        for name, array in arrays.items():
            for index in _slices(array.shape, processes * devices)[p * devices:
                                                                    (p + 1) * devices]:
                if _key(name, index) != drop:
                    mine[_key(name, index)] = np.ascontiguousarray(array[index])
        file = (f"checkpoint-{step}.safetensors" if p == 0 else
                f"checkpoint-{step}.process-{p}-of-{processes}.safetensors")
        save_file(mine, str(out / file))
        files.append(file)
        hashes.append(hashlib.sha256((out / file).read_bytes()).hexdigest())
    record.update(checkpoint=files[0], sha256=hashes[0], shards={
        "format": FORMAT, "step": step, "processes": processes,
        "mesh": {"data": 1, "fsdp": processes * devices, "tensor": 1},
        "files": files, "sha256": hashes})
    (out / "run.json").write_text(json.dumps(record))
    return out


def test_the_parameters_of_a_sharded_run_are_the_whole_runs(whole_run, tmp_path):
    sharded = shard_run(whole_run, tmp_path / "sharded")
    names = sorted(load_file(str(sharded / "checkpoint-2.process-1-of-2.safetensors")))
    assert any(n.startswith("params/embed/table@") and not n.endswith("@0:77,0:16")
               for n in names)  # the test really splits: each file holds a part
    _, _, _, _, whole = load_params(whole_run)
    _, _, _, _, assembled = load_params(sharded)
    import jax

    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(assembled)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sample_and_export_read_a_sharded_run(whole_run, tmp_path, capsys):
    sharded = shard_run(whole_run, tmp_path / "sharded")
    flags = ["--prompt", "ROMEO:", "--tokens", "12", "--seed", "3"]
    assert cli.main(["sample", str(whole_run), *flags]) == 0
    expected = capsys.readouterr().out
    assert cli.main(["sample", str(sharded), *flags]) == 0
    assert capsys.readouterr().out == expected
    assert cli.main(["export", str(whole_run), str(tmp_path / "a"), "--format", "hf"]) == 0
    assert cli.main(["export", str(sharded), str(tmp_path / "b"), "--format", "hf"]) == 0
    a, b = load_file(str(tmp_path / "a/model.safetensors")), \
        load_file(str(tmp_path / "b/model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_a_missing_process_file_is_named(whole_run, tmp_path, capsys):
    sharded = shard_run(whole_run, tmp_path / "sharded")
    (sharded / "checkpoint-2.process-1-of-2.safetensors").unlink()
    assert cli.main(["sample", str(sharded), "--tokens", "3"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint-2.process-1-of-2.safetensors (process 1's slices) is missing" in err
    with pytest.raises(TrainError, match="process 1's slices"):
        load_params(sharded)


def test_a_corrupt_process_file_is_refused(whole_run, tmp_path):
    sharded = shard_run(whole_run, tmp_path / "sharded")
    file = sharded / "checkpoint-2.process-1-of-2.safetensors"
    data = bytearray(file.read_bytes())
    data[-1] ^= 1
    file.write_bytes(bytes(data))
    with pytest.raises(TrainError, match=r"process-1-of-2\.safetensors is corrupt"):
        load_params(sharded)


def test_a_slice_no_file_holds_is_refused(whole_run, tmp_path):
    # each file is whole and hashed, but together they lack a piece of the embedding
    sharded = shard_run(whole_run, tmp_path / "sharded", drop="params/embed/table@0:77,4:8")
    with pytest.raises(TrainError, match="slices of params/embed/table that do not cover its "
                       "16 entries along axis 1"):
        load_params(sharded)


def test_a_sharded_runs_layers_are_checked_before_the_model_is_traced(whole_run, tmp_path):
    import time

    sharded = shard_run(whole_run, tmp_path / "sharded")
    record = json.loads((sharded / "run.json").read_text())
    record["settings"]["layers"] = 100_000  # tracing that many blocks would take minutes
    (sharded / "run.json").write_text(json.dumps(record))
    began = time.perf_counter()
    with pytest.raises(TrainError, match="holds 1 block"):
        load_params(sharded)
    assert time.perf_counter() - began < 30


def test_slices_must_tile_each_array(tmp_path):
    from levante.train._shards import gather_shards

    run = tmp_path / "overlap"
    c = np.ascontiguousarray  # safetensors writes the buffer as it lies
    run.mkdir()
    w = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    save_file({"params/w@0:3,0:4": w, "params/w@0:3,2:4": c(w[:, 2:])},
              str(run / "checkpoint-1.safetensors"))
    digest = hashlib.sha256((run / "checkpoint-1.safetensors").read_bytes()).hexdigest()
    record = {"format": FORMAT, "step": 1, "processes": 1, "mesh": {"data": 1},
              "files": ["checkpoint-1.safetensors"], "sha256": [digest]}
    with pytest.raises(TrainError, match="do not cover"):
        gather_shards(run, record, {"params/w": (3, 4)})
    save_file({"params/w@0:2,0:2": c(w[:2, :2]), "params/w@0:2,2:4": c(w[:2, 2:]),
               "params/w@2:3,0:2": c(w[2:, :2])}, str(run / "checkpoint-1.safetensors"))
    record["sha256"] = [hashlib.sha256((run / "checkpoint-1.safetensors").read_bytes())
                        .hexdigest()]
    with pytest.raises(TrainError, match="lack 1 of the 4 slices of params/w"):
        gather_shards(run, record, {"params/w": (3, 4)})
    save_file({"params/w@0:3,0:2": c(w[:, :2]), "params/w@0:3,2:4": c(w[:, 2:])},
              str(run / "checkpoint-1.safetensors"))
    record["sha256"] = [hashlib.sha256((run / "checkpoint-1.safetensors").read_bytes())
                        .hexdigest()]
    np.testing.assert_array_equal(gather_shards(run, record, {"params/w": (3, 4)})["params/w"],
                                  w)


# --- the mesh flag ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["", " ", ",", "data=1,", "data=1,,fsdp=1"])
def test_an_empty_mesh_or_axis_is_an_error(spec):
    with pytest.raises(TrainError, match=r"data=N\[,fsdp=M\]\[,tensor=K\]"):
        parse_mesh(spec)
    with pytest.raises(TrainError, match="leave"):
        mesh(spec)


def test_mesh_flag_given_empty_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--mesh=", "--steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--mesh data=N[,fsdp=M][,tensor=K]" in err and "leave" in err
    assert not out.exists()
    config = tmp_path / "settings.toml"
    config.write_text('mesh = ""\n')
    assert cli.main(["train", "--config", str(config), "--steps", "1", "--out", str(out)]) == 2
    assert "mesh" in capsys.readouterr().err
    assert not out.exists()
    assert TrainConfig().mesh == ""  # the default, as the API and run.json keep it


# --- a real run of two processes --------------------------------------------------------------

TINY = ["--layers", "2", "--width", "32", "--heads", "4", "--block", "16", "--batch", "8",
        "--eval-every", "10", "--eval-batches", "2", "--sample-tokens", "5",
        "--checkpoint-every", "10", "--steps", "10", "--mesh", "fsdp=4"]


def _train(out, devices, processes=1):
    import os
    import socket
    import subprocess
    import sys

    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    command = [sys.executable, "-m", "levante", "train", *TINY, "--out", str(out)]
    if processes > 1:
        with socket.socket() as s:
            s.bind(("localhost", 0))
            port = s.getsockname()[1]
        command += ["--coordinator", f"localhost:{port}", "--num-processes", str(processes)]
    workers = [subprocess.Popen(command + (["--process-id", str(i)] if processes > 1 else []),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for i in range(processes)]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-3000:]


@pytest.mark.slow  # three JAX processes start, compile and (two of them) join
def test_sample_reads_a_two_process_run(tmp_path, capsys):
    import jax

    two, one = tmp_path / "two", tmp_path / "one"
    _train(two, devices=2, processes=2)  # fsdp=4: each process holds half of each matrix
    _train(one, devices=4)
    record = json.loads((two / "run.json").read_text())["shards"]
    assert record["processes"] == 2 and record["sha256"][0] != record["sha256"][1]
    _, _, _, _, assembled = load_params(two)
    _, _, _, _, whole = load_params(one)
    # the two runs' losses agree within 1e-5; AdamW's normalized steps leave entries whose
    # gradients are near zero a few 1e-5 apart, while a slice put in the wrong place would
    # be off by the parameters' own size (1e-2)
    for a, b in zip(jax.tree.leaves(assembled), jax.tree.leaves(whole)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=2e-4)
    assert cli.main(["sample", str(two), "--tokens", "10"]) == 0
    assert cli.main(["export", str(two), str(tmp_path / "hf"), "--format", "hf"]) == 0
    assert (tmp_path / "hf" / "model.safetensors").is_file()
