"""04 · Self-attention: every position looks back at the ones before it.

The LSTM of step 03 squeezes the past into one state, read in order. Self-attention lets
each position look at every earlier position directly and decide how much each matters:

    q = x W_q        what this position is looking for       b t d
    k = x W_k        what each position offers               b t d
    v = x W_v        what each position passes on            b t d
    y = softmax(q kᵀ / √d + causal mask) v

The score q·k says how well position k answers the question of position q; the softmax
turns a row of scores into weights that sum to 1; the causal mask hides the future, so the
model cannot read the character it is asked to predict. Attention itself does not know
where anything is, so a learned position vector is added to each character's embedding.

Here the single head is written out with the notation, one line per equation.

    python examples/04_self_attention.py            # about 10 seconds
    python examples/04_self_attention.py --steps 30
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

parser = argparse.ArgumentParser(description="One self-attention head on Shakespeare.")
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=32, help="characters of context")
parser.add_argument("--width", type=int, default=64, help="embedding size c")
parser.add_argument("--head", type=int, default=64, help="query/key/value size d")
parser.add_argument("--lr", type=float, default=3e-3)
args = parser.parse_args()

text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)


def self_attention(params, x, head):  # x: b t c
    # Three linear maps; lv.param takes its shape (c, d) from the expression and `d=head`.
    q = ein.dot("b t [c->d]", x, lv.param(params["query"]), d=head)  # b t d
    k = ein.dot("b t [c->d]", x, lv.param(params["key"]), d=head)  # b t d
    v = ein.dot("b t [c->d]", x, lv.param(params["value"]), d=head)  # b t d
    scores = ein.dot("b q d, b k d -> b q k", q, k) / head**0.5  # b q k
    # The causal mask: query q may see key k only when k <= q (True = may attend).
    t = x.shape[1]
    causal = ein.less_equal("k, q -> q k", ein.arange("k", k=t), ein.arange("q", q=t))  # q k
    scores = ein.where("q k, b q k, -> b q k", causal, scores, -jnp.inf)  # hidden: weight 0
    weights = ein.softmax("b q [k]", scores)  # b q k, each row sums to 1
    return ein.dot("b q k, b k d -> b q d", weights, v), weights  # b q d


def model(params, ids):  # ids: b t
    x = nets.embedding(params["embed"], ids, len(vocab), args.width)  # b t c: which character
    x = ein.add("b [t c]", x, lv.param(params["positions"], init=lv.init.normal(0.02)))  # where
    y, weights = self_attention(params["attention"], x, args.head)  # b t d
    # The character itself (x, the bigram path of step 02) plus what its context says (y).
    logits = nets.linear(params["out"], ein.rearrange("b t c, b t d -> b t (c + d)", x, y),
                         len(vocab))
    return logits, weights  # b t v, b q k


def loss_fn(params, x, y):
    return metrics.cross_entropy(model(params, x)[0], y)


x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=0)
params = lv.trace(model, jax.random.key(0), x)
lv.summary(params)

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
    if step % 250 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}")

# --- What it learned: where the last character of a line looks --------------------------
window = val_ids[1000:1000 + args.block]
_, weights = jax.jit(model)(params, window[None])  # 1 q k
row = np.asarray(weights[0, -1])  # the last query's weights over the keys
print(f"context {vocab.decode(window)!r}\nits last position attends most to (0: itself)")
for k in np.argsort(-row)[:5]:
    print(f"  {vocab.itos[int(window[k])]!r} at {k - len(window) + 1:3d}  weight {row[k]:.2f}")


# --- Sampling: a window of the last `block` characters, slid along one at a time --------
@jax.jit
def next_character(params, window, key):  # window: t
    logits, _ = model(params, window[None])
    return jax.random.categorical(key, logits[0, -1] / 0.8)  # temperature 0.8


window, made = jnp.asarray(window), []
for i in range(300):
    token = next_character(params, window, jax.random.fold_in(jax.random.key(1), i))
    window = jnp.append(window[1:], token)
    made.append(int(token))
print("--- sample ---\n" + vocab.decode(val_ids[1000:1000 + args.block]) + vocab.decode(made))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
