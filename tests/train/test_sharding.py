"""Sharding over many devices and processes: meshes, partition rules, sharded init,
gradient accumulation, mixed precision, sharded checkpoints, several processes.

The runs over 8 devices happen in one subprocess with forced CPU devices (the device count
is fixed when JAX starts); the other checks run here on the one CPU device.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import levante.train as lt
from levante.train._distributed import check_distributed
from levante.train._mesh import parse_mesh

SCRIPT = Path(__file__).with_name("_scale_script.py")


def run_script(*args, devices=8, timeout=900):
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def checks():
    return run_script("checks")


# --- over 8 devices ---------------------------------------------------------------------

def test_every_mesh_gives_the_one_device_losses(checks):
    assert checks["devices"] == 8
    one = np.array(checks["losses"]["data=1"])
    assert np.isfinite(one).all() and one[-1] < one[0] - 0.5  # it learns
    for spec in ("data=8", "data=2,fsdp=4", "data=2,tensor=4"):
        np.testing.assert_allclose(checks["losses"][spec], one, rtol=0, atol=1e-5,
                                   err_msg=spec)


def test_parameters_split_as_asked(checks):
    specs = checks["specs"]
    # data parallelism: every parameter whole on each of the 8 devices
    assert specs["data=8"]["up"] == "(None, 'tensor')" and specs["data=8"]["devices_up"] == 8
    # FSDP: the largest axis that 4 divides; Megatron's columns, then rows
    fsdp = specs["data=2,fsdp=4"]
    assert fsdp["qkv"] == "('fsdp', 'tensor')"      # (32, 96): 96 goes to tensor first
    assert fsdp["down"] == "('tensor', 'fsdp')"
    assert fsdp["embed"] == "(None, 'fsdp')"        # (vocab, 32): the vocabulary is odd
    assert fsdp["norm"] == "('fsdp',)"
    tensor = specs["data=2,tensor=4"]
    assert (tensor["qkv"], tensor["out"]) == ("(None, 'tensor')", "('tensor', None)")
    assert (tensor["up"], tensor["down"]) == ("(None, 'tensor')", "('tensor', None)")
    assert tensor["embed"] == "(None, None)"
    for spec in specs.values():  # the optimizer's moments split like their parameters
        assert spec["all_like_params"] and spec["mu_up"] == spec["up"]


def test_fsdp_holds_a_quarter_per_device(checks):
    whole, data, fsdp = (checks["whole_bytes"], checks["bytes"]["data=8"],
                         checks["bytes"]["data=2,fsdp=4"])
    assert data == whole  # data parallelism keeps a whole copy per device
    assert 0.25 <= fsdp / whole < 0.27, fsdp / whole  # only scalars stay whole


def test_gradient_accumulation_equals_the_whole_batch(checks):
    # mesh data=2, batches of 8 rows in 4 micro-batches, against 8 rows on one device
    np.testing.assert_allclose(checks["accumulate"], checks["losses"]["data=1"],
                               rtol=0, atol=2e-5)


def test_bfloat16_trains_with_float32_state(checks):
    half, full = np.array(checks["bf16"]["losses"]), np.array(checks["losses"]["data=1"])
    assert checks["bf16"]["dtypes"] == ["float32", "int32"]  # parameters, moments, count
    assert half[-1] < half[0] - 0.5
    assert abs(half[-5:].mean() - full[-5:].mean()) < 0.03 * full[-5:].mean()


def test_sharded_checkpoint_resumes_bit_identically(checks):
    resume = checks["resume"]
    # saved after step 10 of the data=2,fsdp=4 run, read into a state made from another seed
    assert resume["resumed"] == checks["losses"]["data=2,fsdp=4"][10:]
    assert resume["same_sharding"]
    assert resume["files"] == ["checkpoint-10.process-0-of-1.safetensors"]


def test_gpt2_loads_straight_into_shards(checks):
    loaded = checks["gpt2"]
    assert loaded["equal"] and loaded["shardings"]
    assert loaded["qkv"] == "('fsdp', 'tensor')"
    assert loaded["largest_shard"] * 4 == loaded["largest_leaf"]  # no leaf whole anywhere


# --- several processes ------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start_workers(steps, processes=2):
    address = f"localhost:{free_port()}"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    return [subprocess.Popen([sys.executable, "-u", str(SCRIPT), "worker", address,
                              str(processes), str(i), str(steps)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for i in range(processes)]


def test_two_processes_give_the_one_process_losses(checks):
    workers = start_workers(10)
    try:
        outputs = [w.communicate(timeout=600) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    losses = [[json.loads(line)["loss"] for line in out.splitlines() if line.startswith("{")]
              for out, _ in outputs]
    assert losses[0] == losses[1]  # every process sees the same global loss
    # the same global batches and seed in one process on one device
    np.testing.assert_allclose(losses[0], checks["losses"]["data=1"][:10], rtol=0, atol=1e-5)


@pytest.mark.slow  # two JAX processes start and compile, then wait out a heartbeat timeout
def test_a_lost_process_stops_the_other():
    workers = start_workers(100_000)
    try:
        for line in workers[1].stdout:  # let both start training
            if line.startswith("{") and json.loads(line)["step"] >= 3:
                break
        workers[1].send_signal(signal.SIGKILL)
        began = time.monotonic()
        _, err = workers[0].communicate(timeout=120)
        took = time.monotonic() - began
    finally:
        for w in workers:
            w.kill()
    assert workers[0].returncode != 0
    assert took < 60, took
    assert "stopped sending heartbeats" in err and "\n1\n" in err, err[-3000:]


# --- here, on one device ----------------------------------------------------------------

def test_mesh_strings_and_errors():
    assert parse_mesh("data=2, fsdp=4") == {"data": 2, "fsdp": 4, "tensor": None}
    assert parse_mesh({"tensor": 2}) == {"data": None, "fsdp": None, "tensor": 2}
    assert dict(lt.mesh().shape) == {"data": jax.device_count(), "fsdp": 1, "tensor": 1}
    for bad, words in [("data", "not axis=size"), ("pipe=2", "the axes are"),
                       ("data=0", "at least 1"), ("data=two", "positive whole number"),
                       ("data=1,data=1", "twice"), ("data=4096", "XLA_FLAGS")]:
        with pytest.raises(lt.TrainError, match=words):
            lt.mesh(bad)


def test_rules_are_checked_against_shapes():
    mesh = lt.mesh("data=1")
    tree = {"a": {"w": np.zeros((3, 4))}}
    assert lt.param_specs(tree, mesh, {"a/w": ("tensor", None)})["a"]["w"] == \
        jax.sharding.PartitionSpec("tensor", None)
    with pytest.raises(lt.TrainError, match="names 1 axes"):
        lt.param_specs(tree, mesh, {"a/w": ("tensor",)})
    with pytest.raises(lt.TrainError, match="mesh axis 'model'"):
        lt.param_specs(tree, mesh, {"a/w": (None, "model")})


def test_fsdp_takes_the_largest_axis_it_divides():
    from levante.train._partition import _fsdp

    assert _fsdp((6, 8, 4), (None, None, None), 4) == (None, "fsdp", None)
    assert _fsdp((8, 8), (None, None), 4) == ("fsdp", None)          # the first of equals
    assert _fsdp((12, 8), (None, "tensor"), 4) == ("fsdp", "tensor")  # not an axis taken
    assert _fsdp((3, 5), (None, None), 4) == (None, None)             # nothing divides
    assert _fsdp((), (), 4) == ()


def test_batch_rows_must_split_evenly():
    mesh = lt.mesh("data=1")
    assert lt.process_rows(5, mesh) == slice(0, 5)
    with pytest.raises(lt.TrainError, match="equal micro-batches"):
        lt.accumulate_gradients(lambda w, x: jnp.sum(w * x), 1.0, (jnp.ones(5),), steps=2)
    with pytest.raises(lt.TrainError, match="whole number"):
        lt.accumulate_gradients(lambda w, x: jnp.sum(w * x), 1.0, (jnp.ones(4),), steps=0)


def test_accumulation_against_the_whole_batch_with_dropout_keys():
    def loss(w, x, key=None):
        keep = jnp.ones_like(x) if key is None else jax.random.bernoulli(key, 0.5, x.shape)
        return jnp.mean((x * keep) @ w)

    w, x = jnp.arange(3.0), jnp.arange(24.0).reshape(8, 3)
    value, grad = lt.accumulate_gradients(loss, w, (x,), steps=4)
    np.testing.assert_allclose(value, loss(w, x), rtol=1e-6)
    np.testing.assert_allclose(grad, jax.grad(loss)(w, x), rtol=1e-6)
    key = jax.random.key(3)
    value, _ = lt.accumulate_gradients(loss, w, (x,), steps=4, key=key)
    parts = [loss(w, x[i::4], key=jax.random.fold_in(key, i)) for i in range(4)]
    np.testing.assert_allclose(value, np.mean(parts), rtol=1e-6)


def test_distributed_settings_are_checked():
    assert not check_distributed(None, None, None)
    for args, words in [(("localhost:1", 2, None), "all of"),
                        (("localhost", 2, 0), "HOST:PORT"), (("h:70000", 2, 0), "HOST:PORT"),
                        (("h:1", 0, 0), "at least 1"), (("h:1", 2, 2), "0 ... 1")]:
        with pytest.raises(lt.TrainError, match=words):
            check_distributed(*args)
