"""Speed of the notation engine against the plain backend call, einops and einx.

    python benchmarks/notation.py [--quick] [--out benchmarks/results/notation.json]

Measures, on NumPy and PyTorch (when installed):
  warm   a call whose plan is cached, against the plain backend call it lowers to, and
         against einops and einx (when installed) for the same rearrange / reduce;
  cold   the first call for a new shape of an already-parsed expression (NumPy);
  import the wall time of `import levante.ein` in a fresh interpreter.
Prints a table and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
import warnings

import numpy as np

from levante import ein

warnings.filterwarnings("ignore", category=DeprecationWarning)


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


einops = _optional("einops")
einx = _optional("einx")
torch = _optional("torch")


def per_call_us(function, number, repeat=7):
    function()
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def cases(x, backend):
    """(name, plain call, levante call, einops call, einx call) for one tensor `x`."""
    if backend == "numpy":
        plain_t = lambda: x.transpose((0, 3, 1, 2))
        plain_r = lambda: x.reshape((4, 64, 16))
        plain_s = lambda: x.sum(axis=(1, 2))
        plain_m = lambda: x.mean(axis=(1, 2))
    else:
        plain_t = lambda: x.permute((0, 3, 1, 2))
        plain_r = lambda: x.reshape((4, 64, 16))
        plain_s = lambda: torch.sum(x, dim=(1, 2))
        plain_m = lambda: torch.mean(x, dim=(1, 2))
    table = [
        ("transpose b h w c -> b c h w", plain_t,
         lambda: ein.rearrange("b h w c -> b c h w", x),
         einops and (lambda: einops.rearrange(x, "b h w c -> b c h w")),
         einx and (lambda: einx.id("b h w c -> b c h w", x))),
        ("merge b h w c -> b (h w) c", plain_r,
         lambda: ein.rearrange("b h w c -> b (h w) c", x),
         einops and (lambda: einops.rearrange(x, "b h w c -> b (h w) c")),
         einx and (lambda: einx.id("b h w c -> b (h w) c", x))),
        ("sum b [h w] c", plain_s,
         lambda: ein.sum("b [h w] c", x),
         einops and (lambda: einops.reduce(x, "b h w c -> b c", "sum")),
         einx and (lambda: einx.sum("b [h w] c", x))),
        ("mean b h w c -> b c", plain_m,
         lambda: ein.mean("b h w c -> b c", x),
         einops and (lambda: einops.reduce(x, "b h w c -> b c", "mean")),
         einx and (lambda: einx.mean("b [h w] c", x))),
    ]
    return table


def warm(number):
    rows = []
    tensors = {"numpy": np.zeros((4, 8, 8, 16), np.float32)}
    if torch is not None:
        torch.set_num_threads(2)
        tensors["torch"] = torch.zeros((4, 8, 8, 16))
    for backend, x in tensors.items():
        for name, plain, ours, theirs, einx_call in cases(x, backend):
            row = {"backend": backend, "case": name,
                   "plain_us": per_call_us(plain, number),
                   "levante_us": per_call_us(ours, number)}
            row["einops_us"] = per_call_us(theirs, number) if theirs else None
            row["einx_us"] = per_call_us(einx_call, max(1, number // 10)) if einx_call else None
            row["overhead_us"] = row["levante_us"] - row["plain_us"]
            rows.append(row)
    return rows


def cold(count):
    """First call for each of `count` new shapes of a known expression (NumPy)."""
    ein.rearrange("b (h w) c -> b h w c", np.zeros((1, 4, 3)), h=2)  # parse once
    times = []
    for b in range(2, count + 2):
        x = np.zeros((b, 4, 3), np.float32)
        start = time.perf_counter()
        ein.rearrange("b (h w) c -> b h w c", x, h=2)
        times.append((time.perf_counter() - start) * 1e6)
    reduce_times = []
    ein.sum("b [s...] c", np.zeros((1, 2, 2, 3)))
    for b in range(2, count + 2):
        x = np.zeros((b, 2, 2, 3), np.float32)
        start = time.perf_counter()
        ein.sum("b [s...] c", x)
        reduce_times.append((time.perf_counter() - start) * 1e6)
    dot_times = []
    ein.dot("b [c1->c2]", np.zeros((1, 3)), np.zeros((3, 4)))
    for b in range(2, count + 2):
        x = np.zeros((b, 3), np.float32)
        start = time.perf_counter()
        ein.dot("b [c1->c2]", x, np.zeros((3, 4), np.float32))
        dot_times.append((time.perf_counter() - start) * 1e6)
    return {"rearrange_median_us": statistics.median(times),
            "sum_median_us": statistics.median(reduce_times),
            "dot_median_us": statistics.median(dot_times)}


def import_time(repeat):
    code = ("import time; t = time.perf_counter(); import levante.ein; "
            "print((time.perf_counter() - t) * 1e3)")
    env = dict(os.environ)
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 env=env, check=True).stdout) for _ in range(repeat)]
    return min(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--out", default="benchmarks/results/notation.json")
    args = parser.parse_args()
    number = 2000 if args.quick else 20000
    rows = warm(number)
    cold_figures = cold(200 if args.quick else 1000)
    import_ms = import_time(3 if args.quick else 7)

    print(f"{'backend':8} {'case':32} {'plain':>8} {'levante':>8} {'over':>7} {'einops':>8} "
          f"{'einx':>8}   (microseconds per call)")
    for r in rows:
        fmt = lambda v: f"{v:8.2f}" if v is not None else f"{'-':>8}"
        print(f"{r['backend']:8} {r['case']:32} {fmt(r['plain_us'])} {fmt(r['levante_us'])} "
              f"{r['overhead_us']:7.2f} {fmt(r['einops_us'])} {fmt(r['einx_us'])}")
    print(f"cold call, new shape (NumPy): rearrange {cold_figures['rearrange_median_us']:.1f} us,"
          f" sum {cold_figures['sum_median_us']:.1f} us, dot {cold_figures['dot_median_us']:.1f}"
          " us (median)")
    print(f"import levante.ein: {import_ms:.1f} ms (best of runs)")

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"warm": rows, "cold": cold_figures, "import_ms": import_ms}, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
