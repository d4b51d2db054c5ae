"""01 · From text to numbers, and the simplest model that learns from them.

A network reads numbers, not letters. This step builds a character vocabulary (two lookup
tables: character -> id and id -> character), turns the bundled Shakespeare into ids,
splits it into training and validation text and cuts batches of windows from it.

Then it trains the simplest model there is: one learned vector of 77 scores, the same guess
for every position whatever came before. Training it by gradient descent rediscovers the
character frequencies, which shows what "minimizing cross-entropy" means: matching the
probabilities of the data.

    python examples/01_vocabulary.py            # a few seconds
    python examples/01_vocabulary.py --steps 30
"""

import argparse
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

import levante as lv
from levante import data, ein, metrics

parser = argparse.ArgumentParser(description="A vocabulary and a one-vector model.")
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=64, help="characters per window")
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args()

# --- The text and its vocabulary --------------------------------------------------------
text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)  # every distinct character, sorted
print(f"{len(text):,} characters; vocabulary of {len(vocab)}: {''.join(vocab.symbols)!r}")

ids = vocab.encode("ROMEO:")  # characters -> ids, through the table vocab.stoi
print("ROMEO: ->", ids.tolist(), "->", repr(vocab.decode(ids)))  # and back, through vocab.itos
# A character the vocabulary lacks is an error rather than a silent -1 (which would read the
# last row of a table); Vocabulary.from_text(text, unknown="?") maps all of them to "?".

# The first 90% is for training; the last 10% is held out to measure what was learned
# rather than what was memorized.
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)

# A batch is `batch` random windows of `block + 1` characters: the inputs are the first
# `block`, the targets the same window shifted by one. Every position is a prediction task:
# given the characters so far, what comes next?
x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=0)  # b t, b t
print(f"inputs  {vocab.decode(x[0, :40])!r}\ntargets {vocab.decode(y[0, :40])!r}")


# --- The model: one vector of scores (logits), broadcast to every position --------------
def frequencies(params, ids):
    logits = lv.validate(params["logits"], (len(vocab),), init=lv.init.zeros)  # v
    return ein.rearrange("v -> b t v", logits, b=ids.shape[0], t=ids.shape[1])


# lv.trace runs the model once and returns the parameters it declared.
params = lv.trace(frequencies, jax.random.key(0), x)
print("parameters:", {name: p.shape for name, p in params.items()})

# The loss is the cross-entropy: -log of the probability given to the right character.
# With all scores at zero every character gets 1/77, so training starts at log 77 ≈ 4.34.
def loss_fn(params, x, y):
    return metrics.cross_entropy(frequencies(params, x), y)


optimizer = optax.adam(args.lr)
opt_state = optimizer.init(params)


@jax.jit  # compiled once, then each step is one call
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
    if step % 100 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}")

# --- What it learned: the softmax of the scores is the frequency of each character ------
learned = jax.nn.softmax(params["logits"])
counted = np.bincount(train_ids, minlength=len(vocab)) / len(train_ids)
print("char  learned  counted")
for i in np.argsort(-counted)[:6]:
    print(f"{vocab.itos[i]!r:>5}  {learned[i]:.4f}   {counted[i]:.4f}")
sample = jax.random.categorical(jax.random.key(1), params["logits"], shape=(200,))
print("--- sample (no context: letters in the right proportions, nothing more) ---")
print(vocab.decode(sample))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
