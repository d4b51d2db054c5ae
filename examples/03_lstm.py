"""03 · A character LSTM: a memory that reads the text one character at a time.

The bigram model of step 02 forgets everything but the last character. A recurrent network
keeps a state (h, c) that it updates after every character, so what it predicts can depend
on everything read so far: whether we are inside a name, a word, a line of verse. The LSTM
(Hochreiter & Schmidhuber 1997) decides with gates what to keep, forget and show:

    i, f, g, o = split(x W_x + h W_h + b, 4)
    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)          # forget some memory, write some new
    h' = σ(o) ⊙ tanh(c')                    # show part of it

This is the model of Karpathy's "The Unreasonable Effectiveness of Recurrent Neural
Networks". Training unrolls it over windows of `block` characters; sampling feeds it one
character at a time and carries the state along.

    python examples/03_lstm.py            # about 40 seconds
    python examples/03_lstm.py --steps 30
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import levante as lv
from levante import data, metrics, nets

parser = argparse.ArgumentParser(description="A character LSTM on Shakespeare.")
parser.add_argument("--steps", type=int, default=1500)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=64, help="characters per window")
parser.add_argument("--width", type=int, default=32, help="embedding size")
parser.add_argument("--hidden", type=int, default=128, help="LSTM state size")
parser.add_argument("--lr", type=float, default=3e-3)
args = parser.parse_args()

text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)


# --- The model: embed each character, run the LSTM along the window, read out scores -----
def char_lstm(params, ids, state=None):  # ids: b t
    x = nets.embedding(params["embed"], ids, len(vocab), args.width)  # b t c
    h, state = nets.lstm(params["lstm"], x, args.hidden, state)  # b t hidden, and (h, c)
    return nets.linear(params["head"], h, len(vocab)), state  # b t v


def loss_fn(params, x, y):
    logits, _ = char_lstm(params, x)  # every window starts from a zero state
    return metrics.cross_entropy(logits, y)


x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=0)
params = lv.trace(char_lstm, jax.random.key(0), x)
lv.summary(params)

# Gradients through many recurrent steps can grow large at once; clipping their global
# norm keeps one bad batch from undoing the training.
optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(args.lr))
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
    if step % 250 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}")


# --- Sampling: one character in, the state carried to the next step --------------------
# Training saw windows of `block` characters, but the state lets sampling go on as long as
# we like: nothing limits how far back it can remember, only how well it learned to.
@jax.jit
def next_character(params, ids, state, key):  # ids: b 1
    logits, state = char_lstm(params, ids, state)
    return jax.random.categorical(key, logits[:, -1] / 0.8), state  # temperature 0.8


prompt = vocab.encode("ROMEO:\n")
_, state = char_lstm(params, jnp.asarray(prompt[None, :-1]))  # read all but its last character
ids, key = [int(prompt[-1])], jax.random.key(1)
for i in range(400):
    token, state = next_character(params, jnp.asarray([ids[-1:]]), state,
                                  jax.random.fold_in(key, i))
    ids.append(int(token[0]))
print("--- sample ---\n" + vocab.decode(prompt[:-1]) + vocab.decode(ids))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
