"""Real Ctrl-C: SIGINT delivered to a `levante train` process at many moments (start-up,
between steps, during checkpoint writes, twice in a row). Afterwards the run either holds a
checkpoint whose step label matches its updates (resuming it gives bit-for-bit the losses
and log of an uninterrupted run) or holds nothing and leaves no directory behind."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from levante import cli
from levante.train import load_params, read_record, train

STEPS = 30
FLAGS = ["--layers", "1", "--heads", "2", "--width", "16", "--block", "16", "--batch", "4",
         "--eval-every", "4", "--eval-batches", "2", "--sample-tokens", "3",
         "--steps", str(STEPS)]
TIMINGS = ("tokens_per_s", "ms_per_step")


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "run"
    assert cli.main(["train", *FLAGS, "--data", str(corpus), "--out", str(out)]) == 0
    return out


def rows(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def launch(corpus, out, every):
    # SIGINT back to Python's default first: a process started in the background inherits
    # it ignored (and preexec_fn would fork a multithreaded JAX process)
    code = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
            " sys.argv[0] = 'levante'; runpy.run_module('levante', run_name='__main__')")
    return subprocess.Popen(
        [sys.executable, "-c", code, "train", *FLAGS, "--checkpoint-every", str(every),
         "--data", str(corpus), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"})


def rows_written(out):
    try:
        return len((out / "metrics.jsonl").read_text().splitlines())
    except OSError:
        return 0


def interrupt(corpus, out, *, after_rows=None, after_s=None, every=3, gaps=()):
    """Start a run, wait for `after_rows` rows of its log (or `after_s` seconds), send
    SIGINT, then one more SIGINT after each of `gaps` seconds; the exit status and output."""
    process = launch(corpus, out, every)
    deadline = time.monotonic() + 240
    if after_s is not None:
        time.sleep(after_s)
    while after_rows is not None and rows_written(out) < after_rows:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    for gap in gaps:
        time.sleep(gap)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=240)
    return process.returncode, stdout, stderr


def check_and_resume(out, reference, status, stdout, stderr, signals=1):
    assert status in (0, 130, -signal.SIGINT), stderr
    assert "has been deleted" not in stderr, stderr
    if status != -signal.SIGINT:  # not killed while importing: no traceback of levante's
        # a further Ctrl-C that lands in a garbage-collection callback is reported by Python
        # itself as "Exception ignored" (the flag set by the first one still stops the run)
        ignored = stderr.count("Exception ignored in") if signals > 1 else 0
        assert stderr.count("Traceback") == ignored, stderr
    if not (out / "run.json").exists():
        assert not out.exists(), sorted(p.name for p in out.iterdir())  # nothing left behind
        return None
    record = read_record(out)
    load_params(out)  # whole: the hash and every shape match
    step = record["step"]
    assert [h["step"] for h in record["history"]] == list(range(1, step + 1))
    if signals == 1:  # a further Ctrl-C may stop the process before it says so
        assert f"checkpoint of step {step}" in stdout or status == 0
    train(None, resume=str(out), stream=io.StringIO())
    assert rows(out) == rows(reference)  # bit-identical losses, and the same log
    assert read_record(out)["sha256"] == read_record(reference)["sha256"]
    return step


def test_ctrl_c_between_steps_saves_the_committed_state(corpus, reference, tmp_path):
    out = tmp_path / "run"
    status, stdout, stderr = interrupt(corpus, out, after_rows=10)
    assert status == 130
    step = check_and_resume(out, reference, status, stdout, stderr)
    assert step is not None and step >= 10


def test_ctrl_c_during_start_up_leaves_nothing(corpus, reference, tmp_path):
    out = tmp_path / "run"
    status, _, stderr = interrupt(corpus, out, after_s=0.5)
    # 130 once the command runs; a Ctrl-C while Python still imports JAX ends the process
    # by the signal itself (-SIGINT), before any levante code has run
    assert status in (130, -signal.SIGINT), stderr
    assert not out.exists()


def test_two_ctrl_c_during_checkpoint_writes(corpus, reference, tmp_path):
    # a checkpoint every step: the signals land in writes as often as in steps
    out = tmp_path / "run"
    status, stdout, stderr = interrupt(corpus, out, after_rows=6, every=1, gaps=(0.002,))
    check_and_resume(out, reference, status, stdout, stderr, signals=2)


# slow: 12 more processes and their resumes, about two minutes on two cores
@pytest.mark.slow
@pytest.mark.parametrize("moment", range(12))
def test_ctrl_c_at_many_moments(corpus, reference, tmp_path, moment):
    rng = np.random.default_rng(moment)
    out = tmp_path / "run"
    every = int(rng.choice([1, 2, 5]))
    if moment < 3:  # start-up: imports, the corpus, the first compilation
        kwargs = dict(after_s=float(rng.uniform(0.2, 6.0)))
    else:
        kwargs = dict(after_rows=int(rng.integers(1, STEPS - 2)))
    gaps = tuple(rng.uniform(0, 0.05, size=moment % 3))  # one, two or three Ctrl-C
    status, stdout, stderr = interrupt(corpus, out, every=every, gaps=gaps, **kwargs)
    check_and_resume(out, reference, status, stdout, stderr, signals=1 + len(gaps))
