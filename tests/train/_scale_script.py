"""Sharded training runs for tests/train/test_sharding.py, in a process of its own (the
device count is fixed when JAX starts: XLA_FLAGS=--xla_force_host_platform_device_count).

    python _scale_script.py checks                 several meshes, one JSON line of results
    python _scale_script.py worker ADDR P I STEPS  process I of P trains STEPS steps (mesh
                                                   data=2,fsdp=2 over every process's devices)
"""

import json
import sys
import tempfile

import jax
import numpy as np
import optax

import levante.train as lt
from levante import data
from levante.models import gpt

TEXT = data.load_text(None)[:200_000]
VOCAB = data.Vocabulary.from_text(TEXT)
IDS = np.asarray(VOCAB.encode(TEXT))
CONFIG = gpt.GPTConfig(vocab=len(VOCAB), layers=2, heads=4, width=32, block=16)
BATCH = 8
OPT = lt.optimizer(lt.TrainConfig(lr=1e-2, min_lr=1e-3, warmup=2, steps=40, weight_decay=0.1))


def setup(mesh, config=CONFIG, seed=0):
    params = lt.sharded_init(lambda key: gpt.init(config, key), jax.random.key(seed), mesh=mesh)
    opt_state = lt.sharded_init(OPT.init, params, mesh=mesh)
    return params, opt_state


STEPS = {}


def make_step(mesh, params, opt_state, config=CONFIG, accumulate=1):
    """One jitted training step per (mesh, config, accumulation): compiled once."""
    if (mesh, config, accumulate) in STEPS:
        return STEPS[mesh, config, accumulate]

    def step(params, opt_state, x, y):
        loss, grads = lt.accumulate_gradients(
            lambda p, x, y: gpt.loss(p, config, x, y), params, (x, y), steps=accumulate)
        updates, opt_state = OPT.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    shardings = jax.tree.map(lambda a: a.sharding, (params, opt_state))
    STEPS[mesh, config, accumulate] = jax.jit(
        step, out_shardings=(*shardings, lt.replicated(mesh)), donate_argnums=(0, 1))
    return STEPS[mesh, config, accumulate]


def batch(step, mesh):
    x, y = data.get_batch(IDS, CONFIG.block, BATCH, 0, step)
    rows = lt.process_rows(BATCH, mesh)
    return lt.shard_batch((x[rows], y[rows]), mesh)


def train(mesh, steps, config=CONFIG, accumulate=1, start=None, first=0):
    params, opt_state = setup(mesh, config) if start is None else start
    step = make_step(mesh, params, opt_state, config, accumulate)
    losses = []
    for i in range(first, first + steps):
        params, opt_state, loss = step(params, opt_state, *batch(i, mesh))
        losses.append(float(loss))
    return losses, params, opt_state


def spec_text(array):
    return str(tuple(array.sharding.spec))


def per_device_bytes(*trees):
    """The largest, over devices, of the bytes of the slices each device holds."""
    held = {}
    for leaf in jax.tree.leaves(trees):
        for shard in leaf.addressable_shards:
            held[shard.device] = held.get(shard.device, 0) + shard.data.nbytes
    return max(held.values())


