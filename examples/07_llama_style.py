"""07 · The modern GPT (Llama): RMSNorm, rotary positions, SwiGLU, and a KV cache.

The GPT of step 06 is 2019's. Llama-style models change four things, each a setting of
`levante.models.gpt.GPTConfig`:

    RMSNorm     y = x / √(mean(x²) + ε) · γ          no mean to subtract, no bias: cheaper
    RoPE        rotate each pair of q and k features by an angle ∝ position, so q·k depends
                only on how far apart two positions are (no position vectors to learn)
    SwiGLU      y = W_o (silu(x W_g) ⊙ x W_l)          a gate chooses what passes
    no biases, and a read-out matrix of its own

Then sampling with a KV cache: a new token attends to the keys and values of all earlier
positions, which do not change, so they are kept instead of recomputed. Each step costs
one position instead of the whole context.

    python examples/07_llama_style.py            # about 2 minutes
    python examples/07_llama_style.py --steps 30
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import levante as lv
from levante import data, models, nets, train
from levante.models import gpt

parser = argparse.ArgumentParser(description="A Llama-style character model on Shakespeare.")
parser.add_argument("--steps", type=int, default=1500)
parser.add_argument("--layers", type=int, default=4)
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--width", type=int, default=128)
parser.add_argument("--block", type=int, default=64, help="characters of context")
parser.add_argument("--batch", type=int, default=12)
parser.add_argument("--lr", type=float, default=1e-3)
args = parser.parse_args()

text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)

config = gpt.GPTConfig(
    vocab=len(vocab), layers=args.layers, heads=args.heads, width=args.width, block=args.block,
    norm="rms", positions="rotary", gated=True, activation="silu", bias=False, tie=False)
params = gpt.init(config, jax.random.key(0))
print(f"{lv.count(params):,} parameters; one block holds:")
lv.summary(params["blocks"][0])

# RoPE in one check: rotate a query and a key to positions (m, n); their product depends
# only on m - n, which is why a rotary model needs no learned position table.
q, k = jax.random.normal(jax.random.key(1), (2, 1, 1, 32))  # b t c each
score = lambda m, n: float(jnp.sum(nets.rope(q, offset=m) * nets.rope(k, offset=n)))
print(f"q·k at positions (5, 2): {score(5, 2):.4f}, (45, 42): {score(45, 42):.4f}, "
      f"(5, 4): {score(5, 4):.4f}")

# --- Training: the pieces `levante.train` is made of, in a loop of our own ---------------
settings = train.TrainConfig(steps=args.steps, lr=args.lr, warmup=min(100, args.steps // 10))
optimizer = train.optimizer(settings)  # AdamW, warm-up + cosine decay, clipping, decay mask
opt_state = optimizer.init(params)


@jax.jit
def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(gpt.loss)(params, config, x, y)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


val_batches = [data.get_batch(val_ids, args.block, 64, seed=1, step=i) for i in range(4)]
evaluate = jax.jit(lambda params, x, y: gpt.loss(params, config, x, y))
validation_loss = lambda params: float(np.mean([evaluate(params, *b) for b in val_batches]))

losses, checks = [], [(0, validation_loss(params))]  # train loss per step; (step, val loss)
for step in range(1, args.steps + 1):
    x, y = data.get_batch(train_ids, args.block, args.batch, seed=0, step=step)
    params, opt_state, loss = train_step(params, opt_state, x, y)
    losses.append(float(loss))
    if step % 250 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}")

# --- Sampling with a KV cache, step by step ---------------------------------------------
prefill = jax.jit(lambda params, ids: gpt.prefill(params, config, ids))
decode = jax.jit(lambda params, token, cache: gpt.step(params, config, token, cache))

ids = jnp.asarray(vocab.encode("ROMEO:\n"))[None]  # b t
logits, cache = prefill(params, ids)  # the prompt once; its keys and values fill the cache
print("cache of layer 0: keys", cache[0]["keys"].shape, "((b h) positions c), written up to",
      int(cache[0]["index"]))
while ids.shape[1] < args.block:  # the cache holds `block` positions
    token = jnp.argmax(logits, axis=-1).astype(jnp.int32)  # greedy: the likeliest character
    ids = jnp.concatenate([ids, token[:, None]], axis=1)
    logits, cache = decode(params, token, cache)  # one new position against the cache
full = jax.jit(gpt.forward, static_argnums=1)(params, config, ids)[:, -1]  # without a cache
print("cached logits equal the full pass:", bool(jnp.allclose(logits, full, atol=1e-4)))
print("--- greedy (always the likeliest: it soon repeats itself) ---\n" + vocab.decode(ids[0]))

# `models.generate` compiles that loop (lax.scan) and goes on past one context window.
made = models.generate(params, config, vocab.encode("JULIET:\n"), 300, jax.random.key(2),
                       temperature=0.8, top_k=40)
print("--- sample ---\nJULIET:\n" + vocab.decode(made))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
