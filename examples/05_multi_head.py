"""05 · Multi-head attention, and the transformer block around it.

One head gives each position one weighted average of the past. Several heads, each with
its own smaller queries and keys, look for several things at once (the previous letter,
the start of the word, the speaker's name) at the cost of one:

    scores = q kᵀ per head:  "b q (h d), b k (h d) -> b q k h"

The heads' outputs are joined and mixed by an output projection. Around the attention,
the transformer block adds what makes deep stacks trainable (Vaswani et al. 2017, in the
pre-norm order of GPT-2):

    x = x + Attention(LayerNorm(x))        # positions exchange information
    x = x + FeedForward(LayerNorm(x))      # each position thinks about what it gathered

The residual `x +` gives gradients a straight path to every layer; layer norm keeps each
sublayer's input at a steady scale. Two such blocks make a small GPT; step 06 uses the
library's complete one.

    python examples/05_multi_head.py            # about 30 seconds
    python examples/05_multi_head.py --steps 30
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

parser = argparse.ArgumentParser(description="Multi-head attention blocks on Shakespeare.")
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=32, help="characters of context")
parser.add_argument("--width", type=int, default=64, help="model width c = h × d")
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--lr", type=float, default=3e-3)
args = parser.parse_args()

text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)


def multi_head_attention(params, x, heads):  # x: b t c, with c = h d
    c = x.shape[-1]
    project = lambda name, x: ein.dot("b t [c1->c2]", x, lv.param(params[name]["w"]), c2=c)
    q, k, v = project("query", x), project("key", x), project("value", x)  # b t (h d)
    scores = ein.dot("b q (h d), b k (h d) -> b q k h", q, k, h=heads) / (c // heads) ** 0.5
    t = x.shape[1]
    causal = ein.less_equal("k, q -> q k", ein.arange("k", k=t), ein.arange("q", q=t))  # q k
    scores = ein.where("q k, b q k h, -> b q k h", causal, scores, -jnp.inf)
    weights = ein.softmax("b q [k] h", scores)  # b q k h: one distribution per head
    y = ein.dot("b q k h, b k (h d) -> b q (h d)", weights, v, h=heads)  # heads side by side
    return project("out", y)  # b t c: the heads mixed


def block(params, x, heads):  # b t c -> b t c
    h = nets.layer_norm(params["norm_attention"], x)
    x = x + multi_head_attention(params["attention"], h, heads)
    h = nets.layer_norm(params["norm_feed_forward"], x)
    return x + nets.feed_forward(params["feed_forward"], h, hidden=4 * x.shape[-1])


def model(params, ids):  # ids: b t
    x = nets.embedding(params["embed"], ids, len(vocab), args.width)  # b t c
    x = ein.add("b [t c]", x, lv.param(params["positions"], init=lv.init.normal(0.02)))
    for i in range(args.layers):
        x = block(params["blocks"][i], x, args.heads)
    return nets.linear(params["out"], nets.layer_norm(params["norm"], x), len(vocab))  # b t v


def loss_fn(params, x, y):
    return metrics.cross_entropy(model(params, x), y)


x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=0)
params = lv.trace(model, jax.random.key(0), x)
print(f"{lv.count(params):,} parameters")

# The hand-written attention is the library's `nets.attention` (without biases): same
# parameter names, same numbers.
h = jax.random.normal(jax.random.key(2), (2, args.block, args.width))
mine = multi_head_attention(params["blocks"][0]["attention"], h, args.heads)
library = nets.attention(params["blocks"][0]["attention"], h, heads=args.heads, bias=False)
print("matches nets.attention:", bool(jnp.allclose(mine, library, atol=1e-5)))

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


# --- Sampling: a window of the last `block` characters, slid along one at a time --------
@jax.jit
def next_character(params, window, key):  # window: t
    return jax.random.categorical(key, model(params, window[None])[0, -1] / 0.8)


prompt = val_ids[1000:1000 + args.block]
window, made = jnp.asarray(prompt), []
for i in range(300):
    token = next_character(params, window, jax.random.fold_in(jax.random.key(1), i))
    window = jnp.append(window[1:], token)
    made.append(int(token))
print("--- sample ---\n" + vocab.decode(prompt) + vocab.decode(made))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
