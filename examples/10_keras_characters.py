"""10 · The character model in Keras: levante.keras's layers, `model.fit`, cached sampling.

Everything so far was plain JAX functions. Keras users build models from layers and train
them with `model.fit`; `levante.keras` gives them the blocks of the steps before as Keras 3
layers, with the argument names of mlable (a Keras library of the same blocks):

    Embedding -> RotaryPositionalEmbedding            each position turned by its own angle
    [LayerNorm -> CachedMultiHeadAttention -> +       causal self-attention, as in step 05
     LayerNorm -> FeedForwardGate -> +] x layers      GeGLU, as in step 07 (GELU for SiLU)
    LayerNorm -> Dense                                scores for the next character

The layers are written with `keras.ops`, so the script runs on any Keras backend: JAX (the
default here), TensorFlow or PyTorch.

Accuracy is counted two ways with `CategoricalGroupAccuracy`: by character, and by groups
of four characters in a row, all right: the size of a short word, and a much stricter test
(an early model guesses single letters well long before it writes a word right).

Sampling uses the attention's KV cache: each layer writes the keys and values of the new
character into slot `step` of its cache and attends over the slots written so far, so one
new character costs one position of work instead of the whole window.

    python examples/10_keras_characters.py                         # about 2 minutes
    KERAS_BACKEND=torch python examples/10_keras_characters.py --steps 30
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")  # Keras reads it once, on its first import

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

from levante import data
from levante.keras.layers import (
    CachedMultiHeadAttention,
    FeedForwardGate,
    RotaryPositionalEmbedding,
)
from levante.keras.metrics import CategoricalGroupAccuracy

parser = argparse.ArgumentParser(description="A character transformer in Keras.")
parser.add_argument("--steps", type=int, default=1500)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--block", type=int, default=64, help="characters of context")
parser.add_argument("--width", type=int, default=64)
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--lr", type=float, default=3e-3)
args = parser.parse_args()
keras.utils.set_random_seed(0)

text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)

# --- The layers, made once: the Keras model and the sampler below share them ------------
embed = keras.layers.Embedding(len(vocab), args.width)
rotate = RotaryPositionalEmbedding()
blocks = [(keras.layers.LayerNormalization(),
           CachedMultiHeadAttention(num_heads=args.heads, key_dim=args.width // args.heads),
           keras.layers.LayerNormalization(),
           FeedForwardGate(input_dim=args.width, hidden_dim=4 * args.width))
          for _ in range(args.layers)]
final_norm, read_out = keras.layers.LayerNormalization(), keras.layers.Dense(len(vocab))


def forward(ids, caches=None, step=None):  # ids: b t -> scores b t v, and the new caches
    """Without caches: the causal pass over a window. With caches: the characters are at
    positions step, step + 1, ... and their keys and values go into those slots."""
    x = rotate(embed(ids), offset=0 if step is None else step)  # b t c
    written = []
    for (norm_1, attention, norm_2, feed_forward), cache in zip(blocks, caches or
                                                                 [None] * len(blocks)):
        h = norm_1(x)
        y, cache = attention(h, h, cache=cache, step=step)  # (output, cache), always
        x = x + y
        x = x + feed_forward(norm_2(x))
        written.append(cache)
    return read_out(final_norm(x)), written


inputs = keras.Input((None,), dtype="int32")  # any length up to the block
model = keras.Model(inputs, forward(inputs)[0])
model.compile(optimizer=keras.optimizers.Adam(args.lr),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=[CategoricalGroupAccuracy(group=1, name="character_accuracy"),
                       CategoricalGroupAccuracy(group=4, name="four_character_accuracy")])
model.summary()

# --- Training with model.fit, in rounds; the validation loss after each round -----------
batches = [data.get_batch(train_ids, args.block, args.batch, seed=0, step=s)
           for s in range(1, args.steps + 1)]
x_train = np.concatenate([x for x, _ in batches])
y_train = np.concatenate([y for _, y in batches])
val = [data.get_batch(val_ids, args.block, 64, seed=1, step=i) for i in range(4)]
x_val, y_val = np.concatenate([x for x, _ in val]), np.concatenate([y for _, y in val])


def validate():
    return model.evaluate(x_val, y_val, batch_size=64, verbose=0, return_dict=True)


checks = [(0, validate())]  # (step, validation results)
train_losses = []  # (step, mean training loss over the round)
every = min(250, args.steps)
for start in range(0, args.steps, every):
    rows = slice(start * args.batch, min(start + every, args.steps) * args.batch)
    history = model.fit(x_train[rows], y_train[rows], batch_size=args.batch, epochs=1,
                        shuffle=False, verbose=0)
    step = min(start + every, args.steps)
    train_losses.append((step, history.history["loss"][-1]))
    checks.append((step, validate()))
    result = checks[-1][1]
    print(f"step {step:5d}  train loss {train_losses[-1][1]:.4f}  validation loss "
          f"{result['loss']:.4f}  characters right {result['character_accuracy']:.1%}  "
          f"four in a row {result['four_character_accuracy']:.1%}")


# --- Sampling with the KV cache ----------------------------------------------------------
def fresh_caches():
    return [attention.empty_cache(1, args.block) for _, attention, _, _ in blocks]


def prefill(ids):  # write a whole context at slots 0 ... t-1
    logits, caches = forward(np.asarray([ids], "int32"), fresh_caches(), step=0)
    return ops.convert_to_numpy(logits)[0, -1], caches


prompt = vocab.encode("ROMEO:\n").tolist()
ids = list(prompt)
logits, caches = prefill(ids)
position, rng = len(ids), np.random.default_rng(1)
for i in range(300):
    if i == 8:  # the cache gives what the whole window gives, without recomputing it
        full = ops.convert_to_numpy(model(np.asarray([ids], "int32")))[0, -1]
        print("cached scores equal the full pass:", bool(np.allclose(logits, full, atol=1e-4)))
    weights = np.exp((logits - logits.max()) / 0.8)  # temperature 0.8
    ids.append(int(rng.choice(len(weights), p=weights / weights.sum())))
    if position == args.block:  # the cache is full: start again from the last half block
        context = ids[-(args.block // 2):]
        logits, caches = prefill(context)
        position = len(context)
        continue
    logits, caches = forward(np.asarray([[ids[-1]]], "int32"), caches, step=position)
    logits = ops.convert_to_numpy(logits)[0, -1]
    position += 1
print("--- sample ---\n" + vocab.decode(ids))

# --- The loss curve, saved next to this file --------------------------------------------
plt.plot(*zip(*train_losses), "s-", label="train (mean over each round)")
plt.plot([s for s, _ in checks], [r["loss"] for _, r in checks], "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]['loss']:.4f} last loss {checks[-1][1]['loss']:.4f}")
