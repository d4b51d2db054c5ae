"""levante's character GPT against a nanoGPT-style PyTorch peer, measured in the same run.

    python benchmarks/char_gpt.py [--steps 2000] [--peer-steps 2000] [--data PATH]
                                  [--rounds 3] [--out benchmarks/results/char_gpt.json]

Configuration: nanoGPT's CPU recipe (4 layers, 4 heads, width 128, block 64, batch 12,
dropout 0, AdamW lr 1e-3 decaying to 1e-4 over the run, 100 warm-up steps, weight decay
0.1, beta2 0.99, clipping 1.0) on tiny Shakespeare (90/10 split). Reports for both: ms per
training step, tokens/s, validation loss after the run, sampling speed for 500 tokens
(levante with its KV cache, the peer without, as nanoGPT samples), and levante's model
FLOP/s as a fraction of the XLA float32 matmul peak measured here. It also times the
step's matrix products alone in both libraries (the floor no step can beat, see
_matmul_floor.py), each side's non-matmul time (its step minus its own library's matmul
floor: the part the code controls), the step of the peer under `torch.compile` (the
strongest peer; `--no-compile-peer` skips it, and a compiler that fails is reported with
its error) and names the processor. Prints a table, the ratios the speed goals are stated
in, and writes JSON. Speeds are the best of `--rounds` rounds in which the sides
alternate. `--peer-steps 0` skips the peer's training (its step time is still timed).
All sides run in one process, so they share its allocator setting: building levante's
step makes glibc keep freed memory (`levante.train._memory`), for the peer and the
floors as much as for levante, from the first round on.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import _matmul_floor as floor
from levante import data
from levante.train import TrainConfig, train
from levante.train._bench import measure
from levante.train._checkpoint import read_record

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def matmul_peak(size=1024, repeats=20):
    """float32 GFLOP/s of one XLA matmul of `size`³ (the best of several)."""
    a = jnp.ones((size, size), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    ms = floor.best_ms(lambda: f(a, a).block_until_ready(), calls=1, repeats=repeats)
    return 2 * size ** 3 / ms / 1e6


def model_flops_per_step(config, vocab):
    """6 N T (weights) + attention's 12 L T² C per sequence, nanoGPT's estimate."""
    c, layers, t = config.width, config.layers, config.block
    weights = layers * 12 * c * c + vocab * c
    per_token = 6 * weights + 12 * layers * c * t
    return per_token * t * config.batch


def levante_run(config, steps, text_path):
    import tempfile

    out = Path(tempfile.mkdtemp()) / "run"
    began = time.perf_counter()
    train(config.replace(steps=steps, data=str(text_path), out=str(out), sample_tokens=20),
          stream=io.StringIO())
    seconds = time.perf_counter() - began
    history = read_record(out)["history"]
    return [h["val_loss"] for h in history if "val_loss" in h][-1], seconds


def peer_trainer(config, text_path, steps, compile=False):
    """A fresh nanoGPT-style model on the corpus: (model, one_step(step), val_loss()).

    `compile=True` runs the training steps through `torch.compile(model)` (the first step
    compiles); the model returned stays eager, for sampling."""
    import torch

    from _torch_gpt import GPT, learning_rate, optimizer

    torch.set_num_threads(2)
    torch.manual_seed(config.seed)
    text = data.load_text(text_path)
    vocab = data.Vocabulary.from_text(text)
    train_ids, val_ids = data.split(vocab.encode(text), config.validation)
    model = GPT(len(vocab), config.layers, config.heads, config.width, config.block)
    opt = optimizer(model, config.lr, config.weight_decay, config.beta2)
    run = torch.compile(model) if compile else model

    def batch(ids, seed, step):
        x, y = data.get_batch(ids, config.block, config.batch, seed, step)
        return torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64))

    def one_step(step):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, config.lr, config.min_lr, config.warmup,
                                        max(steps, 1))
        loss = run(*batch(train_ids, config.seed, step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()

    def val_loss():
        with torch.no_grad():
            return float(np.mean([float(model(*batch(val_ids, 1_000_003, i)))
                                  for i in range(config.eval_batches)]))

    return model, one_step, val_loss


def peer_speed(config, text_path, steps=50, sample_tokens=500, repeats=3):
    """The peer's step time and sampling speed, each the best of `repeats`, as `measure`."""
    import torch

    model, one_step, _ = peer_trainer(config, text_path, steps)
    for step in range(3):
        one_step(step)
    ms = timed_steps(one_step, steps, repeats)
    sample_times = []
    for _ in range(repeats):
        began = time.perf_counter()
        model.generate(torch.zeros((1, 1), dtype=torch.long), sample_tokens)
        sample_times.append(time.perf_counter() - began)
    return {"train_ms_per_step": ms, "train_tokens_per_s": config.batch * config.block / ms * 1e3,
            "sample_tokens_per_s": sample_tokens / min(sample_times)}


