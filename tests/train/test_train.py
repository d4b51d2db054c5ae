"""levante train / sample / bench, end to end on a tiny model and a generated corpus."""

import io
import json

import numpy as np
import pytest

from levante import cli
from levante.train import TrainConfig, TrainError, read_record, train

TINY = ["--layers", "1", "--heads", "2", "--width", "16", "--block", "16", "--batch", "4",
        "--eval-every", "5", "--eval-batches", "2", "--sample-tokens", "20"]


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "\n"]
    path = tmp_path / "corpus.txt"
    path.write_text(" ".join(rng.choice(words, 3000)), encoding="utf-8")
    return path


def run_cli(*argv):
    return cli.main([str(a) for a in argv])


def test_train_writes_a_complete_run(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli("train", *TINY, "--steps", 12, "--data", corpus, "--out", out) == 0
    record = read_record(out)
    assert record["step"] == 12
    assert {p.name for p in out.iterdir()} >= {"run.json", "checkpoint-12.safetensors",
                                               "metrics.jsonl", "loss.png", "samples.txt"}
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in lines] == list(range(1, 13))
    assert sum("val_loss" in entry for entry in lines) == 3  # steps 5, 10, 12
    assert "--- sample ---" in capsys.readouterr().out


def test_loss_falls(corpus, tmp_path):
    out = tmp_path / "run"
    train(TrainConfig(layers=1, heads=2, width=32, block=16, batch=8, steps=60, eval_every=60,
                      eval_batches=2, sample_tokens=5, lr=3e-3, warmup=5, data=str(corpus),
                      out=str(out)), stream=io.StringIO())
    history = read_record(out)["history"]
    first = np.mean([h["train_loss"] for h in history[:5]])
    last = np.mean([h["train_loss"] for h in history[-5:]])
    assert last < first - 0.5


def test_interrupted_run_resumes_to_the_same_losses(corpus, tmp_path, monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    settings = dict(layers=1, heads=2, width=16, block=16, batch=4, steps=8, eval_every=4,
                    eval_batches=2, sample_tokens=3, checkpoint_every=100, data=str(corpus))
    quiet = io.StringIO()
    train(TrainConfig(**settings, out=str(whole)), stream=quiet)

    import levante.train._loop as loop

    real = loop.data.get_batch

    def interrupting(ids, block, batch, seed, step):
        if seed == settings.get("seed", 0) and step == 5:  # step 6 starts: 1-5 are done
            raise KeyboardInterrupt
        return real(ids, block, batch, seed, step)

    monkeypatch.setattr(loop.data, "get_batch", interrupting)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**settings, out=str(cut)), stream=quiet)
    assert read_record(cut)["step"] == 5
    monkeypatch.setattr(loop.data, "get_batch", real)
    train(None, resume=str(cut), stream=quiet)
    expected = [h["train_loss"] for h in read_record(whole)["history"]]
    assert [h["train_loss"] for h in read_record(cut)["history"]] == expected


def test_sample_command(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    run_cli("train", *TINY, "--steps", 3, "--data", corpus, "--out", out)
    capsys.readouterr()
    assert run_cli("sample", out, "--prompt", "to be", "--tokens", 30, "--seed", 1) == 0
    text = capsys.readouterr().out
    assert text.startswith("to be") and len(text.rstrip("\n")) >= 30


def test_bench_prints_json(capsys):
    assert run_cli("bench", "--layers", "1", "--heads", "2", "--width", "16", "--block", "16",
                   "--batch", "2", "--json", "--bench-steps", "2") == 0
    figures = json.loads(capsys.readouterr().out)
    for name in ("train_ms_per_step", "train_tokens_per_s", "sample_tokens_per_s"):
        assert figures[name] > 0


def written(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: ["--data", p / "missing.txt"], "no such file"),
    (lambda p: ["--data", written(p / "e.txt", "")], "empty"),
    (lambda p: ["--data", written(p / "s.txt", "tiny text")], "fewer"),
    (lambda p: ["--heads", "3"], "must divide"),
    (lambda p: ["--config", written(p / "c.toml", "layerz = 2")], "unknown setting"),
    (lambda p: ["--config", written(p / "c.json", "{bad")], "not valid JSON"),
    # these were a RecursionError, a UnicodeDecodeError and an AttributeError traceback,
    # and /dev/zero was read until the memory ran out
    (lambda p: ["--config", written(p / "c.json", "[" * 100_000 + "]" * 100_000)],
     "nested too deeply"),
    (lambda p: ["--config", written(p / "c.toml", "a = " + "[" * 5000 + "]" * 5000)],
     "nested too deeply"),
    (lambda p: ["--config", (p / "c.toml").write_bytes(b"\xff = 1") and p / "c.toml"],
     "not UTF-8"),
    (lambda p: ["--config", written(p / "c.json", "[1, 2]")], "holds a list, not the JSON"),
    (lambda p: ["--config", "/dev/zero"], "is a device, not a file"),
    (lambda p: ["--config", written(p / "c.toml", "#" * (1 << 20) + "\n")], "larger than"),
    (lambda p: ["--config", written(p / "c.yaml", "layers: 2")], "not valid TOML"),
])
def test_bad_input_is_a_message_and_exit_2(tmp_path, capsys, make, message):
    argv = ["train", *TINY, "--steps", 2, "--out", tmp_path / "run", *make(tmp_path)]
    assert run_cli(*argv) == 2
    assert message in capsys.readouterr().err


def test_not_a_run_and_bad_prompt(corpus, tmp_path, capsys):
    assert run_cli("sample", tmp_path, "--tokens", 3) == 2
    assert "not a levante run" in capsys.readouterr().err
    out = tmp_path / "run"
    run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out)
    capsys.readouterr()
    assert run_cli("sample", out, "--prompt", "ZQ", "--tokens", 3) == 2
    assert "not in the vocabulary" in capsys.readouterr().err


def test_corrupt_checkpoint_is_refused_and_kept(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out)
    checkpoint = out / "checkpoint-2.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:-100])
    capsys.readouterr()
    assert run_cli("sample", out, "--tokens", 3) == 2
    assert "corrupt or truncated" in capsys.readouterr().err
    assert checkpoint.exists()


def test_existing_run_is_not_overwritten(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out)
    before = (out / "checkpoint-2.safetensors").read_bytes()
    assert run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (out / "checkpoint-2.safetensors").read_bytes() == before


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out)
    good = read_record(out)
    with pytest.raises(TrainError, match="loss became"):
        import levante.train._loop as loop

        real = loop.make_step

        def poisoned(*args):
            step = real(*args)
            return lambda *a: (*step(*a)[:2], np.float32("nan"))

        loop.make_step = poisoned
        try:
            train(None, resume=str(out), steps=4, stream=io.StringIO())
        finally:
            loop.make_step = real
    assert read_record(out)["checkpoint"] == good["checkpoint"]
    assert (out / good["checkpoint"]).exists()


def test_resume_refuses_other_settings(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out)
    capsys.readouterr()
    assert run_cli("train", "--resume", out, "--width", 32) == 2
    assert "--width cannot change them" in capsys.readouterr().err


def test_llama_style_settings_train(corpus, tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", *TINY, "--steps", 2, "--data", corpus, "--out", out,
                   "--positions", "rotary", "--gated", "--norm", "rms", "--activation", "silu",
                   "--no-bias", "--no-tie") == 0
    from levante.train import load_params

    _, _, _, config, params = load_params(out)
    assert (config.gated, config.activation, config.bias, config.tie) == (True, "silu", False,
                                                                          False)
    assert "head" in params and "positions" not in params
