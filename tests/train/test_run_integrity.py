"""A run's state is what its label says, and a run directory is untrusted input.

One tiny run is trained per module and copied into each test; every hostile input of the
run directory is checked through `load_params` (what `levante sample` uses) and through
`levante train --resume`, and must be one TrainError naming the field or file."""

import errno
import io
import json
import os
import shutil
import time

import pytest

from levante import cli
from levante.train import TrainConfig, TrainError, _checkpoint, load_params, read_record, train

TINY = dict(layers=1, heads=2, width=16, block=16, batch=4, eval_every=3, eval_batches=2,
            sample_tokens=3, checkpoint_every=2)
TIMINGS = ("tokens_per_s", "ms_per_step")  # measurements of the machine, not of the run


@pytest.fixture(scope="module")
def whole(corpus, tmp_path_factory):
    """An uninterrupted run of 6 steps: the reference for every resumed one."""
    out = tmp_path_factory.mktemp("whole") / "run"
    train(TrainConfig(**TINY, steps=6, data=str(corpus), out=str(out)), stream=io.StringIO())
    return out


@pytest.fixture(scope="module")
def base(corpus, tmp_path_factory):
    """The same run of 6 steps, stopped by an interrupt after step 4 (checkpoint-4); copied
    by each test that changes it."""
    import levante.train._loop as loop

    out = tmp_path_factory.mktemp("base") / "run"
    real = loop.data.get_batch

    def interrupting(ids, block, batch, seed, step):
        if step == 4:
            raise KeyboardInterrupt
        return real(ids, block, batch, seed, step)

    loop.data.get_batch = interrupting
    try:
        with pytest.raises(KeyboardInterrupt):
            train(TrainConfig(**TINY, steps=6, data=str(corpus), out=str(out)),
                  stream=io.StringIO())
    finally:
        loop.data.get_batch = real
    assert read_record(out)["step"] == 4
    return out


@pytest.fixture
def finished(whole, tmp_path):
    copy = tmp_path / "finished"
    shutil.copytree(whole, copy)
    return copy


@pytest.fixture
def run(base, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(base, copy)
    return copy


def rows(path):
    """metrics.jsonl without the timings."""
    lines = (path / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def snapshot(run):
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def edit(run, change):
    record = json.loads((run / "run.json").read_text())
    change(record)
    (run / "run.json").write_text(json.dumps(record))


def fail_load(run, match):
    started = time.perf_counter()
    with pytest.raises(TrainError, match=match):
        load_params(run)
    with pytest.raises(TrainError, match=match):
        train(None, resume=str(run), steps=8, stream=io.StringIO())
    return time.perf_counter() - started


# --- resuming ---------------------------------------------------------------------------------

def test_resumed_run_equals_the_uninterrupted_one(run, whole):
    train(None, resume=str(run), stream=io.StringIO())
    assert rows(run) == rows(whole)
    assert [h["train_loss"] for h in read_record(run)["history"]] == \
        [h["train_loss"] for h in read_record(whole)["history"]]
    assert read_record(run)["sha256"] == read_record(whole)["sha256"]  # bit-identical state


def test_resume_rewrites_the_log_from_the_checkpoint(run, whole):
    # a crash after step 5 left a row the checkpoint (step 4) does not hold, and a stale one
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 5, "train_loss": 9.0}) + "\n")
        f.write(json.dumps({"step": 3, "train_loss": 9.0}) + "\n")
    train(None, resume=str(run), stream=io.StringIO())
    steps = [row["step"] for row in rows(run)]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert rows(run) == rows(whole)