def timed_steps(one_step, steps=50, repeats=3):
    """Milliseconds per call of `one_step(step)`: the best of `repeats` runs of `steps`."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        for step in range(steps):
            one_step(step)
        times.append((time.perf_counter() - began) / steps)
    return min(times) * 1e3


def compiled_peer(config, text_path, steps=50):
    """The peer's training step under `torch.compile`: a function timing it (ms per step),
    or the reason it cannot run here (the compiler needs a working C++ toolchain)."""
    try:
        _, one_step, _ = peer_trainer(config, text_path, steps, compile=True)
        began = time.perf_counter()
        for step in range(3):
            one_step(step)  # compiles
        print(f"torch.compile: the peer's step compiled in {time.perf_counter() - began:.0f} s",
              flush=True)
    except Exception as error:  # any compiler failure is reported, not fatal
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return lambda: {"train_ms_per_step": timed_steps(one_step, steps)}


def summary(ours, them, compiled=None):
    """The ratios the speed goals are stated in, from the best rounds of each side.

    Non-matmul time = a side's step minus the same library's matmul floor."""
    ours["non_matmul_ms"] = ours["train_ms_per_step"] - ours["matmul_floor_ms"]
    them["non_matmul_ms"] = them["train_ms_per_step"] - them["matmul_floor_ms"]
    ratios = {
        "step_vs_eager": ours["train_ms_per_step"] / them["train_ms_per_step"],
        "non_matmul_vs_eager": ours["non_matmul_ms"] / them["non_matmul_ms"],
        "matmul_floor_vs_eager": ours["matmul_floor_ms"] / them["matmul_floor_ms"],
        "sampling_vs_peer": ours["sample_tokens_per_s"] / them["sample_tokens_per_s"],
    }
    if compiled and "train_ms_per_step" in compiled:
        ratios["step_vs_compiled"] = ours["train_ms_per_step"] / compiled["train_ms_per_step"]
        ratios["compiled_vs_eager"] = compiled["train_ms_per_step"] / them["train_ms_per_step"]
    return ratios


# the speed goals, as (ratio, at most / at least, bound)
GOALS = [("step_vs_eager", "at most", 1.15), ("non_matmul_vs_eager", "at most", 1.0),
         ("sampling_vs_peer", "at least", 20.0)]


def peer_quality(config, steps, text_path):
    """The peer's validation loss after `steps` of training."""
    _, one_step, val_loss = peer_trainer(config, text_path, steps)
    for step in range(steps):
        one_step(step)
    return val_loss()


