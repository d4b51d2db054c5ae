"""08 · Bytes instead of a vocabulary: UTF-32-BE, and accuracy by byte and by character.

A character vocabulary must be built from the text and fails on a character it never saw.
Bytes need no vocabulary: 256 symbols cover every text in every script. In UTF-32-BE every
character is exactly four bytes ("a" is 0 0 0 97), so a character is a fixed group of four
byte positions, the way byte-level models such as tokun read text:

    ids      b t g           g = 4 bytes per character
    embed    b t g e   ->  "b t g e -> b t (g e)"  one vector per character
    blocks   b t c           transformer blocks over characters, as in step 05
    read-out b t (g v) ->  "b t (g v) -> b t g v"  the 4 bytes of the next character

Measuring it needs care: the first three bytes of an English character are almost always
0, so "byte accuracy" looks good long before the model knows any letter. A character is
right only when all four of its bytes are, which `metrics.group_accuracy(group=4)` counts.

    python examples/08_byte_level.py            # about 1 minute
    python examples/08_byte_level.py --steps 30
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import levante as lv
from levante import data, ein, metrics, nets

parser = argparse.ArgumentParser(description="A byte-level model of Shakespeare.")
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=32, help="characters of context")
parser.add_argument("--width", type=int, default=64, help="model width (4 × byte embedding)")
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--lr", type=float, default=3e-3)
args = parser.parse_args()

text = data.shakespeare()
utf32 = data.encode_utf32(text).reshape(-1, 4)  # one row of 4 bytes per character: n g
print(f"{text[:5]!r} -> {utf32[:5].tolist()}")
train_ids, val_ids = data.split(utf32, validation=0.1)


def byte_model(params, ids):  # ids: b t g
    e = nets.embedding(params["embed"], ids, 256, args.width // 4)  # b t g e
    x = ein.rearrange("b t g e -> b t (g e)", e)  # b t c: a character from its bytes
    x = ein.add("b [t c]", x, lv.param(params["positions"], init=lv.init.normal(0.02)))
    for i in range(args.layers):
        x = nets.transformer_block(params["blocks"][i], x, heads=args.heads)  # b t c
    logits = nets.linear(params["out"], nets.layer_norm(params["norm"], x), 4 * 256)
    return ein.rearrange("b t (g v) -> b t g v", logits, g=4)  # the next character's bytes


def loss_fn(params, x, y):
    return metrics.cross_entropy(byte_model(params, x), y)  # mean over b t g


def accuracies(params, x, y):  # (by byte, by character, by byte position)
    logits = ein.rearrange("b t g v -> b (t g) v", byte_model(params, x))
    targets = ein.rearrange("b t g -> b (t g)", y)
    right = ein.mean("[b t] g", jnp.argmax(logits, -1).reshape(y.shape) == y)  # g
    return (metrics.group_accuracy(targets, logits, group=1),
            metrics.group_accuracy(targets, logits, group=4), right)


# get_batch cuts windows of whole characters: rows of the n × 4 table.
x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=0)  # b t g, b t g
params = lv.trace(byte_model, jax.random.key(0), x)
print(f"{lv.count(params):,} parameters")

optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(args.lr))
opt_state = optimizer.init(params)


@jax.jit
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


val_batches = [data.get_batch(val_ids, args.block, 64, seed=1, step=i) for i in range(4)]
evaluate, measure = jax.jit(loss_fn), jax.jit(accuracies)
validation_loss = lambda params: float(np.mean([evaluate(params, *b) for b in val_batches]))

losses, checks = [], [(0, validation_loss(params))]  # train loss per step; (step, val loss)
for step in range(1, args.steps + 1):
    x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=step)
    params, opt_state, loss = train_step(params, opt_state, x, y)
    losses.append(float(loss))
    if step % 250 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        by_byte, by_character, _ = measure(params, *val_batches[0])
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}"
              f"  accuracy by byte {by_byte:.1%}, by character {by_character:.1%}")

_, _, right = measure(params, *val_batches[0])
print("accuracy of each byte of a character:", " ".join(f"{r:.1%}" for r in right))
print(f"per character that is {4 * checks[-1][1]:.2f} nats (4 bytes), to compare with 05")


# --- Sampling: four bytes at a time, a window of `block` characters slid along ----------
@jax.jit
def next_character(params, window, key):  # window: t g
    logits = byte_model(params, window[None])[0, -1]  # g v
    return jax.random.categorical(key, logits / 0.8)  # g: one draw per byte


prompt = val_ids[1000:1000 + args.block]
window, made = jnp.asarray(prompt, jnp.int32), []
for i in range(300):
    character = next_character(params, window, jax.random.fold_in(jax.random.key(1), i))
    window = jnp.concatenate([window[1:], character[None]])
    made.append(np.asarray(character))
# Four bytes that name no character (possible: each byte is drawn on its own) decode to �.
print("--- sample ---\n" + data.decode_utf32(prompt) + data.decode_utf32(np.stack(made)))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy per byte (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
