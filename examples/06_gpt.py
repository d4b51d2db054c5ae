"""06 · A GPT, trained the way `levante train` does it.

Step 05 wrote two transformer blocks by hand. A GPT (Radford et al. 2018, 2019) is that
model grown up, and `levante.models.gpt` holds it in one short file that reads like
nanoGPT's:

    x = Embed(ids) + Positions               # b t c
    x = Block(x) × layers                    # pre-norm attention and feed-forward, residuals
    logits = LayerNorm(x) Eᵀ                 # the read-out reuses the embedding table

`levante.train.train` is the whole training job in one call, the same as the `levante
train` command: AdamW with warm-up and cosine decay, gradient clipping, weight decay on
matrices only, validation, checkpoints, the loss curve and a sample. The defaults are
nanoGPT's character-level CPU recipe (4 layers, 4 heads, width 128, context 64).

    python examples/06_gpt.py            # about 2 minutes
    python examples/06_gpt.py --steps 30

The run directory is kept (runs/gpt, or --out): `levante sample runs/gpt --prompt ROMEO:`
samples from it again (KV-cached, see step 07), `levante train --resume runs/gpt --steps
4000` trains it further.
"""

import argparse
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np

import levante as lv
from levante import data, train
from levante.models import gpt

parser = argparse.ArgumentParser(description="A character GPT on Shakespeare.")
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--layers", type=int, default=4)
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--width", type=int, default=128)
parser.add_argument("--block", type=int, default=64, help="characters of context")
parser.add_argument("--batch", type=int, default=12)
parser.add_argument("--out", default=None, help="run directory (default: runs/gpt, -2, ...)")
args = parser.parse_args()

# Every setting of the job in one dataclass; each is also a flag of `levante train`.
settings = train.TrainConfig(
    layers=args.layers, heads=args.heads, width=args.width, block=args.block,
    batch=args.batch, steps=args.steps, warmup=min(100, args.steps // 10),
    eval_every=max(1, args.steps // 8), eval_batches=8, sample_tokens=300)

# The model it will train, made here too to look at it and measure it before training.
text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
config = gpt.GPTConfig(vocab=len(vocab), layers=args.layers, heads=args.heads,
                       width=args.width, block=args.block)
print(config)
initial = gpt.init(config, jax.random.key(settings.seed))  # what train() starts from
print(f"{lv.count(initial):,} parameters; one block holds:")
lv.summary(initial["blocks"][0])

_, val_ids = data.split(vocab.encode(text), settings.validation)
val_batches = [data.get_batch(val_ids, args.block, 64, seed=1, step=i) for i in range(4)]
evaluate = jax.jit(lambda params, x, y: gpt.loss(params, config, x, y))
validation_loss = lambda params: float(np.mean([evaluate(params, *b) for b in val_batches]))
first = validation_loss(initial)

# --- The whole job ----------------------------------------------------------------------
run = train.train(settings.replace(out=args.out))
# A run directory holds the settings, vocabulary, history and checkpoint (safetensors).
history = train.read_record(run)["history"]
_, vocab, _, config, params = train.load_params(run)

# --- The loss curve, saved next to this file --------------------------------------------
checks = [(0, first)] + [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
plt.plot([h["step"] for h in history], [h["train_loss"] for h in history], linewidth=0.8,
         label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {first:.4f} last loss {validation_loss(params):.4f}")
