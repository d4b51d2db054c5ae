"""Bad input to the sharding pieces is one clear TrainError, never a raw exception or a
silently truncated value."""

import jax.numpy as jnp
import numpy as np
import pytest

import levante.train as lt
from levante.train import TrainError


@pytest.mark.parametrize("size", [2.5, 1.0, True, None, "1.5"])
def test_mesh_size_that_is_not_a_whole_number_is_an_error(size):
    # int(2.5) would silently make 2 devices
    with pytest.raises(TrainError, match="whole number"):
        lt.mesh({"data": size})


@pytest.mark.parametrize("size", [1, np.int64(1), "1"])
def test_mesh_size_as_int_numpy_int_or_digits(size):
    assert dict(lt.mesh({"data": size}).shape) == {"data": 1, "fsdp": 1, "tensor": 1}


@pytest.mark.parametrize("batch", [np.float32(3.0), [1, 2, 3]])
def test_shard_batch_of_scalars_is_an_error(batch):
    with pytest.raises(TrainError, match="rows first"):
        lt.shard_batch(batch, lt.mesh("data=1"))


def test_shard_batch_and_sharded_init_need_a_mesh():
    with pytest.raises(TrainError, match=r"jax\.sharding\.Mesh"):
        lt.shard_batch(np.zeros((2, 3)), "data=1")
    with pytest.raises(TrainError, match=r"jax\.sharding\.Mesh"):
        lt.sharded_init(lambda: jnp.zeros(3), mesh=None)


def test_tensor_axis_with_the_lstm_is_an_error():
    # the LSTM has no heads to split: tensor=4 only repeated its work on 4 devices
    with pytest.raises(TrainError, match="is for --model gpt"):
        lt.TrainConfig(model="lstm", mesh="data=2,tensor=4")
    lt.TrainConfig(model="lstm", mesh="data=2,fsdp=4")
    lt.TrainConfig(model="lstm", mesh="data=8,tensor=1")


def test_tensor_axis_must_divide_the_heads():
    with pytest.raises(TrainError, match="must divide --heads"):
        lt.TrainConfig(heads=2, mesh="data=2,tensor=4")
    lt.TrainConfig(heads=4, mesh="data=2,tensor=4")


def _closed_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_coordinator_that_does_not_answer_is_an_error_not_an_abort():
    # XLA's own connect aborts the process (SIGABRT, C++ stack trace) after its timeout
    with pytest.raises(TrainError, match="did not answer within 1 s"):
        lt.initialize_distributed(f"localhost:{_closed_port()}", 2, 1,
                                  initialization_timeout=1)


def test_a_coordinator_port_in_use_is_an_error(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = ("import levante.train as lt\n"
                "try:\n"
                f"    lt.initialize_distributed('localhost:{port}', 2, 0, "
                "initialization_timeout=5)\n"
                "except lt.TrainError as e:\n"
                "    print('TrainError:', e)\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)
    assert f"TrainError: process 0 of 2 cannot listen on localhost:{port}" in done.stdout, (
        done.stdout + done.stderr[-2000:])


@pytest.mark.parametrize("wrote, flags", [
    (1, ["--coordinator", "localhost:1", "--num-processes", "2", "--process-id", "0"]),
    (2, []),
])
def test_resume_with_another_process_count_fails_before_joining(tmp_path, capsys, wrote,
                                                                flags):
    # process 0 used to wait (up to 300 s) for partners before finding the topology wrong
    import json

    from levante import cli

    record = {"step": 10} if wrote == 1 else {"step": 10, "shards": {"processes": wrote}}
    (tmp_path / "run.json").write_text(json.dumps(record))
    assert cli.main(["train", "--resume", str(tmp_path), *flags]) == 2
    assert f"was trained by {wrote} process" in capsys.readouterr().err


@pytest.mark.parametrize("spec, message", [
    ("tensor", "write a tuple"),            # was read letter by letter: 6 axes
    (5, "write a tuple"),                   # was a raw TypeError
    (("tensor", "tensor"), "names a mesh axis twice"),
    ((("fsdp", "tensor"), "tensor"), "names a mesh axis twice"),
])
def test_a_malformed_sharding_rule_is_an_error(spec, message):
    with pytest.raises(TrainError, match=message):
        lt.param_specs({"w": np.zeros((8, 8))}, lt.mesh("data=1"), [("w", spec)])


def test_a_rule_that_splits_over_fsdp_is_not_split_again():
    # FSDP added 'fsdp' to a second axis: P('fsdp', 'fsdp'), a raw error from JAX
    from jax.sharding import AbstractMesh, PartitionSpec

    four = AbstractMesh((1, 4, 1), ("data", "fsdp", "tensor"))  # the specs need no devices
    specs = lt.param_specs({"w": np.zeros((8, 8)), "v": np.zeros((8, 8))}, four,
                           [("w", ("fsdp", None))])
    assert specs == {"w": PartitionSpec("fsdp", None), "v": PartitionSpec("fsdp", None)}
