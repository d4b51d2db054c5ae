"""GPT-2 from the command line, the cases users meet: fine-tuning settings that disagree
with the checkpoint (levante's defaults included), a BPE run's messages in tokens, and a
checkpoint whose embedding is padded past its tokenizer (nanoGPT's 50304 rows for 50257
tokens), against what transformers does with it."""

import io
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
PADDED = 320  # embedding rows of the padded checkpoint; its tokenizer has fewer


def _tokenizer(path):
    from tokenizers import ByteLevelBPETokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator([TEXT] * 10, vocab_size=300, min_frequency=1,
                                special_tokens=["<|endoftext|>"])
    trainer.save_model(str(path))
    return len(json.loads((path / "vocab.json").read_text()))


def _gpt2(path, vocab, padded_scale=None):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=vocab, n_positions=64, n_embd=32, n_layer=2,
                                     n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    config.bos_token_id = config.eos_token_id = None  # generate() never stops early
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if not ("ln" in name and name.endswith("weight")):
                tensor.copy_(0.2 * torch.randn_like(tensor))
        if padded_scale is not None:  # rows no token has, made likely: a test that bites
            tokens = len(json.loads((path / "vocab.json").read_text()))
            model.transformer.wte.weight[tokens:] *= padded_scale
    model.save_pretrained(path)
    return model


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpt2")
    _gpt2(path, _tokenizer(path))
    data = path / "text.txt"
    data.write_text(TEXT * 40, encoding="utf-8")
    return path, data


@pytest.fixture(scope="module")
def padded(tmp_path_factory):
    path = tmp_path_factory.mktemp("padded")
    tokens = _tokenizer(path)
    assert tokens < PADDED
    model = _gpt2(path, PADDED, padded_scale=10.0)
    return path, model, tokens


FLAGS = ["--block", "16", "--batch", "4", "--steps", "2", "--eval-every", "2",
         "--eval-batches", "1", "--sample-tokens", "3"]


# --- fine-tuning settings against the checkpoint's ----------------------------------------

def test_init_from_names_every_setting_that_disagrees(pretrained, tmp_path, capsys):
    # width 128 and 4 layers are levante's defaults: written, they disagree all the same
    path, data = pretrained
    settings = tmp_path / "settings.toml"
    settings.write_text("width = 128\nlayers = 4\nheads = 4\n")
    out = tmp_path / "run"
    code = main(["train", "--init-from", str(path), "--config", str(settings), "--no-bias",
                 "--data", str(data), "--out", str(out), *FLAGS])
    assert code == 2
    err = capsys.readouterr().err
    assert "width = 128 in " in err and "(the checkpoint's: 32)" in err
    assert "layers = 4 in " in err and "(the checkpoint's: 2)" in err
    assert "--no-bias (the checkpoint's: True)" in err
    assert "heads" not in err  # 4 is the checkpoint's too
    assert not out.exists()


@pytest.mark.parametrize("flags, words", [
    (["--width", "128"], "--width 128 (the checkpoint's: 32)"),
    (["--activation", "gelu"], "--activation gelu (the checkpoint's: 'gelu_tanh')"),
    (["--hidden", "256"], "--hidden 256 (an LSTM setting"),
])
def test_init_from_refuses_a_flag_at_levantes_default(pretrained, tmp_path, capsys, flags,
                                                      words):
    path, data = pretrained
    assert main(["train", "--init-from", str(path), *flags, "--data", str(data),
                 "--out", str(tmp_path / "run"), *FLAGS]) == 2
    assert words in capsys.readouterr().err


def test_init_from_accepts_settings_that_agree_and_speaks_of_tokens(pretrained, tmp_path,
                                                                    capsys):
    path, data = pretrained
    settings = tmp_path / "settings.toml"
    settings.write_text("width = 32\nheads = 4\nactivation = \"gelu_tanh\"\n")
    run = tmp_path / "run"
    assert main(["train", "--init-from", str(path), "--config", str(settings), "--layers", "2",
                 "--tie", "--data", str(data), "--out", str(run), *FLAGS]) == 0
    out = capsys.readouterr().out
    tokens = len(transformers.GPT2TokenizerFast.from_pretrained(path)(TEXT * 40).input_ids)
    train_tokens = int(0.9 * tokens)  # data.split's share
    assert f"{train_tokens:,} training tokens" in out, out.splitlines()[0]
    assert "characters" not in out


def test_the_api_names_a_setting_that_disagrees(pretrained):
    from levante.train import TrainConfig, TrainError
    from levante.train._run import finetune_settings

    with pytest.raises(TrainError, match=r"width=64 \(the checkpoint's: 32\)"):
        finetune_settings(TrainConfig(init_from=str(pretrained[0]), width=64, block=16))


# --- tokens, not characters, in a BPE run's words ---------------------------------------------

def test_a_character_run_still_speaks_of_characters(tmp_path):
    from levante.train import TrainConfig, train

    stream = io.StringIO()
    train(TrainConfig(layers=1, width=16, heads=2, block=8, batch=2, steps=1, eval_batches=1,
                      sample_tokens=1, out=str(tmp_path / "run")), stream=stream)
    assert " training characters, vocabulary 77" in stream.getvalue()


def test_a_text_too_short_is_counted_in_tokens(pretrained, tmp_path, capsys):
    path, _ = pretrained
    short = tmp_path / "short.txt"
    short.write_text(TEXT, encoding="utf-8")
    assert main(["train", "--init-from", str(path), "--data", str(short), "--out",
                 str(tmp_path / "run"), "--block", "60"]) == 2
    err = capsys.readouterr().err
    assert "tokens, fewer than one window of --block 60" in err and "characters" not in err


