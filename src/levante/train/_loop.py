"""The training loop: batches from (seed, step), one jitted step, validation, checkpoints.

A run resumed from a checkpoint draws the same batches and dropout keys as an uninterrupted
one (both depend only on the seed and the step), so it reproduces the same losses.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from levante import data
from levante.models import generate

from . import _checkpoint
from ._errors import TrainError
from ._log import MetricsLog, Progress, plot_losses
from ._optimizer import optimizer, schedule
from ._run import corpus, model_of, new_run_directory, open_run

EVAL_SEED = 1_000_003  # validation batches come from their own fixed stream


def make_step(model, model_config, opt):
    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt_state, x, y, key):
        loss, grads = jax.value_and_grad(model.loss)(params, model_config, x, y, key=key,
                                                     training=True)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def make_eval(model, model_config):
    return jax.jit(lambda params, x, y: model.loss(params, model_config, x, y))


def validation_loss(evaluate, params, ids, config):
    losses = [evaluate(params, *data.get_batch(ids, config.block, config.batch, EVAL_SEED, i))
              for i in range(config.eval_batches)]
    return float(np.mean([float(v) for v in losses]))


def sample_text(params, model_config, vocab, config, prompt="\n", seed=None):
    prompt = prompt if not vocab.missing(prompt) else vocab.symbols[0]
    ids = generate(params, model_config, vocab.encode(prompt), config.sample_tokens,
                   jax.random.key(config.seed if seed is None else seed),
                   temperature=config.temperature, top_k=config.top_k or None)
    return prompt + vocab.decode(ids)


def train(config, resume=None, stream=None, steps=None):
    """Train as `config` says (or continue the run `resume`); returns the run directory.

    The run directory gets `run.json` (settings, vocabulary, step, history, the latest
    checkpoint and its hash), `checkpoint-<step>.safetensors`, `metrics.jsonl`, `loss.png`
    and `samples.txt`. `steps` extends a resumed run.

    >>> import io, tempfile
    >>> from levante.train import TrainConfig, read_record
    >>> run = train(TrainConfig(layers=1, width=16, heads=2, block=8, batch=2, steps=3,
    ...                         eval_batches=1, sample_tokens=1,
    ...                         out=tempfile.mkdtemp() + "/run"), stream=io.StringIO())
    >>> read_record(run)["step"]
    3
    """
    stream = stream or sys.stdout
    if resume is not None:
        config, vocab, record = open_run(resume)
        if steps is not None:
            config = config.replace(steps=steps)
        run, start, history = resume, record["step"], record.get("history", [])
        vocab, train_ids, val_ids = corpus(config, vocab)
    else:
        run = new_run_directory(config)
        if (run / _checkpoint.RUN_FILE).exists():
            raise TrainError(f"{run} already holds a run: continue it with --resume {run}, or "
                             "choose another --out")
        vocab, train_ids, val_ids = corpus(config)
        start, history = 0, []
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    model, model_config = model_of(config, len(vocab))
    opt = optimizer(config)
    params = model.init(model_config, jax.random.key(config.seed))
    opt_state = opt.init(params)
    if resume is not None:
        arrays = _checkpoint.load_arrays(run, record)
        params = _checkpoint.unflatten("params", arrays, params)
        opt_state = _checkpoint.unflatten("opt", arrays, opt_state)
    step_fn, evaluate = make_step(model, model_config, opt), make_eval(model, model_config)
    log, rates = MetricsLog(run / "metrics.jsonl"), schedule(config)
    settings, words = config.to_json(), vocab.to_json()
    save = lambda step: _checkpoint.save(run, step, params, opt_state, settings, words, history)
    root = jax.random.key(config.seed)
    stream.write(f"levante train: {config.model}, {_count(params):,} parameters, "
                 f"{len(train_ids):,} training characters, vocabulary {len(vocab)}, run {run}\n")
    progress = Progress(config.steps, start, stream)
    tokens, speed, step = config.batch * config.block, 0.0, start
    try:
        for step in range(start, config.steps):
            x, y = data.get_batch(train_ids, config.block, config.batch, config.seed, step)
            began = time.perf_counter()
            params, opt_state, loss = step_fn(params, opt_state, x, y, jax.random.fold_in(root,
                                                                                         step))
            loss = float(loss)
            took = time.perf_counter() - began
            if not math.isfinite(loss):
                raise TrainError(f"the loss became {loss} at step {step + 1}; stopping. The last "
                                 f"good checkpoint is kept in {run}: lower --lr or raise --clip")
            speed = tokens / took if speed == 0 else 0.9 * speed + 0.1 * tokens / took
            entry = {"step": step + 1, "train_loss": loss, "lr": float(rates(step)),
                     "tokens_per_s": round(speed)}
            if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
                entry["val_loss"] = validation_loss(evaluate, params, val_ids, config)
            history.append(entry)
            log.write(**entry)
            shown = f"  val {entry['val_loss']:.4f}" if "val_loss" in entry else ""
            progress.update(step + 1, loss, speed, shown)
            if (step + 1) % config.checkpoint_every == 0:
                save(step + 1)
    except KeyboardInterrupt:
        progress.close()
        done = history[-1]["step"] if history else start
        save(done)
        stream.write(f"interrupted: checkpoint of step {done} saved; continue with "
                     f"levante train --resume {run}\n")
        raise
    progress.close()
    save(config.steps)
    plot_losses(history, run / "loss.png")
    text = sample_text(params, model_config, vocab, config)
    (run / "samples.txt").write_text(text, encoding="utf-8")
    final = [h["val_loss"] for h in history if "val_loss" in h]
    stream.write(f"validation loss {final[-1]:.4f}\n" if final else "")
    stream.write(f"--- sample ---\n{text}\n--- run saved in {run} (loss.png, metrics.jsonl) ---\n")
    return run


def _count(params):
    return sum(int(np.prod(jnp.shape(p))) for p in jax.tree_util.tree_leaves(params))