def test_a_fresh_run_never_appends_to_an_old_log(corpus, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text(json.dumps({"step": 99, "train_loss": 1.0}) + "\n")
    train(TrainConfig(**TINY, steps=2, data=str(corpus), out=str(out)), stream=io.StringIO())
    assert [row["step"] for row in rows(out)] == [1, 2]


def test_resume_with_fewer_steps_is_an_error_and_touches_nothing(run, capsys):
    before = snapshot(run)
    assert cli.main(["train", "--resume", str(run), "--steps", "2"]) == 2
    error = capsys.readouterr().err
    assert "at step 4" in error and "--steps 2 asks for fewer" in error
    assert snapshot(run) == before


def test_resuming_a_finished_run_says_so_and_touches_nothing(finished, capsys):
    before = snapshot(finished)
    assert cli.main(["train", "--resume", str(finished)]) == 0
    assert "is finished at step 6 of 6" in capsys.readouterr().out
    assert cli.main(["train", "--resume", str(finished), "--steps", "6"]) == 0
    assert snapshot(finished) == before


# --- orphans and failed writes ---------------------------------------------------------------

def test_orphaned_temporaries_are_removed_on_the_next_start(run, whole):
    (run / ".checkpoint-6.safetensors.tmp").write_bytes(b"\0" * 1000)
    (run / ".run.json.tmp").write_text('{"format": "levante.run/1", "st')  # a truncated write
    out = io.StringIO()
    train(None, resume=str(run), stream=out)
    assert not list(run.glob(".*.tmp"))
    assert "removed 2 file(s)" in out.getvalue()
    assert rows(run) == rows(whole)


def test_every_file_is_written_through_the_atomic_protocol(run, monkeypatch):
    written = []
    real = _checkpoint.write_atomically
    monkeypatch.setattr(_checkpoint, "write_atomically",
                        lambda path, write: (written.append(os.path.basename(path)),
                                             real(path, write))[1])
    train(None, resume=str(run), stream=io.StringIO())
    assert set(written) >= {"checkpoint-6.safetensors", "run.json", "metrics.jsonl",
                            "loss.png", "samples.txt", ".levante-write-check"}
    assert not list(run.glob(".*"))


def disk_full(after=0):
    calls = []

    def write(arrays, path):
        calls.append(path)
        with open(path, "wb") as f:
            f.write(b"\0" * 100)  # part of the file reached the disk
        if len(calls) > after:
            raise OSError(errno.ENOSPC, "No space left on device")
        from safetensors.numpy import save_file
        save_file(arrays, path)

    return write


def test_full_disk_during_a_checkpoint_keeps_the_last_good_one(run, monkeypatch, capsys):
    monkeypatch.setattr(_checkpoint, "save_file", disk_full())
    assert cli.main(["train", "--resume", str(run), "--steps", "8"]) == 2
    error = capsys.readouterr().err
    assert f"cannot write {run / 'checkpoint-6.safetensors'}: the disk is full" in error
    assert "the checkpoint of step 4" in error and "is kept" in error
    monkeypatch.undo()
    assert read_record(run)["step"] == 4
    assert not list(run.glob(".*.tmp"))
    load_params(run)  # still whole


def test_full_disk_during_run_json_leaves_no_truncated_file(run, monkeypatch):
    real = _checkpoint.write_text

    def full(path, text):
        if path.name == "run.json":
            def partial(p):
                p.write_text(text[:20])
                raise OSError(errno.ENOSPC, "No space left on device")
            return _checkpoint.write_atomically(path, partial)
        return real(path, text)

    monkeypatch.setattr(_checkpoint, "write_text", full)
    with pytest.raises(TrainError, match=r"run\.json: the disk is full"):
        train(None, resume=str(run), stream=io.StringIO())
    assert read_record(run)["step"] == 4
    assert not list(run.glob(".*.tmp"))


def test_an_unwritable_run_directory_fails_before_training(corpus, tmp_path, monkeypatch,
                                                           capsys):
    # root ignores file modes: a read-only file system is simulated at the rename
    real = os.replace

    def read_only(source, target):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_checkpoint.os, "replace", read_only)
    out = tmp_path / "run"
    argv = ["train", "--layers", "1", "--heads", "2", "--width", "16", "--block", "16",
            "--steps", "2", "--data", str(corpus), "--out", str(out)]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert "cannot write" in error and "not writable" in error
    assert "levante train: gpt" not in error  # no training started
    assert not out.exists()
    monkeypatch.setattr(_checkpoint.os, "replace", real)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert cli.main([*argv[:-1], str(blocked / "run")]) == 2  # a parent that is a file
    assert f"cannot create the run directory {blocked / 'run'}" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--heads", "3"], "must divide"),
    (["--norm", "batch"], "--norm is layer or rms, not 'batch'"),
    (["--positions", "sinusoid"], "--positions is learned or rotary"),
    (["--activation", "swishy"], "activation is one of"),
    (["--validation", "0"], "--validation is a fraction"),
])
def test_invalid_settings_leave_no_directory(corpus, tmp_path, capsys, flags, message):
    out = tmp_path / "run"
    assert cli.main(["train", "--layers", "1", "--width", "16", "--block", "16", "--steps", "2",
                     "--data", str(corpus), "--out", str(out), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_interrupt_during_start_up_leaves_no_directory(corpus, tmp_path, monkeypatch):
    import levante.train._loop as loop

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(loop, "make_step", interrupted)  # after the directory is made
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**TINY, steps=2, data=str(corpus), out=str(out)),
              stream=io.StringIO())
    assert not out.exists()


