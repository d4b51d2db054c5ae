"""benchmarks/scale.py: its FLOP count is nanoGPT's, and both modes run (tiny sizes)."""

import json
import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import scale
from levante.core import trace_shapes
from levante.models import gpt


def test_gpt2_small_counts_as_nanogpt_does():
    """GPT-2 small with the padded vocabulary: nanoGPT prints 123.69M parameters (without
    the position table); FLOPs per token are 6 N + 12 L T C."""
    config = gpt.GPTConfig(**scale.SIZES["124M"], activation="gelu_tanh")
    shapes = trace_shapes(lambda p, ids: gpt.forward(p, config, ids), 0,
                          jax.ShapeDtypeStruct((1, config.block), np.int32))
    c, layers, vocab = config.width, config.layers, config.vocab
    by_hand = layers * (12 * c * c + 13 * c) + vocab * c + 2 * c  # blocks, table, final norm
    flops, n = scale.gpt2_flops_per_token(config, shapes)
    assert n == by_hand == 123_689_472
    assert flops == 6 * n + 12 * layers * config.block * c


def test_scaling_worker_runs_on_one_device():
    result = scale.worker(1, "data", steps=2, batch=4)
    assert result["devices"] == jax.device_count() and result["mesh"] == "data=1"
    assert result["tokens_per_s"] > 0 and np.isfinite(result["loss"])


def test_mfu_mode_writes_its_json(tmp_path, monkeypatch, capsys):
    out = tmp_path / "mfu.json"
    monkeypatch.setattr(sys, "argv", ["scale.py", "--mfu", "--size", "tiny", "--steps", "1",
                                      "--batch", "2", "--matmul-size", "64", "--peak-tflops",
                                      "1", "--out", str(out)])
    scale.main()
    result = json.loads(out.read_text())
    assert result["device"] == jax.devices()[0].device_kind and result["mfu"] > 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("summary: GPT-2 tiny")
