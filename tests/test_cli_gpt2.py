"""The command line with GPT-2: `levante train --init-from` fine-tunes a Hugging Face
checkpoint with its BPE tokenizer (the loss falls, the run resumes), `levante export --format
hf` writes it back (transformers gives levante's logits), `levante sample` reads either."""

import json

import jax
import numpy as np
import pytest

from levante.cli import main

torch = pytest.importorskip("torch", reason="transformers' GPT-2 (the oracle) runs on PyTorch")
transformers = pytest.importorskip("transformers", reason="the oracle is transformers' GPT-2")

TEXT = ("First Citizen: Before we proceed any further, hear me speak.\n"
        "All: Speak, speak.\n"
        "First Citizen: You are all resolved rather to die than to famish?\n"
        "All: Resolved. resolved.\n\n")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A small random GPT-2 with a BPE tokenizer trained on the text, as transformers and
    tokenizers save them."""
    from tokenizers import ByteLevelBPETokenizer

    path = tmp_path_factory.mktemp("gpt2")
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator([TEXT] * 10, vocab_size=320, min_frequency=1,
                                special_tokens=["<|endoftext|>"])
    trainer.save_model(str(path))
    vocab = len(json.loads((path / "vocab.json").read_text()))
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=vocab, n_positions=64, n_embd=32, n_layer=2,
                                     n_head=4, bos_token_id=0, eos_token_id=0)
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    data = path / "text.txt"
    data.write_text(TEXT * 40, encoding="utf-8")
    return path, data


def losses(run):
    return [row["loss"] for row in json.loads((run / "run.json").read_text())["history"]
            if "loss" in row]


def test_fine_tune_resume_export(pretrained, tmp_path, capsys):
    from levante.models import gpt
    from levante.train import load_params

    path, data = pretrained
    run = tmp_path / "run"
    flags = ["--data", str(data), "--out", str(run), "--block", "32", "--batch", "4",
             "--lr", "1e-2", "--min-lr", "1e-2", "--warmup", "0", "--eval-every", "4",
             "--eval-batches", "2", "--checkpoint-every", "4", "--sample-tokens", "4"]
    assert main(["train", "--init-from", str(path), "--steps", "8", *flags]) == 0
    first = json.loads((run / "run.json").read_text())
    assert first["step"] == 8 and first["vocabulary"]["format"] == "levante.bpe/1"
    assert main(["train", "--resume", str(run), "--steps", "12"]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["step"] == 12
    validation = [row["val_loss"] for row in record["history"] if "val_loss" in row]
    assert validation[-1] < validation[0] - 0.5, validation  # the loss falls

    out = tmp_path / "hf"
    assert main(["export", str(run), "--format", "hf", str(out)]) == 0
    model = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    _, vocab, _, config, params = load_params(run)
    ids = vocab.encode(TEXT[:80])[None, :32]
    ours = np.asarray(jax.jit(gpt.forward, static_argnums=1)(params, config, ids))
    with torch.no_grad():
        theirs = model(torch.from_numpy(ids.astype(np.int64))).logits.numpy()
    assert np.abs(ours - theirs).max() <= 1e-4
    tokenizer = transformers.GPT2TokenizerFast.from_pretrained(out)
    assert tokenizer(TEXT)["input_ids"] == vocab.encode(TEXT).tolist()

    capsys.readouterr()
    assert main(["sample", str(out), "--prompt", "First", "--tokens", "5", "--seed", "1"]) == 0
    exported = capsys.readouterr().out
    assert main(["sample", str(run), "--prompt", "First", "--tokens", "5", "--seed", "1"]) == 0
    assert capsys.readouterr().out == exported  # the same model, read from either
    assert exported.startswith("First")


def test_init_from_refuses_architecture_flags(pretrained, tmp_path, capsys):
    path, data = pretrained
    code = main(["train", "--init-from", str(path), "--layers", "3", "--data", str(data),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--layers" in capsys.readouterr().err


def test_init_from_a_directory_without_a_checkpoint(tmp_path, capsys):
    code = main(["train", "--init-from", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "config.json is missing" in capsys.readouterr().err


def test_export_of_a_run_that_is_not_gpt2_shaped(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--layers", "1", "--width", "16", "--heads", "2", "--block", "8",
                 "--batch", "2", "--steps", "1", "--eval-batches", "1", "--sample-tokens", "1",
                 "--positions", "rotary", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", str(run), "--format", "hf", str(tmp_path / "hf")]) == 2
    assert "positions='rotary'" in capsys.readouterr().err