# --- run directories are untrusted input -----------------------------------------------------

def fifo(path):
    path.unlink()
    os.mkfifo(path)


HOSTILE_RECORDS = {
    "random bytes": (lambda r: (r / "run.json").write_bytes(bytes(range(256)) * 4),
                     "not UTF-8"),
    "no checkpoint": (lambda r: edit(r, lambda d: d.pop("checkpoint")), "field 'checkpoint'"),
    "no sha256": (lambda r: edit(r, lambda d: d.pop("sha256")), "field 'sha256'"),
    "step sixty": (lambda r: edit(r, lambda d: d.update(step="sixty")), "field 'step'"),
    "step true": (lambda r: edit(r, lambda d: d.update(step=True)), "field 'step'"),
    "checkpoint a number": (lambda r: edit(r, lambda d: d.update(checkpoint=4)),
                            "field 'checkpoint'"),
    "checkpoint dot": (lambda r: edit(r, lambda d: d.update(checkpoint=".")),
                       "field 'checkpoint'"),
    "checkpoint /dev/zero": (lambda r: edit(r, lambda d: d.update(checkpoint="/dev/zero")),
                             "field 'checkpoint'"),
    "checkpoint ../": (lambda r: edit(r, lambda d: d.update(
        checkpoint="../run2/checkpoint-4.safetensors")), "field 'checkpoint'"),
    "relabelled checkpoint": (lambda r: edit(r, lambda d: d.update(step=40)),
                              "field 'checkpoint'"),
    "deep nesting": (lambda r: (r / "run.json").write_text("[" * 100_000 + "]" * 100_000),
                     "nested too deeply"),
    "a list": (lambda r: (r / "run.json").write_text("[1, 2]"), "holds a list"),
    "not json": (lambda r: (r / "run.json").write_text("{step: 4"), "not valid JSON"),
    "another format": (lambda r: edit(r, lambda d: d.update(format="other/1")),
                       "field 'format'"),
    "layers a string": (lambda r: edit(r, lambda d: d["settings"].update(layers="1")),
                        "--layers is a whole number"),
    "unknown setting": (lambda r: edit(r, lambda d: d["settings"].update(evil=1)),
                        "unknown setting"),
    "settings a list": (lambda r: edit(r, lambda d: d.update(settings=[])), "field 'settings'"),
    "vocabulary symbols": (lambda r: edit(r, lambda d: d["vocabulary"].update(symbols=7)),
                           "vocabulary.symbols"),
    "history steps": (lambda r: edit(r, lambda d: d.update(history=[{"step": 9}])),
                      r"history\[0\].step"),
    "history values": (lambda r: edit(r, lambda d: d["history"][0].update(train_loss="x")),
                       r"history\[0\].train_loss"),
    "run.json a fifo": (lambda r: fifo(r / "run.json"), "not a regular file"),
    "checkpoint a fifo": (lambda r: fifo(r / "checkpoint-4.safetensors"), "not a regular file"),
    "checkpoint a directory": (lambda r: ((r / "checkpoint-4.safetensors").unlink(),
                                          (r / "checkpoint-4.safetensors").mkdir()),
                               "not a regular file"),
    "checkpoint a link to /dev/zero": (lambda r: ((r / "checkpoint-4.safetensors").unlink(),
                                                  (r / "checkpoint-4.safetensors")
                                                  .symlink_to("/dev/zero")),
                                       "symbolic link"),
    "checkpoint missing": (lambda r: (r / "checkpoint-4.safetensors").unlink(), "missing"),
    "checkpoint truncated": (lambda r: (r / "checkpoint-4.safetensors").write_bytes(
        (r / "checkpoint-4.safetensors").read_bytes()[:-10]), "corrupt or truncated"),
}


