"""What a run reports: a live progress bar (rich) with messages above it, a JSONL log of
every measurement, and the loss curve as a PNG."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar


class Progress:
    """The progress of a run on `stream`. On a terminal: a live bar (step, loss, ms/step,
    tokens/s, time left) with every message (validation losses, notices) printed above it.
    Elsewhere (a log file, CI): plain lines, a progress line every `every` steps and every
    message, so a log holds every validation loss."""

    def __init__(self, total, start=0, stream=None, every=100):
        self.total, self.every = total, every
        self.console = Console(file=stream or sys.stdout, highlight=False, markup=False,
                               emoji=False, soft_wrap=True)
        self.live = self.console.is_terminal
        self.bar = None
        if self.live:
            self.bar = Bar(TextColumn("step"), MofNCompleteColumn(), BarColumn(),
                           TextColumn("{task.fields[figures]}"), TimeRemainingColumn(),
                           console=self.console)
            self.task = self.bar.add_task("train", total=total, completed=start, figures="")
            self.bar.start()

    def update(self, step, loss, ms_per_step, tokens_per_s):
        figures = f"loss {loss:.4f}  {ms_per_step:.1f} ms/step  {tokens_per_s:,.0f} tok/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=step, figures=figures)
        elif step % self.every == 0 or step == self.total:
            self.console.print(f"step {step}/{self.total}  {figures}")

    def message(self, text):
        """A line above the bar on a terminal, a plain line in a log."""
        self.console.print(text)

    def close(self):
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class MetricsLog:
    """`metrics.jsonl`: one JSON object per step. `start(history)` rewrites the file to hold
    exactly the rows of `history` (a fresh run: none; a resumed run: those of its
    checkpoint), so the log never keeps rows of steps the checkpoint does not hold, and a
    resumed run's log equals an uninterrupted run's."""

    def __init__(self, path):
        self.path = Path(path)

    def start(self, history, write_text):
        write_text(self.path, "".join(json.dumps(entry) + "\n" for entry in history))

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
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
