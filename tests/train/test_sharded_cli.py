"""`levante train` on a mesh, with gradient accumulation, bf16, and several processes: the
losses are the one-device run's, and a killed run resumes to the uninterrupted losses.

Each run is a process of its own with forced CPU devices (the count is fixed when JAX
starts)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

TINY = ["--layers", "2", "--width", "32", "--heads", "4", "--block", "16", "--batch", "8",
        "--eval-every", "10", "--eval-batches", "2", "--sample-tokens", "5",
        "--checkpoint-every", "10"]


def command(*args):
    return [sys.executable, "-m", "levante", "train", *TINY, *args]


def environment(devices):
    return {**os.environ, "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


def run(args, devices=1):
    done = subprocess.run(command(*args), env=environment(devices), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def metrics(directory):
    return [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]


def losses(directory):
    return [row["train_loss"] for row in metrics(directory)]


def step_of(directory):
    try:
        return json.loads((directory / "run.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        return 0


def kill_after_checkpoint(processes, directory, step):
    """SIGKILL `processes` once run.json names a checkpoint of at least `step`."""
    deadline = time.monotonic() + 600
    while step_of(directory) < step and time.monotonic() < deadline:
        assert all(p.poll() is None for p in processes), "a run ended before it was killed"
        time.sleep(0.02)
    for p in processes:
        p.send_signal(signal.SIGKILL)
        p.wait()
    return step_of(directory)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "run"
    run(["--steps", "60", "--out", str(out)])
    return out


def test_mesh_and_accumulation_give_the_one_device_losses_and_resume(one_device, tmp_path):
    flags = ["--steps", "60", "--mesh", "data=2,fsdp=2", "--grad-accum", "2"]
    straight = tmp_path / "straight"
    run([*flags, "--out", str(straight)], devices=4)
    np.testing.assert_allclose(losses(straight), losses(one_device), rtol=0, atol=1e-5)
    record = json.loads((straight / "run.json").read_text())
    assert record["settings"]["mesh"] == "data=2,fsdp=2"
    assert record["settings"]["grad_accum"] == 2

    killed = tmp_path / "killed"
    process = subprocess.Popen(command(*flags, "--out", str(killed)), env=environment(4),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    step = kill_after_checkpoint([process], killed, 10)
    assert 10 <= step < 60
    done = subprocess.run([sys.executable, "-m", "levante", "train", "--resume", str(killed)],
                          env=environment(4), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert losses(killed) == losses(straight)  # bit for bit
    assert [r["step"] for r in metrics(killed)] == list(range(1, 61))


def test_bf16_trains_with_float32_parameters(one_device, tmp_path):
    out = tmp_path / "bf16"
    run(["--steps", "60", "--precision", "bf16", "--out", str(out)])
    half, full = np.array(losses(out)), np.array(losses(one_device))
    assert half[-10:].mean() < half[:10].mean() - 0.3
    assert abs(half[-10:].mean() - full[-10:].mean()) < 0.03 * full[-10:].mean()
    from safetensors.numpy import load_file

    arrays = load_file(str(out / json.loads((out / "run.json").read_text())["checkpoint"]))
    assert {str(a.dtype) for a in arrays.values()} <= {"float32", "int32"}


@pytest.mark.slow  # the main job twice (200 steps), float32 and bf16
def test_bf16_main_job_within_one_percent(tmp_path):
    finals = {}
    for precision in ("float32", "bf16"):
        out = tmp_path / precision
        done = subprocess.run([sys.executable, "-m", "levante", "train", "--steps", "200",
                               "--precision", precision, "--sample-tokens", "5",
                               "--out", str(out)], env=environment(1), capture_output=True,
                              text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]
        finals[precision] = np.mean(losses(out)[-20:])
    assert abs(finals["bf16"] - finals["float32"]) < 0.01 * finals["float32"], finals


def test_settings_that_cannot_work_are_refused_before_training(tmp_path):
    for args, words in [(["--mesh", "data=3"], "needs 3 devices"),
                        (["--mesh", "pipe=2"], "the axes are"),
                        (["--grad-accum", "3"], "must divide --batch"),
                        (["--mesh", "data=2", "--grad-accum", "8"], "split evenly"),
                        (["--precision", "fp8"], "--precision is"),
                        (["--coordinator", "localhost:1"], "all of")]:
        out = tmp_path / "refused"
        done = subprocess.run(command("--steps", "2", "--out", str(out), *args),
                              env=environment(2), capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, (args, done.stderr[-2000:])
        assert words in done.stderr, (args, done.stderr[-2000:])
        assert not out.exists()


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start_processes(args, processes=2):
    address = f"localhost:{free_port()}"
    return [subprocess.Popen(
        [sys.executable, "-m", "levante", "train", *args, "--coordinator", address,
         "--num-processes", str(processes), "--process-id", str(i)],
        env=environment(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(processes)]


@pytest.mark.slow  # four JAX processes start, compile and join
def test_two_processes_train_resume_and_write_once(one_device, tmp_path):
    out = tmp_path / "two"
    flags = [*TINY, "--steps", "60", "--mesh", "data=2,fsdp=2", "--out", str(out)]
    step = kill_after_checkpoint(start_processes(flags), out, 10)
    assert 10 <= step < 60
    names = sorted(p.name for p in out.iterdir())
    assert f"checkpoint-{step}.safetensors" in names  # process 0's slices, named by run.json
    assert f"checkpoint-{step}.process-1-of-2.safetensors" in names
    workers = start_processes(["--resume", str(out)])
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    # only process 0 speaks (Gloo's own connection lines aside)
    assert "validation loss" in outputs[0][0] and "levante" not in outputs[1][0]
    np.testing.assert_allclose(losses(out), losses(one_device), rtol=0, atol=1e-5)
    assert [r["step"] for r in metrics(out)] == list(range(1, 61))