def checks():
    out = {"devices": jax.device_count(), "losses": {}, "specs": {}, "bytes": {}}
    for spec in ("data=1", "data=8", "data=2,fsdp=4", "data=2,tensor=4"):
        mesh = lt.mesh(spec)
        losses, params, opt_state = train(mesh, 20)
        out["losses"][spec] = losses
        block = params["blocks"][0]
        mu = opt_state[1][0].mu["blocks"][0]
        out["specs"][spec] = {
            "qkv": spec_text(block["attention"]["qkv"]["w"]),
            "out": spec_text(block["attention"]["out"]["w"]),
            "up": spec_text(block["feed_forward"]["up"]["w"]),
            "down": spec_text(block["feed_forward"]["down"]["w"]),
            "embed": spec_text(params["embed"]["table"]),
            "norm": spec_text(block["norm_attention"]["scale"]),
            "mu_up": spec_text(mu["feed_forward"]["up"]["w"]),
            "devices_up": len(block["feed_forward"]["up"]["w"].sharding.device_set),
        }
        out["bytes"][spec] = per_device_bytes(params, opt_state)
        out["specs"][spec]["all_like_params"] = all(
            p.sharding == m.sharding
            for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(opt_state[1][0].mu)))
    out["whole_bytes"] = sum(a.nbytes for a in jax.tree.leaves(setup(lt.mesh("data=1"))))

    # gradient accumulation: 4 micro-batches of 2 rows against the batch of 8 rows
    out["accumulate"] = train(lt.mesh("data=2"), 20, accumulate=4)[0]

    # bfloat16 compute, float32 parameters and optimizer state
    half = CONFIG.__class__(**{**CONFIG.__dict__, "precision": "bfloat16"})
    mesh = lt.mesh("data=2,fsdp=4")
    losses, params, opt_state = train(mesh, 20, config=half)
    out["bf16"] = {"losses": losses,
                   "dtypes": sorted({str(a.dtype) for a in jax.tree.leaves((params,
                                                                            opt_state))})}

    # a sharded checkpoint after 10 steps, read into a fresh state: 10 more steps
    run = tempfile.mkdtemp()
    _, params, opt_state = train(mesh, 10)
    record = lt.save_shards(run, 10, {"params": params, "opt": opt_state}, mesh)
    fresh = setup(mesh, seed=1)
    loaded = lt.load_shards(run, record, {"params": fresh[0], "opt": fresh[1]}, mesh)
    resumed = train(mesh, 10, start=(loaded["params"], loaded["opt"]), first=10)[0]
    out["resume"] = {"resumed": resumed, "files": record["files"],
                     "same_sharding": all(
                         a.sharding == b.sharding for a, b in
                         zip(jax.tree.leaves(loaded["params"]), jax.tree.leaves(params)))}
    out["gpt2"] = gpt2_sharded()
    print(json.dumps(out))


def gpt2_sharded():
    """A small GPT-2 directory loaded straight into the shards of data=2,fsdp=4."""
    from levante.models import gpt2

    config = gpt.GPTConfig(vocab=64, layers=1, heads=4, width=32, block=16,
                           activation="gelu_tanh")
    path = tempfile.mkdtemp()
    gpt2.save(gpt.init(config, jax.random.key(0)), config, path)
    whole, _ = gpt2.load(path)
    mesh = lt.mesh("data=2,fsdp=4")
    sharded, _ = gpt2.load(path, shardings=lambda shapes: lt.param_shardings(shapes, mesh))
    wanted = lt.param_shardings(whole, mesh)
    return {"equal": all(bool((np.asarray(a) == np.asarray(b)).all())
                         for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(sharded))),
            "shardings": all(a.sharding == b for a, b in zip(jax.tree.leaves(sharded),
                                                             jax.tree.leaves(wanted))),
            "qkv": spec_text(sharded["blocks"][0]["attention"]["qkv"]["w"]),
            "largest_shard": max(s.data.size for a in jax.tree.leaves(sharded)
                                 for s in a.addressable_shards),
            "largest_leaf": max(a.size for a in jax.tree.leaves(sharded))}


def worker(address, processes, index, steps):
    lt.initialize_distributed(address, int(processes), int(index), heartbeat_timeout=10)
    mesh = lt.mesh("data=2,fsdp=2")
    losses = []
    params, opt_state = setup(mesh)
    step = make_step(mesh, params, opt_state)
    for i in range(int(steps)):
        params, opt_state, loss = step(params, opt_state, *batch(i, mesh))
        losses.append(float(loss))
        print(json.dumps({"process": jax.process_index(), "step": i + 1, "loss": losses[-1]}),
              flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "checks":
        checks()
    else:
        worker(*sys.argv[2:])