@pytest.mark.parametrize("name", HOSTILE_RECORDS)
def test_a_hostile_run_directory_is_one_clear_error(run, name):
    damage, message = HOSTILE_RECORDS[name]
    damage(run)
    assert fail_load(run, message) < 30  # FIFOs and /dev/zero never block


@pytest.mark.parametrize("setting, value, message", [
    ("layers", 100_000, "holds 1 block"),
    ("width", 4_000_000, "shape"),
    ("block", 10**9, "shape|--block"),
])
def test_sizes_are_checked_against_the_checkpoint_before_any_model_is_built(
        run, monkeypatch, setting, value, message):
    import levante.train._run as run_module

    def no_arrays(*args, **kwargs):
        raise AssertionError("arrays were built before the checkpoint's shapes were checked")

    edit(run, lambda d: d["settings"].update({setting: value}))
    monkeypatch.setattr(run_module._checkpoint, "load_arrays", no_arrays)
    assert fail_load(run, message) < 30


def test_the_command_line_reports_a_hostile_run_in_one_line(run, capsys):
    edit(run, lambda d: d.update(checkpoint="../../etc/passwd"))
    assert cli.main(["sample", str(run), "--tokens", "3"]) == 2
    error = capsys.readouterr().err
    assert "field 'checkpoint'" in error and "Traceback" not in error
    assert cli.main(["train", "--resume", str(run)]) == 2
    assert "field 'checkpoint'" in capsys.readouterr().err


def test_a_save_repeated_after_its_commit_rewrites_nothing(run):
    # a Ctrl-C after run.json moved but before the loop noted it: the same save runs again
    record = read_record(run)
    checkpoint = run / record["checkpoint"]
    (run / "checkpoint-2.safetensors").write_bytes(b"an older checkpoint not yet removed")
    before = (checkpoint.stat().st_ino, checkpoint.read_bytes())
    _checkpoint.save(run, 4, {}, {}, {}, {}, [])  # would write an empty checkpoint
    assert (checkpoint.stat().st_ino, checkpoint.read_bytes()) == before
    assert read_record(run) == record
    assert not (run / "checkpoint-2.safetensors").exists()


@pytest.mark.parametrize("seed", [-1, 2**63, 10**20])
def test_a_seed_outside_64_bits_is_a_train_error(seed):
    # numpy's default_rng refused -1 and jax.random.key overflowed past 2**63: raw tracebacks
    with pytest.raises(TrainError, match=r"--seed is a whole number in \[0, 2\*\*63\)"):
        TrainConfig(seed=seed)


def test_a_missing_run_is_named_as_missing(tmp_path):
    # it read "is not a directory", as if the path were a file
    with pytest.raises(TrainError, match=r"no such directory: .*nothing"):
        read_record(tmp_path / "nothing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrainError, match="file is not a directory"):
        read_record(tmp_path / "file")


def test_a_checkpoint_of_another_step_under_this_label_is_refused(run, whole):
    """Step 6's arrays filed as checkpoint-4 (with the hash recorded anew) would train with
    the schedule of step 6 while the log says 4: the optimizer's counters give it away."""
    import hashlib

    name = read_record(run)["checkpoint"]
    (run / name).write_bytes((whole / read_record(whole)["checkpoint"]).read_bytes())
    digest = hashlib.sha256((run / name).read_bytes()).hexdigest()
    edit(run, lambda record: record.update(sha256=digest))
    with pytest.raises(TrainError, match=r"counted 6 steps, but run\.json says step 4"):
        train(None, resume=str(run), steps=8, stream=io.StringIO())