def test_sampling_flags_speak_of_tokens(capsys):
    from levante.cli import parser

    for command in ("sample", "train"):
        with pytest.raises(SystemExit):
            parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "likeliest tokens" in text and "likeliest characters" not in text
    from levante.train._config import HELP

    assert "characters" not in HELP["sample_tokens"] + HELP["top_k"]


# --- an embedding padded past the tokenizer ----------------------------------------------

def test_a_padded_embedding_loads_with_transformers_logits(padded):
    from levante.models import gpt, gpt2

    path, model, _ = padded
    params, config = gpt2.load(path)
    assert config.vocab == PADDED == model.config.vocab_size
    ids = np.random.default_rng(0).integers(0, 300, (2, 40)).astype(np.int32)
    with torch.no_grad():
        expected = model(torch.from_numpy(ids.astype(np.int64))).logits.numpy()
    np.testing.assert_allclose(gpt.forward(params, config, ids), expected, rtol=0, atol=1e-4)


def test_sampling_never_draws_a_padded_id(padded, capsys):
    from levante.cli import _load_hf
    from levante.models import generate

    path, model, tokens = padded
    tokenizer = transformers.GPT2TokenizerFast.from_pretrained(path)
    prompt = tokenizer("First Citizen:", return_tensors="pt").input_ids
    free = model.generate(prompt, max_new_tokens=24, do_sample=False)[0, prompt.shape[1]:]
    assert (free >= tokens).any()  # transformers draws ids its tokenizer cannot decode
    kept = model.generate(prompt, max_new_tokens=24, do_sample=False,
                          suppress_tokens=list(range(tokens, PADDED)))[0, prompt.shape[1]:]
    _, _, config, params = _load_hf(path)
    assert config.vocab == tokens
    ours = generate(params, config, prompt[0].numpy().astype(np.int32), 24,
                    jax.random.key(0), temperature=0.0)
    np.testing.assert_array_equal(np.asarray(ours), kept.numpy())
    # sampled freely from every token: the command never draws an id it cannot decode
    assert main(["sample", str(path), "--prompt", "First", "--tokens", "40",
                 "--temperature", "3", "--top-k", "0"]) == 0
    assert capsys.readouterr().out.startswith("First")


def test_fine_tuning_a_padded_checkpoint(padded, tmp_path):
    from levante.models import gpt
    from levante.train import load_params

    path, _, tokens = padded
    data = tmp_path / "text.txt"
    data.write_text(TEXT * 40, encoding="utf-8")
    run, out = tmp_path / "run", tmp_path / "hf"
    assert main(["train", "--init-from", str(path), "--data", str(data), "--out", str(run),
                 *FLAGS]) == 0
    assert main(["export", str(run), str(out), "--format", "hf"]) == 0
    _, _, _, config, params = load_params(run)
    assert config.vocab == tokens
    model = transformers.GPT2LMHeadModel.from_pretrained(out).eval()
    ids = np.arange(16, dtype=np.int32)[None] * 7 % tokens
    with torch.no_grad():
        expected = model(torch.from_numpy(ids.astype(np.int64))).logits.numpy()
    np.testing.assert_allclose(gpt.forward(params, config, ids), expected, rtol=0, atol=1e-4)


def test_a_tokenizer_with_gaps_in_its_ids_is_refused():
    from tokenizers import Tokenizer, models

    from levante.data import BPETokenizer
    from levante.models import gpt, gpt2

    tokenizer = BPETokenizer(Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 5}, [("a", "b")])))
    with pytest.raises(gpt2.CheckpointError, match="ids up to 5"):
        gpt2.fitted_vocabulary(tokenizer, gpt.GPTConfig(vocab=8))


# --- loading: the file read straight into the parameters -------------------------------------

MEASURE = """
import json, sys
import jax, jax.numpy as jnp
from levante.models import gpt2
jnp.zeros(1).block_until_ready()
config = gpt2.load_config(sys.argv[1])
gpt2._template(config)  # tracing the shapes costs the same with any way of reading
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
before = status("VmRSS")
params, config = gpt2.load(sys.argv[1])
jax.block_until_ready(params)
print(json.dumps({"before": before, "peak": status("VmHWM")}))
"""


def test_loading_adds_no_more_than_the_parameters(tmp_path):
    # one tensor (the embedding) is nearly the whole file: a load that copies it once more
    # on the way (the mapped pages, a bytes object, a converted array) adds twice its size
    import subprocess
    import sys

    from levante.models import gpt, gpt2

    config = gpt.GPTConfig(vocab=50257, layers=1, heads=4, width=512, block=64,
                           activation="gelu_tanh", norm_eps=1e-5)
    gpt2.save(gpt.init(config, jax.random.key(0)), config, tmp_path)
    size = (tmp_path / "model.safetensors").stat().st_size
    done = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path)], capture_output=True,
                          text=True, timeout=300, env={"JAX_PLATFORMS": "cpu",
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    added = (figures["peak"] - figures["before"]) / size
    assert 0.95 < added < 1.1, added


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_checkpoints_load_as_float32(tmp_path, dtype):
    from levante.models import gpt, gpt2

    model = _gpt2(tmp_path, 97).to(getattr(torch, dtype))
    model.save_pretrained(tmp_path)
    params, config = gpt2.load(tmp_path)
    assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {np.dtype("float32")}
    model = model.float()  # the stored values, exactly, in float32
    ids = np.arange(24, dtype=np.int32)[None] % 97
    with torch.no_grad():
        expected = model(torch.from_numpy(ids.astype(np.int64))).logits.numpy()
    np.testing.assert_allclose(gpt.forward(params, config, ids), expected, rtol=0, atol=1e-4)
