"""benchmarks/gpt2.py runs end to end on a tiny checkpoint, and its FLOP count is the sum of
the forward pass's products."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
pytest.importorskip("transformers", reason="the benchmark's peer is transformers' GPT-2")
import gpt2 as bench
from levante.models import gpt


def test_forward_flops_count_every_product():
    config = gpt.GPTConfig(vocab=11, layers=2, heads=2, width=8, block=16)
    b, t, c, v = 3, 5, 8, 11
    per_layer = (2 * b * t * c * 3 * c      # qkv
                 + 2 * b * t * t * c        # q kᵀ, every head together
                 + 2 * b * t * t * c        # weights v
                 + 2 * b * t * c * c        # out
                 + 2 * 2 * b * t * c * 4 * c)  # up, down
    assert bench.forward_flops(config, b, t) == 2 * per_layer + 2 * b * t * c * v


def test_the_benchmark_runs_on_a_tiny_checkpoint(tmp_path, monkeypatch, capsys):
    import transformers

    path = bench.make_checkpoint(tmp_path / "gpt2", transformers.GPT2Config(
        vocab_size=50, n_positions=32, n_embd=16, n_layer=1, n_head=2))
    out = tmp_path / "result.json"
    monkeypatch.setattr(sys, "argv", [
        "gpt2.py", "--checkpoint", str(path), "--batch", "2", "--length", "16", "--prompt", "4",
        "--tokens", "8", "--rounds", "1", "--out", str(out)])
    bench.main()
    record = json.loads(out.read_text())
    assert record["same_greedy_tokens"] is True
    assert record["levante"]["forward_ms"] > 0 and record["transformers"]["forward_ms"] > 0
    assert record["load_memory"]["checkpoint_bytes"] > 0
    assert record["load_memory"]["peak_rss_bytes"] >= record["load_memory"]["rss_before_load_bytes"]
    assert "generate ms / token" in capsys.readouterr().out
