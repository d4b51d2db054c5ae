"""Where a run of `levante train` lives: its mesh, the shardings of its state, the rows of
each batch this process loads, its training step (with gradient accumulation) and its
compute precision, all from the run's settings (`--mesh`, `--grad-accum`, `--precision`).

On one device in one process nothing changes: the state is made and stepped as before. On
a mesh of several devices the parameters and the optimizer state are made in their shards
(`sharded_init`), each batch is split over `data` x `fsdp` (`shard_batch`), and the step is
compiled with the state's shardings as its output shardings, so they never drift. With
several processes each loads only its own rows of every batch (`process_rows`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import jax
import numpy as np
import optax

from levante import data

from . import _checkpoint
from ._accumulate import accumulate_gradients
from ._errors import TrainError
from ._memory import keep_freed_memory
from ._mesh import BATCH_AXES, mesh, replicated
from ._partition import param_shardings
from ._sharding import process_rows, shard_batch, sharded_init
from ._shards import file_name, load_shards, save_shards


def shard_file(step, process, processes):
    """Process 0's slices are `checkpoint-<step>.safetensors`, the file `run.json` names
    and hashes; the others' `checkpoint-<step>.process-<i>-of-<P>.safetensors`."""
    return f"checkpoint-{step}.safetensors" if process == 0 else \
        file_name(step, process, processes)


class SilentLog:
    """The metrics log of a process other than 0: it writes nothing."""

    def start(self, history, write_text):
        pass

    def write(self, **record):
        pass


class Placement:
    """The devices of a run and how its state and batches are laid out on them.

    >>> from levante.train import TrainConfig
    >>> placement = Placement(TrainConfig(mesh="data=1", grad_accum=2, batch=4))
    >>> placement.sharded, placement.accumulate, placement.lead
    (False, 2, True)
    """

    def __init__(self, config):
        self.mesh = mesh(config.mesh or None)
        self.accumulate = config.grad_accum
        self.precision = config.precision
        self.lead = jax.process_index() == 0  # the process that writes logs and plots
        self.shardings = None  # of (params, opt_state), once they are made or placed
        self.sharded = self.mesh.devices.size > 1 or jax.process_count() > 1
        parts = int(np.prod([self.mesh.shape[a] for a in BATCH_AXES]))
        micro = config.batch // config.grad_accum
        if micro % parts:
            raise TrainError(f"--batch {config.batch} in --grad-accum {config.grad_accum} "
                             f"micro-batches gives {micro} rows each, which do not split "
                             f"evenly over the {parts} devices of the mesh's data x fsdp "
                             f"({dict(self.mesh.shape)}): make each micro-batch a multiple "
                             f"of {parts}")

    def model_config(self, model_config):
        """The model's config with the run's compute precision."""
        if self.precision == "bf16":
            return dataclasses.replace(model_config, precision="bfloat16")
        return model_config

    def init(self, model, model_config, opt, seed):
        """Fresh (params, opt_state), made in their shards on a mesh."""
        if not self.sharded:
            params = model.init(model_config, jax.random.key(seed))
            return params, opt.init(params)
        params = sharded_init(lambda key: model.init(model_config, key), jax.random.key(seed),
                              mesh=self.mesh)
        return self._keep(params, sharded_init(opt.init, params, mesh=self.mesh))

    def _keep(self, params, opt_state):
        self.shardings = jax.tree.map(lambda a: a.sharding, (params, opt_state))
        return params, opt_state

    @property
    def shardings_of(self):
        """For `gpt2.load(shardings=...)`: the function of the parameters' shapes that gives
        their shardings on the mesh (None on one device in one process)."""
        return (lambda shapes: param_shardings(shapes, self.mesh)) if self.sharded else None

    def place(self, params, opt_state):
        """(params, opt_state) read from a checkpoint, put in their shards."""
        if not self.sharded:
            return params, opt_state
        state = (params, opt_state)
        return self._keep(*jax.device_put(state, param_shardings(state, self.mesh)))

    def batch(self, ids, block, batch, seed, step):
        """(inputs, targets) of `data.get_batch`, of which this process loads only its rows,
        put on the mesh."""
        if not self.sharded:
            return data.get_batch(ids, block, batch, seed, step)
        rows = process_rows(batch, self.mesh)
        starts = data.window_starts(len(ids), block, batch, seed, step)[rows]
        windows = ids[starts[:, None] + np.arange(block + 1)].astype(np.int32)  # b (t + 1)
        return shard_batch((windows[:, :-1], windows[:, 1:]), self.mesh)

    def step(self, model, model_config, opt):
        """The jitted training step `(params, opt_state, x, y, key) -> (params, opt_state,
        loss)`, averaging the gradients of `accumulate` micro-batches; the input state is
        donated, and on a mesh the output keeps the shardings of the state that `init`,
        `place` or `restore` made. The process's allocator keeps freed memory from now on
        (`keep_freed_memory`): each step reuses the last one's buffers."""
        keep_freed_memory()

        def loss(p, x, y, key):
            return model.loss(p, model_config, x, y, key=key, training=True)

        def step(params, opt_state, x, y, key):
            value, grads = accumulate_gradients(loss, params, (x, y), self.accumulate, key=key)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, value

        options = {"donate_argnums": (0, 1)}
        if self.sharded:
            options["out_shardings"] = (*self.shardings, replicated(self.mesh))
        return jax.jit(step, **options)

    # --- several processes: each writes and reads its own slices -----------------------

    def save(self, run, step, params, opt_state, settings, vocabulary, history):
        """Write the checkpoint of `step`. One process: `_checkpoint.save` (a whole file).
        Several: every process writes its slices (`save_shards`), process 0 then points
        `run.json` at them (with every file's hash), and only after that does each process
        remove its own older files."""
        if jax.process_count() == 1:
            _checkpoint.save(run, step, params, opt_state, settings, vocabulary, history)
            return
        from jax.experimental import multihost_utils

        run = Path(run)
        shards = save_shards(run, step, {"params": params, "opt": opt_state}, self.mesh,
                             name=shard_file)
        if self.lead:
            record = {"format": _checkpoint.FORMAT, "step": step,
                      "checkpoint": shards["files"][0], "sha256": shards["sha256"][0],
                      "settings": settings, "vocabulary": vocabulary, "history": history,
                      "shards": shards}
            _checkpoint.write_text(run / _checkpoint.RUN_FILE, json.dumps(record, indent=1))
        multihost_utils.sync_global_devices(f"levante checkpoint {step}")
        me, processes = jax.process_index(), jax.process_count()
        mine = re.escape(shard_file("STEP", me, processes)).replace("STEP", "[0-9]+")
        for old in run.iterdir():
            if re.fullmatch(mine, old.name) and old.name != shard_file(step, me, processes):
                old.unlink(missing_ok=True)

    def restore(self, run, record, model, model_config, opt):
        """(params, opt_state) of a checkpoint written by several processes, each process
        reading only its own file, into the shardings the run's mesh gives."""
        shards = record.get("shards")
        if not isinstance(shards, dict) or shards.get("step") != record["step"]:
            raise TrainError(f"{Path(run) / _checkpoint.RUN_FILE} is damaged: its 'shards' "
                             "do not describe the checkpoint of its step")
        params = jax.eval_shape(lambda key: model.init(model_config, key), jax.random.key(0))
        templates = {"params": params, "opt": jax.eval_shape(opt.init, params)}
        templates = jax.tree.map(
            lambda s, sharding: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
            templates, param_shardings(templates, self.mesh))
        state = load_shards(run, shards, templates, self.mesh)
        return self._keep(state["params"], state["opt"])
