"""What a run reports: a progress line (step, loss, tokens/s, time left), a JSONL log of
every measurement, and the loss curve as a PNG."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class Progress:
    """A one-line progress display, redrawn in place on a terminal, printed periodically
    otherwise (logs, CI)."""

    def __init__(self, total, start=0, stream=None, every=100):
        self.total, self.start, self.stream = total, start, stream or sys.stdout
        self.started = time.perf_counter()
        self.every = every
        self.live = self.stream.isatty()

    def update(self, step, loss, tokens_per_s, extra=""):
        done = step - self.start
        elapsed = time.perf_counter() - self.started
        left = elapsed / max(done, 1) * (self.total - step)
        width = 24
        filled = int(width * step / max(self.total, 1))
        bar = "█" * filled + "·" * (width - filled)
        line = (f"{bar} step {step}/{self.total}  loss {loss:.4f}  {tokens_per_s:,.0f} tok/s  "
                f"{_clock(left)} left{extra}")
        if self.live:
            self.stream.write("\r" + line + "\033[K")
            self.stream.flush()
        elif step % self.every == 0 or step == self.total:
            self.stream.write(line + "\n")

    def close(self):
        if self.live:
            self.stream.write("\n")


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class MetricsLog:
    """Appends one JSON object per line to `metrics.jsonl`."""

    def __init__(self, path):
        self.path = Path(path)

    def write(self, **record):
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def plot_losses(history, path):
    """Train and validation loss against step, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(h["step"], h["train_loss"]) for h in history if "train_loss" in h]
    val = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    figure, axes = plt.subplots(figsize=(7, 4))
    if train:
        axes.plot(*zip(*train), label="train", linewidth=1)
    if val:
        axes.plot(*zip(*val), label="validation", marker="o", linewidth=1.5)
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
