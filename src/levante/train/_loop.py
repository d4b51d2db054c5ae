"""The training loop: batches from (seed, step), one jitted step, validation, checkpoints.

A run resumed from a checkpoint draws the same batches and dropout keys as an uninterrupted
one (both depend only on the seed and the step), so it reproduces the same losses, bit for
bit, and its `metrics.jsonl` (rewritten from the checkpoint's history on resume) the same
rows.

Interrupts. While `train` runs, SIGINT (Ctrl-C) only sets a flag; the loop reads it between
steps, so a jitted step, whose input buffers are donated, is never cut in half. The state
that is saved is the last committed `(params, opt_state, step)` triple: one tuple, bound
once a step's outputs exist, so its label always matches the updates it holds. A second
Ctrl-C raises KeyboardInterrupt at once: the committed state is saved if its buffers are
still alive, and otherwise nothing is saved and the last checkpoint stays (writes are
atomic, see `_checkpoint`). Everything is validated before the run directory is touched,
and a run interrupted before its first checkpoint leaves no directory behind.
"""

from __future__ import annotations

import contextlib
import functools
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from levante import data
from levante.models import generate

from . import _checkpoint
from ._errors import TrainError
from ._log import MetricsLog, Progress, plot_losses
from ._memory import keep_freed_memory
from ._optimizer import optimizer, schedule
from ._placement import Placement, SilentLog
from ._run import (
    checked_checkpoint,
    corpus,
    finetune_settings,
    model_of,
    new_run_directory,
    open_run,
    param_shapes,
    pretrained_params,
    unit,
)

EVAL_SEED = 1_000_003  # validation batches come from their own fixed stream


def make_step(model, model_config, opt, placement=None):
    if placement is not None:  # a mesh, gradient accumulation: see _placement
        return placement.step(model, model_config, opt)
    keep_freed_memory()  # each step reuses the last one's buffers: see _memory

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt_state, x, y, key):
        loss, grads = jax.value_and_grad(model.loss)(params, model_config, x, y, key=key,
                                                     training=True)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def make_eval(model, model_config):
    return jax.jit(lambda params, x, y: model.loss(params, model_config, x, y))


def validation_loss(evaluate, params, ids, config, fetch=data.get_batch):
    losses = [evaluate(params, *fetch(ids, config.block, config.batch, EVAL_SEED, i))
              for i in range(config.eval_batches)]
    return float(np.mean([float(v) for v in losses]))


def sample_text(params, model_config, vocab, config, prompt="\n", seed=None):
    prompt = prompt if not vocab.missing(prompt) else vocab.symbols[0]
    ids = generate(params, model_config, vocab.encode(prompt), config.sample_tokens,
                   jax.random.key(config.seed if seed is None else seed),
                   temperature=config.temperature, top_k=config.top_k or None)
    return prompt + vocab.decode(ids)


class State(NamedTuple):
    """What a checkpoint holds: parameters and optimizer state after `step` updates."""

    params: Any
    opt_state: Any
    step: int