def best_of(results):
    """Merge several measurements: the lowest times, the highest rates."""
    best = dict(results[0])
    for result in results[1:]:
        for key, value in result.items():
            if key.endswith(("_ms", "ms_per_step")):
                best[key] = min(best[key], value)
            elif key.endswith("_per_s"):
                best[key] = max(best[key], value)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="levante training steps")
    parser.add_argument("--peer-steps", type=int, default=2000, help="peer training steps")
    parser.add_argument("--data", default=str(SHARED) if SHARED.exists() else None)
    parser.add_argument("--out", default="benchmarks/results/char_gpt.json")
    parser.add_argument("--rounds", type=int, default=3, help="alternating speed rounds")
    parser.add_argument("--compile-peer", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the peer's step under torch.compile")
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("tiny Shakespeare not found: give --data PATH")
    config = TrainConfig()
    compiled_timer = compiled_peer(config, args.data) if args.compile_peer else None
    # speed: the sides alternate, and each keeps its best round, so that a busy moment on
    # the machine does not fall on one side only
    rounds = []
    for _ in range(args.rounds):
        rounds.append((
            {**measure(config, steps=50), "matmul_floor_ms": floor.xla_ms(config)},
            {**peer_speed(config, args.data), "matmul_floor_ms": floor.torch_ms(config)},
            compiled_timer() if callable(compiled_timer) else {}))
    ours, them = best_of([r[0] for r in rounds]), best_of([r[1] for r in rounds])
    if callable(compiled_timer):
        compiled = best_of([r[2] for r in rounds])
    else:
        compiled = {"error": compiled_timer or "skipped (--no-compile-peer)"}
    ratios = summary(ours, them, compiled)
    peak = matmul_peak()
    flops = model_flops_per_step(config, floor.VOCAB)
    mfu = flops / (ours["train_ms_per_step"] / 1e3) / (peak * 1e9)
    val, seconds = levante_run(config, args.steps, args.data) if args.steps else (None, None)
    them["val_loss"] = peer_quality(config, args.peer_steps, args.data) if args.peer_steps else None
    ours.update({"val_loss": val, "train_seconds": seconds, "mfu": mfu,
                 "matmul_peak_gflops": peak, "model_gflop_per_step": flops / 1e9})

    rows = [("ms / training step", "train_ms_per_step", "{:.2f}"),
            ("training tokens / s", "train_tokens_per_s", "{:,.0f}"),
            ("validation loss", "val_loss", "{:.4f}"),
            ("sampling tokens / s (500)", "sample_tokens_per_s", "{:,.0f}"),
            ("matmuls alone, ms / step", "matmul_floor_ms", "{:.2f}"),
            ("non-matmul, ms / step", "non_matmul_ms", "{:.2f}")]
    print(f"{'':28} {'levante':>12} {'PyTorch peer':>14} {'ratio':>8}")
    for title, key, fmt in rows:
        a, b = ours.get(key), them.get(key)
        ratio = f"{a / b:8.2f}" if a and b else f"{'-':>8}"
        show = lambda v: fmt.format(v) if v is not None else "-"
        print(f"{title:28} {show(a):>12} {show(b):>14} {ratio}")
    if "train_ms_per_step" in compiled:
        print(f"{'torch.compile peer, ms/step':28} {'':>12} "
              f"{compiled['train_ms_per_step']:>14.2f} {ratios['step_vs_compiled']:8.2f}")
    else:
        print(f"torch.compile peer: not timed ({compiled['error']})")
    print(f"levante model FLOP/s: {mfu:.1%} of the XLA float32 matmul peak ({peak:.0f} GFLOP/s, "
          f"{flops / 1e9:.2f} GFLOP per step; the matmuls alone are "
          f"{floor.flops(config) / 1e9:.2f} GFLOP)")
    goals = {}
    for name, sense, bound in GOALS:
        value = ratios[name]
        met = value <= bound if sense == "at most" else value >= bound
        goals[name] = {"ratio": value, sense.replace(" ", "_"): bound, "met": met}
        print(f"goal {name}: {value:.2f}, {sense} {bound:g}: {'met' if met else 'not met'}")
    processor = floor.cpu_name()
    print(f"processor: {processor}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"levante": ours, "peer": them,
                                          "peer_compiled": compiled, "ratios": ratios,
                                          "goals": goals, "config": config.to_json(),
                                          "processor": processor}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
