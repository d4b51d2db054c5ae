"""Training throughput against the number of devices, and the model FLOP utilization (MFU)
of a 124M-parameter GPT-2 in bfloat16 on an accelerator.

    python benchmarks/scale.py [--devices 1,2,4,8] [--meshes data,fsdp] [--steps 20]
                               [--out benchmarks/results/scale.json]
    python benchmarks/scale.py --mfu [--batch 16] [--steps 20] [--peak-tflops 989]
                               [--matmul-size 8192] [--out benchmarks/results/scale_mfu.json]

Scaling: for each device count n, a fresh process with n forced CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=n) trains the character GPT of
`levante train` (4 layers, width 128, block 64) on one global batch of 32 windows, on the
mesh `data=n` (and `fsdp=n`), and reports tokens/s. Forced CPU devices share the same
cores, so the ideal is the one-device figure, not n times it: "kept" is tokens/s over the
one-device tokens/s, the fraction of the throughput that survives splitting the step (what
the collectives and the smaller per-device products cost).

MFU (`--mfu`): GPT-2 small (12 layers, 12 heads, width 768, block 1024, vocabulary 50257
padded to 50304 as nanoGPT does) trains in bfloat16 with float32 parameters and AdamW state
on every device JAX sees (mesh `data=n`), on random tokens. MFU = model FLOP/s / peak, with
nanoGPT's count of 6 N + 12 L T C FLOPs per token (N without the position table) and the
peak dense bfloat16 FLOP/s of the device (`--peak-tflops`, or the datasheet figure of a
known device); next to it, the rate of one 8192³ bf16 matrix product timed in the same run
(the peak reached in practice). Prints a table, writes JSON (with the device's name), and
ends with a one-line summary.

Runs with only `PYTHONPATH=src` and jax, optax, numpy, safetensors, rich, tokenizers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()

# dense bfloat16 peak of the SXM parts, TFLOP/s, from NVIDIA's datasheets (sparsity off);
# the first name that occurs in `device_kind` wins
PEAK_TFLOPS = (("H200", 989.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0),
               ("A10", 125.0), ("V100", 125.0))


def time_steps(step, state, batch, steps, warmup=3):
    """Seconds per step (the best of two timed runs after `warmup` steps) and the state."""
    for _ in range(warmup):
        *state, loss = step(*state, *batch)
    loss.block_until_ready()
    best = float("inf")
    for _ in range(2):
        began = time.perf_counter()
        for _ in range(steps):
            *state, loss = step(*state, *batch)
        loss.block_until_ready()
        best = min(best, (time.perf_counter() - began) / steps)
    return best, state, float(loss)


def train_setup(config, mesh, batch, lr=6e-4):
    """Sharded parameters and AdamW state, one jitted step, and a random sharded batch."""
    import jax
    import numpy as np
    import optax

    import levante.train as lt
    from levante.models import gpt

    opt = lt.optimizer(lt.TrainConfig(lr=lr, min_lr=lr / 10, warmup=10, steps=1000))
    params = lt.sharded_init(lambda key: gpt.init(config, key), jax.random.key(0), mesh=mesh)
    opt_state = lt.sharded_init(opt.init, params, mesh=mesh)

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(gpt.loss)(params, config, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    shardings = jax.tree.map(lambda a: a.sharding, (params, opt_state))
    step = jax.jit(step, out_shardings=(*shardings, lt.replicated(mesh)), donate_argnums=(0, 1))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, config.vocab, (batch, config.block + 1)).astype(np.int32)
    x, y = lt.shard_batch((ids[:, :-1], ids[:, 1:]), mesh)
    return step, (params, opt_state), (x, y)


def worker(devices, mesh_kind, steps, batch):
    """One scaling measurement in this process (its device count is already fixed)."""
    import jax

    import levante.train as lt
    from levante.models import gpt

    config = gpt.GPTConfig(vocab=65, layers=4, heads=4, width=128, block=64)
    mesh = lt.mesh(f"{mesh_kind}={devices}")
    step, state, inputs = train_setup(config, mesh, batch, lr=1e-3)
    seconds, _, loss = time_steps(step, state, inputs, steps)
    return {"devices": jax.device_count(), "mesh": f"{mesh_kind}={devices}",
            "ms_per_step": seconds * 1e3, "tokens_per_s": batch * config.block / seconds,
            "loss": loss}


def scaling(args):
    results = []
    for kind in args.meshes.split(","):
        for n in [int(d) for d in args.devices.split(",")]:
            env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}",
                   "JAX_PLATFORMS": "cpu"}
            done = subprocess.run([sys.executable, str(HERE), "--worker", str(n), "--mesh-kind",
                                   kind, "--steps", str(args.steps), "--batch",
                                   str(args.batch)], env=env, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"the run on {n} devices failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    one = {r["mesh"].split("=")[0]: r["tokens_per_s"] for r in results if r["devices"] == 1}
    print(f"{'mesh':>10} {'devices':>8} {'ms / step':>10} {'tokens / s':>12} {'kept':>6}")
    for r in results:
        r["kept"] = r["tokens_per_s"] / one[r["mesh"].split("=")[0]] if one else None
        kept = f"{r['kept']:6.0%}" if r["kept"] is not None else f"{'-':>6}"
        print(f"{r['mesh']:>10} {r['devices']:>8} {r['ms_per_step']:10.1f} "
              f"{r['tokens_per_s']:12,.0f} {kept}")
    processor = _processor()
    print(f"forced CPU devices on {os.cpu_count()} cores ({processor}); 'kept' = tokens/s "
          "over the one-device tokens/s on the same cores")
    write(args.out, {"mode": "scaling", "results": results, "batch": args.batch,
                     "cores": os.cpu_count(), "processor": processor})
    worst = min(results, key=lambda r: r["kept"] or 1.0)
    print(f"summary: scaling on forced CPU devices, worst kept {worst['kept']:.0%} "
          f"({worst['mesh']})")


def _processor():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def gpt2_flops_per_token(config, params):
    """nanoGPT's estimate: 6 N + 12 L T C, N without the position table."""
    import levante as lv

    n = lv.count(params) - config.block * config.width
    return 6 * n + 12 * config.layers * config.block * config.width, n


