"""levante's GPT-2 (124M, random weights) against transformers' on PyTorch, same run.

    python benchmarks/gpt2.py [--batch 8] [--length 1024] [--prompt 64] [--tokens 200]
                              [--rounds 2] [--out benchmarks/results/gpt2.json]

A randomly initialized GPT-2 small (transformers' GPT2Config defaults: 12 layers, 12 heads,
width 768, block 1024, vocabulary 50257) is saved with `save_pretrained` and loaded by
`levante.models.gpt2.load`, so both sides compute the same model. Reports:

- loading: the peak resident memory of a fresh process that loads the checkpoint, against
  the checkpoint's size (and the same peak less the process's size before the load);
- forward pass of batch x length tokens: ms, the ratio levante / transformers, and levante's
  model FLOP/s as a fraction of the XLA float32 matmul peak measured here;
- generation of `--tokens` greedy tokens after a `--prompt`-token prompt, batch 1, both with
  their KV caches (levante's whole generation is one compiled program; transformers'
  `generate`): ms per token, tokens/s, and the memory-bandwidth bound: a decoding step
  reads every weight once, so no step can beat the weights' bytes over the read bandwidth,
  measured here as XLA streaming a 512 MB array through a sum (bytes read once, nothing
  written; a copy's bytes read + written would be another quantity). The KV cache a step
  reads is printed next to it.

PyTorch runs with 2 threads. Speeds are the best of `--rounds` rounds in which the two sides
alternate. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import _matmul_floor as floor

MEASURE_LOAD = """
import json, sys
import jax, jax.numpy as jnp
from levante.models import gpt2
jnp.zeros(1).block_until_ready()   # the runtime is up before the baseline is read
def status(field):   # VmHWM, the peak, is this process's own (ru_maxrss keeps the parent's)
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
before = status("VmRSS")
params, config = gpt2.load(sys.argv[1])
jax.block_until_ready(params)
print(json.dumps({"before": before, "peak": status("VmHWM"), "after": status("VmRSS")}))
"""


def make_checkpoint(path, config=None):
    """A random GPT-2 (transformers' defaults unless `config`) saved to `path`."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = config or transformers.GPT2Config()
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    return path


def load_memory(path):
    """Peak RSS of a fresh process loading `path` with levante, and the checkpoint's size."""
    out = subprocess.run([sys.executable, "-c", MEASURE_LOAD, str(path)], check=True,
                         capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    size = sum(f.stat().st_size for f in Path(path).glob("*.safetensors"))
    return {"checkpoint_bytes": size, "peak_rss_bytes": figures["peak"],
            "rss_before_load_bytes": figures["before"],
            "peak_over_checkpoint": figures["peak"] / size,
            "load_increase_over_checkpoint": (figures["peak"] - figures["before"]) / size}


def matmul_peak(size=1024, repeats=20):
    """float32 GFLOP/s of one XLA matmul of `size`³ (the best of several)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((size, size), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    ms = floor.best_ms(lambda: f(a, a).block_until_ready(), calls=1, repeats=repeats)
    return 2 * size ** 3 / ms / 1e6


def read_bandwidth(megabytes=512, repeats=10):
    """GB/s at which XLA, on the cores this process may use, streams a large float32 array
    through a sum: bytes read once each, nothing written -- what a decoding step does with
    the weights (STREAM's Copy, read + write, is a different figure)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones(megabytes * 2 ** 20 // 4, jnp.float32)
    total = jax.jit(jnp.sum)
    ms = floor.best_ms(lambda: total(a).block_until_ready(), calls=1, repeats=repeats)
    return a.nbytes / ms / 1e6


def cache_bytes_per_token(config, prompt, tokens):
    """Bytes of keys and values a decoding step reads: the whole cache of the window
    (generate sizes it to the prompt + tokens, rounded up), every layer."""
    from levante.models import gpt
    from levante.models._generate import cache_length

    length = cache_length(gpt.capacity(config), min(prompt + tokens, config.block))
    return 2 * config.layers * length * config.width * 4


def forward_flops(config, batch, length):
    """2 N per token for the matmul weights (blocks and read-out) plus attention's two
    products over the full t × t square, 4 L t² c per sequence."""
    c, layers = config.width, config.layers
    weights = layers * 12 * c * c + config.vocab * c
    return batch * (2 * weights * length + 4 * layers * length * length * c)


def best_seconds(run, repeats):
    run()  # warm: compilation, caches, allocator
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return best


def levante_side(path, batch, length, prompt, tokens):
    import jax

    from levante.models import generate, gpt, gpt2

    params, config = gpt2.load(path)
    ids = np.random.default_rng(0).integers(0, config.vocab, (batch, length)).astype(np.int32)
    forward = jax.jit(lambda params, ids: gpt.forward(params, config, ids))
    start = ids[:1, :prompt]

    def sample():
        return generate(params, config, start, tokens, jax.random.key(0), temperature=0)

    return config, {
        "forward": lambda: forward(params, ids).block_until_ready(),
        "generate": sample}


def transformers_side(path, batch, length, prompt, tokens):
    import torch
    import transformers

    torch.set_num_threads(2)
    model = transformers.GPT2LMHeadModel.from_pretrained(path).eval()
    vocab = model.config.vocab_size
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, vocab, (batch, length)))
    start = ids[:1, :prompt]

    def forward():
        with torch.no_grad():
            model(ids)

    def sample():
        with torch.no_grad():
            return model.generate(start, attention_mask=torch.ones_like(start),
                                  max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                  use_cache=True, pad_token_id=vocab - 1)[0, prompt:].numpy()

    return {"forward": forward, "generate": sample}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="alternating speed rounds")
    parser.add_argument("--checkpoint", help="an existing GPT-2 directory (default: a random "
                                             "124M one, made in a temporary directory)")
    parser.add_argument("--out", default="benchmarks/results/gpt2.json")
    args = parser.parse_args()

    path = args.checkpoint or make_checkpoint(tempfile.mkdtemp(prefix="gpt2-"))
    memory = load_memory(path)
    config, ours = levante_side(path, args.batch, args.length, args.prompt, args.tokens)
    theirs = transformers_side(path, args.batch, args.length, args.prompt, args.tokens)
    same = (ours["generate"]()[0].tolist() == theirs["generate"]().tolist())
    times = {"levante": {}, "transformers": {}}
    for _ in range(args.rounds):  # alternate, so a busy moment does not fall on one side
        for side, runs in (("levante", ours), ("transformers", theirs)):
            for name, run in runs.items():
                seconds = best_seconds(run, repeats=1)
                times[side][name] = min(times[side].get(name, float("inf")), seconds)
    peak = matmul_peak()
    bandwidth = read_bandwidth()
    cache_bytes = cache_bytes_per_token(config, args.prompt, args.tokens)
    flops = forward_flops(config, args.batch, args.length)
    weight_bytes = 4 * (config.layers * 12 * config.width ** 2 + config.vocab * config.width)
    results = {}
    for side, t in times.items():
        results[side] = {"forward_ms": t["forward"] * 1e3,
                         "forward_tokens_per_s": args.batch * args.length / t["forward"],
                         "generate_ms_per_token": t["generate"] * 1e3 / args.tokens,
                         "generate_tokens_per_s": args.tokens / t["generate"]}
    results["levante"]["forward_mfu"] = flops / times["levante"]["forward"] / (peak * 1e9)
    bound_ms = weight_bytes / (bandwidth * 1e9) * 1e3

    rows = [(f"forward ms ({args.batch}x{args.length})", "forward_ms", "{:,.0f}"),
            ("forward tokens / s", "forward_tokens_per_s", "{:,.0f}"),
            ("generate ms / token", "generate_ms_per_token", "{:.2f}"),
            ("generate tokens / s", "generate_tokens_per_s", "{:.1f}")]
    print(f"{'GPT-2 124M, random weights':28} {'levante':>12} {'transformers':>14} {'ratio':>8}")
    for title, key, fmt in rows:
        a, b = results["levante"][key], results["transformers"][key]
        print(f"{title:28} {fmt.format(a):>12} {fmt.format(b):>14} {a / b:8.2f}")
    print(f"levante forward FLOP/s: {results['levante']['forward_mfu']:.1%} of the XLA float32 "
          f"matmul peak ({peak:.0f} GFLOP/s; {flops / 1e9:.0f} GFLOP per forward)")
    print(f"memory-bandwidth bound for generation: {bound_ms:.2f} ms / token "
          f"({weight_bytes / 1e6:.0f} MB of weights read per token at {bandwidth:.1f} GB/s, "
          f"XLA's read bandwidth; the KV cache adds {cache_bytes / 1e6:.0f} MB, "
          f"{cache_bytes / (bandwidth * 1e9) * 1e3:.2f} ms)")
    print(f"greedy tokens identical on both sides: {same}")
    print(f"loading: peak RSS {memory['peak_rss_bytes'] / 1e6:.0f} MB for a "
          f"{memory['checkpoint_bytes'] / 1e6:.0f} MB checkpoint "
          f"({memory['peak_over_checkpoint']:.2f}x; the load itself adds "
          f"{memory['load_increase_over_checkpoint']:.2f}x over the "
          f"{memory['rss_before_load_bytes'] / 1e6:.0f} MB process)")
    processor = floor.cpu_name()
    print(f"processor: {processor}; PyTorch threads: 2; cores this process may use: "
          f"{len(os.sched_getaffinity(0))}")
    record = {**results, "load_memory": memory, "same_greedy_tokens": same,
              "matmul_peak_gflops": peak, "read_gb_per_s": bandwidth,
              "bandwidth_bound_ms_per_token": bound_ms, "weight_bytes_per_token": weight_bytes,
              "cache_bytes_per_token": cache_bytes,
              "forward_gflop": flops / 1e9, "processor": processor, "settings": vars(args)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
