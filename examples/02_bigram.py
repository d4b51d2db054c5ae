"""02 · A bigram model: the next character from the previous one.

Step 01 guessed the same letter frequencies everywhere. Here the guess depends on the
character just read: the model is a table with one row of 77 scores per character, and
reading the row of the previous character is the whole forward pass (an embedding
look-up, `ein.get_at`). After "q" it learns to expect "u"; after "." a space or a newline.

It is still a lookup table, so there is an exact answer to compare with: counting which
character follows which. Gradient descent on the cross-entropy arrives at the counts.

    python examples/02_bigram.py            # a few seconds
    python examples/02_bigram.py --steps 30
"""

import argparse
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

import levante as lv
from levante import data, ein, metrics

parser = argparse.ArgumentParser(description="A bigram model of Shakespeare.")
parser.add_argument("--steps", type=int, default=1000)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=64, help="characters per window")
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args()

text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)
v = len(vocab)


# --- The model: row `ids[b, t]` of a v × v table holds the scores of the next character --
def bigram(params, ids):  # b t
    # lv.param lets the expression give the table its shape: v rows of v scores.
    table = lv.param(params["table"], init=lv.init.zeros)
    return ein.get_at("[v] w, b t -> b t w", table, ids, v=v, w=v)  # b t w


def loss_fn(params, x, y):
    return metrics.cross_entropy(bigram(params, x), y)


x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=0)
params = lv.trace(bigram, jax.random.key(0), x)
print("parameters:", {name: p.shape for name, p in params.items()})

optimizer = optax.adam(args.lr)
opt_state = optimizer.init(params)


@jax.jit
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = optimizer.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss


val_batches = [data.get_batch(val_ids, args.block, 64, seed=1, step=i) for i in range(4)]
evaluate = jax.jit(loss_fn)
validation_loss = lambda params: float(np.mean([evaluate(params, *b) for b in val_batches]))

losses, checks = [], [(0, validation_loss(params))]  # train loss per step; (step, val loss)
for step in range(1, args.steps + 1):
    x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=step)
    params, opt_state, loss = train_step(params, opt_state, x, y)
    losses.append(float(loss))
    if step % 200 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}")

# --- The exact answer: count the pairs (with one extra count each, so none is impossible) -
counts = np.ones((v, v))
np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
counted = counts / counts.sum(axis=1, keepdims=True)
print(f"counting the training pairs gives a validation loss of "
      f"{-np.mean(np.log(counted[val_ids[:-1], val_ids[1:]])):.4f}")

# --- What it learned: the likeliest characters after a few others -----------------------
learned = np.asarray(jax.nn.softmax(params["table"], axis=-1))  # v w
for previous in ["q", "T", ".", ","]:
    row = learned[vocab.stoi[previous]]
    best = ", ".join(f"{vocab.itos[i]!r} {row[i]:.2f}" for i in np.argsort(-row)[:3])
    print(f"after {previous!r}: {best}")

# Sampling: read the row of the last character, draw the next one from it, repeat.
rng, ids = np.random.default_rng(0), [vocab.stoi["\n"]]
for _ in range(300):
    ids.append(rng.choice(v, p=learned[ids[-1]]))
print("--- sample ---" + vocab.decode(ids))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