SIZES = {  # GPT-2 small, and a tiny stand-in for smoke tests
    "124M": {"vocab": 50304, "layers": 12, "heads": 12, "width": 768, "block": 1024},
    "tiny": {"vocab": 64, "layers": 2, "heads": 2, "width": 32, "block": 16},
}


def matmul_tflops(size=8192, repeats=10):
    """bfloat16 TFLOP/s of one `size`³ matrix product on random data (the best of
    `repeats`): the peak this device reaches in practice."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.key(0))
    a = jax.random.normal(keys[0], (size, size), jnp.bfloat16)
    b = jax.random.normal(keys[1], (size, size), jnp.bfloat16)
    f = jax.jit(lambda a, b: a @ b)
    f(a, b).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        f(a, b).block_until_ready()
        best = min(best, time.perf_counter() - began)
    return 2 * size ** 3 / best / 1e12


def mfu(args):
    import jax

    import levante.train as lt
    from levante.models import gpt

    devices = jax.devices()
    kind = devices[0].device_kind
    config = gpt.GPTConfig(**SIZES[args.size], activation="gelu_tanh", precision="bfloat16")
    mesh = lt.mesh(f"data={len(devices)}")
    batch = args.batch * len(devices)
    began = time.perf_counter()
    step, state, inputs = train_setup(config, mesh, batch)
    flops, n = gpt2_flops_per_token(config, state[0])
    seconds, _, loss = time_steps(step, state, inputs, args.steps)
    total = time.perf_counter() - began
    tokens = batch * config.block / seconds
    peak = args.peak_tflops or next((p for name, p in PEAK_TFLOPS if name in kind), None)
    achieved = flops * tokens / 1e12
    ratio = achieved / (peak * len(devices)) if peak else None
    measured = matmul_tflops(args.matmul_size) if args.matmul_size else None
    rows = [("device", f"{len(devices)} x {kind}"), ("parameters (no positions)", f"{n:,}"),
            ("batch x block", f"{batch} x {config.block}"),
            ("ms / step", f"{seconds * 1e3:.1f}"), ("tokens / s", f"{tokens:,.0f}"),
            ("model TFLOP/s", f"{achieved:.1f}"),
            ("peak bf16 TFLOP/s / device", f"{peak:.0f}" if peak else "unknown"),
            ("MFU", f"{ratio:.1%}" if ratio is not None else "- (give --peak-tflops)"),
            ("bf16 matmul TFLOP/s here", f"{measured:.0f}" if measured else "-"),
            ("of the measured matmul rate",
             f"{achieved / (measured * len(devices)):.1%}" if measured else "-"),
            ("loss after the timed steps", f"{loss:.3f}")]
    for title, value in rows:
        print(f"{title:30} {value}")
    write(args.out, {"mode": "mfu", "device": kind, "devices": len(devices),
                     "platform": devices[0].platform, "jax": jax.__version__,
                     "config": {**SIZES[args.size], "precision": "bfloat16",
                                "activation": "gelu_tanh"},
                     "matmul_tflops_measured": measured,
                     "parameters": n, "batch": batch, "ms_per_step": seconds * 1e3,
                     "tokens_per_s": tokens, "model_tflops": achieved,
                     "peak_tflops_per_device": peak, "mfu": ratio,
                     "flops_per_token": flops, "seconds_with_compile": total})
    shown = f"{ratio:.1%} of {peak:.0f} TFLOP/s" if ratio is not None else "peak unknown"
    if measured:
        shown += f", {achieved / (measured * len(devices)):.1%} of the measured matmul rate"
    print(f"summary: GPT-2 {args.size} bf16 on {len(devices)} x {kind}: {tokens:,.0f} tokens/s, "
          f"{achieved:.1f} TFLOP/s, MFU {shown} ({total:.0f} s with compile)")


def write(path, result):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mfu", action="store_true", help="GPT-2 124M bf16 MFU")
    parser.add_argument("--devices", default="1,2,4,8", help="device counts to scale over")
    parser.add_argument("--meshes", default="data,fsdp", help="mesh axes to scale over")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (twice)")
    parser.add_argument("--batch", type=int, default=None,
                        help="windows per step (scaling: global, default 32; --mfu: per "
                             "device, default 16)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's dense bf16 peak (default: known datasheets)")
    parser.add_argument("--size", choices=sorted(SIZES), default="124M",
                        help="--mfu model: GPT-2 124M, or tiny (a smoke test)")
    parser.add_argument("--matmul-size", type=int, default=8192,
                        help="--mfu: also time an N³ bf16 matmul (0: skip)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mesh-kind", default="data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.mesh_kind, args.steps, args.batch or 32)))
    elif args.mfu:
        args.batch = args.batch or 16
        args.out = args.out or "benchmarks/results/scale_mfu.json"
        mfu(args)
    else:
        args.batch = args.batch or 32
        args.out = args.out or "benchmarks/results/scale.json"
        scaling(args)


if __name__ == "__main__":
    main()