class Interrupts:
    """While active (in the main thread): the first SIGINT sets `requested`, which the loop
    reads between steps; the second raises KeyboardInterrupt at once. A SIGINT that the
    process ignores (`nohup`) stays ignored."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:
                self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self):
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _alive(state):
    return not any(getattr(leaf, "is_deleted", lambda: False)()
                   for leaf in jax.tree_util.tree_leaves((state.params, state.opt_state)))


def train(config, resume=None, stream=None, steps=None):
    """Train as `config` says (or continue the run `resume`); returns the run directory.

    The run directory gets `run.json` (settings, vocabulary, step, history, the latest
    checkpoint and its hash), `checkpoint-<step>.safetensors`, `metrics.jsonl`, `loss.png`
    and `samples.txt`. `steps` extends a resumed run; a resume never goes back: `steps`
    below the run's step is a TrainError, and a finished run is reported as finished and
    left as it is. Every setting is checked before the run directory is created or
    written. Ctrl-C saves the last committed state (see the module's notes) and re-raises
    KeyboardInterrupt. A failed write is a TrainError naming the path; the last good
    checkpoint stays. With glibc (Linux), the process's malloc keeps the memory it frees
    from then on, so that each step reuses the last one's buffers instead of mapping them
    afresh (`levante.train._memory`).

    >>> import io, tempfile
    >>> from levante.train import TrainConfig, read_record
    >>> run = train(TrainConfig(layers=1, width=16, heads=2, block=8, batch=2, steps=3,
    ...                         eval_batches=1, sample_tokens=1,
    ...                         out=tempfile.mkdtemp() + "/run"), stream=io.StringIO())
    >>> read_record(run)["step"]
    3
    """
    stream = stream or sys.stdout
    with Interrupts() as interrupts:
        return _train(config, resume, stream, steps, interrupts)


def _plan(config, resume, steps):
    """Everything checked, nothing written: (config, run, vocab, ids, model, opt, record)."""
    if resume is not None:
        run = Path(resume)
        config, vocab, record = open_run(run)
        done = record["step"]
        if steps is not None:
            if steps < done:
                raise TrainError(f"{run} is at step {done}; --steps {steps} asks for fewer. A "
                                 f"resume only goes forward: give --steps above {done}, or "
                                 f"leave it out to finish the planned {config.steps}")
            config = config.replace(steps=steps)
        vocab, train_ids, val_ids = corpus(config, vocab)
    else:
        run, record = new_run_directory(config), None
        if (run / _checkpoint.RUN_FILE).exists() or (run / _checkpoint.RUN_FILE).is_symlink():
            raise TrainError(f"{run} already holds a run: continue it with --resume {run}, or "
                             "choose another --out")
        if run.exists() and not run.is_dir():
            raise TrainError(f"--out {run} is a file; the run needs a directory")
        tokenizer = None
        if config.init_from is not None:  # fine-tuning: the checkpoint's architecture and BPE
            config, tokenizer = finetune_settings(config)
        vocab, train_ids, val_ids = corpus(config, tokenizer)
    model, model_config = model_of(config, len(vocab))
    return config, run, vocab, (train_ids, val_ids), model, model_config, optimizer(config), \
        record


def _bytes(tree):
    return sum(int(np.prod(leaf.shape)) * np.dtype(leaf.dtype).itemsize
               for leaf in jax.tree_util.tree_leaves(tree))


def _abandon(run, created):
    """Remove what a fresh run that never saved wrote: its log, temporaries, the directory."""
    if not run.is_dir() or (run / _checkpoint.RUN_FILE).exists():
        return
    _checkpoint.clean(run)
    for name in ("metrics.jsonl", ".levante-write-check"):
        with contextlib.suppress(OSError):
            (run / name).unlink()
    if created:
        with contextlib.suppress(OSError):
            run.rmdir()


def _train(config, resume, stream, steps, interrupts):
    config, run, vocab, (train_ids, val_ids), model, model_config, opt, record = \
        _plan(config, resume, steps)
    if record is not None and record["step"] >= config.steps:
        stream.write(f"levante train: {run} is finished at step {record['step']} of "
                     f"{config.steps}; give --steps N with N > {record['step']} to train "
                     "it further\n")
        return run
    if record is not None and "shards" in record:  # written by several processes
        shapes, arrays = param_shapes(model, model_config), None
        done, history = record["step"], list(record.get("history", []))
    elif record is not None:
        shapes, arrays = checked_checkpoint(run, record, model, model_config, opt)
        done, history = record["step"], list(record.get("history", []))
    else:
        shapes, arrays, done, history = param_shapes(model, model_config), None, 0, []
    placement = Placement(config)  # the mesh fits the devices, the batch splits over them
    model_config = placement.model_config(model_config)
    interrupts.check()  # a Ctrl-C during the checks: nothing was written
    created = not run.exists()
    try:
        _checkpoint.make_directory(run)
        removed = _checkpoint.clean(run) if placement.lead else []
        # a checkpoint holds parameters and AdamW's two moments; the old one stays until the
        # new one is whole
        if placement.lead:  # only process 0 writes the log, plots and run.json
            _checkpoint.check_writable(run, 6 * _bytes(shapes) + (1 << 20))
        log = MetricsLog(run / "metrics.jsonl") if placement.lead else SilentLog()
        log.start(history, _checkpoint.write_text)
        if record is not None and "shards" in record:
            params, opt_state = placement.restore(run, record, model, model_config, opt)
        elif arrays is None and config.init_from is not None:  # fine-tuning a GPT-2
            params = pretrained_params(config, placement.shardings_of)
            params, opt_state = placement.place(params, opt.init(params))
        elif arrays is None:
            params, opt_state = placement.init(model, model_config, opt, config.seed)
        else:
            template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
            params = _checkpoint.unflatten("params", arrays, template)
            opt_state = _checkpoint.unflatten("opt", arrays, opt.init(params))
            _check_step_counts(arrays, done, run)
            params, opt_state = placement.place(params, opt_state)
        interrupts.check()
    except BaseException:
        if record is None and placement.lead:
            _abandon(run, created)
        raise
    try:
        return _loop(config, run, vocab, train_ids, val_ids, model, model_config, opt,
                     State(params, opt_state, done), history, log, removed, stream, interrupts,
                     placement)
    except BaseException:
        # a fresh run that stops before its first checkpoint leaves nothing
        if record is None and placement.lead:
            _abandon(run, created)
        raise


def _loop(config, run, vocab, train_ids, val_ids, model, model_config, opt, state, history,
          log, removed, stream, interrupts, placement):
    start = state.step
    saved = start if start else None  # the step of the checkpoint run.json names
    step_fn = make_step(model, model_config, opt, placement)
    evaluate = make_eval(model, model_config)
    rates = schedule(config)
    settings, words = config.to_json(), vocab.to_json()

    def save(state):
        nonlocal saved
        try:
            placement.save(run, state.step, state.params, state.opt_state, settings, words,
                           [h for h in history if h["step"] <= state.step])
        except TrainError as error:
            kept = (f"the checkpoint of step {saved} in {run} is kept" if saved is not None
                    else "no checkpoint had been saved yet")
            raise TrainError(f"{error}; {kept}") from None
        saved = state.step

    root = jax.random.key(config.seed)
    progress = Progress(config.steps, start, stream)
    progress.message(f"levante train: {config.model}, {_count(state.params):,} parameters, "
                     f"{len(train_ids):,} training {unit(vocab)}, vocabulary {len(vocab)}, "
                     f"run {run}")
    if removed:
        progress.message(f"removed {len(removed)} file(s) an interrupted run left in {run}: "
                         f"{', '.join(removed)}")
    tokens, speed = config.batch * config.block, 0.0
    try:
        for step in range(start, config.steps):
            interrupts.check()
            x, y = placement.batch(train_ids, config.block, config.batch, config.seed, step)
            began = time.perf_counter()
            params, opt_state, loss = step_fn(state.params, state.opt_state, x, y,
                                              jax.random.fold_in(root, step))
            loss = float(loss)
            took = time.perf_counter() - began
            if not math.isfinite(loss):
                raise TrainError(f"the loss became {loss} at step {step + 1}; stopping. The last "
                                 f"good checkpoint is kept in {run}: lower --lr or raise --clip")
            speed = tokens / took if speed == 0 else 0.9 * speed + 0.1 * tokens / took
            entry = {"step": step + 1, "train_loss": loss, "lr": float(rates(step)),
                     "tokens_per_s": round(speed), "ms_per_step": round(took * 1e3, 3)}
            if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
                entry["val_loss"] = validation_loss(evaluate, params, val_ids, config,
                                                     placement.batch)
            history.append(entry)
            state = State(params, opt_state, step + 1)  # the commit: one binding
            log.write(**entry)
            if "val_loss" in entry:
                progress.message(f"step {step + 1}: validation loss {entry['val_loss']:.4f}")
            progress.update(step + 1, loss, took * 1e3, speed)
            if (step + 1) % config.checkpoint_every == 0:
                save(state)
    except KeyboardInterrupt:
        progress.close()
        # several processes: a save is collective, which one interrupted process cannot do
        if state.step != (saved or 0) and _alive(state) and jax.process_count() == 1:
            save(state)
            stream.write(f"interrupted: checkpoint of step {state.step} saved; continue "
                         f"with levante train --resume {run}\n")
        elif saved is not None:
            stream.write(f"interrupted: the checkpoint of step {saved} is kept; continue "
                         f"with levante train --resume {run}\n")
        else:
            stream.write("interrupted before a step was saved: nothing is kept\n")
        raise
    finally:
        progress.close()
    if saved != state.step:
        save(state)
    text = sample_text(state.params, model_config, vocab, config)  # every process computes
    if placement.lead:
        _checkpoint.write_atomically(run / "loss.png", lambda p: plot_losses(history, p))
        _checkpoint.write_text(run / "samples.txt", text)
    final = [h["val_loss"] for h in history if "val_loss" in h]
    stream.write(f"validation loss {final[-1]:.4f}\n" if final else "")
    stream.write(f"--- sample ---\n{text}\n--- run saved in {run} (loss.png, metrics.jsonl) ---\n")
    return run


def _check_step_counts(arrays, done, run):
    """The optimizer's own step counters agree with the step `run.json` names.

    The schedule reads those counters, so a checkpoint of another step filed under this
    label (its hash recorded anew) would train at the wrong learning rate while the log
    claims otherwise.
    """
    for name, array in arrays.items():
        if name.startswith("opt/") and name.rsplit("/", 1)[-1] == "count":
            counted = int(np.asarray(array).reshape(-1)[0]) if np.size(array) else None
            if counted != done:
                raise TrainError(f"{run}: the checkpoint's optimizer state ({name}) has "
                                 f"counted {counted} steps, but run.json says step {done}: "
                                 "the checkpoint belongs to another step of the run")


def _count(params):
    return sum(int(np.prod(jnp.shape(p))) for p in jax.tree_util.tree_leaves(params))
