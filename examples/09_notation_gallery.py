"""09 · A gallery of common network operations, each a line or two of notation.

einx's "common neural network operations", written with levante.ein. Each is a small
function of (params, inputs); `lv.param` hands a parameter to the op, whose expression
gives its shape (the bracketed axes), so no layer needs to be told its input size. The
same functions work on text (b t c), images (b h w c) or video (b f h w c): `s...` stands
for however many axes there are.

At the end a few of them make a small transformer that trains on Shakespeare; LayerScale
starts its residual branches at 1e-5, nearly switched off, and we print how far the
training opened them.

    python examples/09_notation_gallery.py            # about 20 seconds
    python examples/09_notation_gallery.py --steps 30
"""

import argparse
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

import levante as lv
from levante import data, ein, metrics, nets

parser = argparse.ArgumentParser(description="Common operations in the notation.")
parser.add_argument("--steps", type=int, default=1500)
parser.add_argument("--block", type=int, default=32, help="characters of context")
parser.add_argument("--width", type=int, default=64)
args = parser.parse_args()


def layer_scale(params, x):  # ... c: one learned factor per channel, starting tiny
    return ein.multiply("... [c]", x, lv.param(params["scale"], init=1e-5))


def prepend_class_token(params, x):  # b s... c -> b (1 + s...) c
    token = lv.param(params["class_token"], init=lv.init.normal(0.02))
    return ein.rearrange("c, b s... c -> b (1 + (s...)) c", token, x)


def positional_embedding(params, x):  # b s... c: one learned vector per position
    return ein.add("b [s... c]", x, lv.param(params["positions"], init=lv.init.normal(0.02)))


def word_embedding(params, ids, vocab, width):  # b t -> b t c
    return ein.get_at("[v] c, b t -> b t c", lv.param(params["table"]), ids, v=vocab, c=width)


def layer_norm(params, x, eps=1e-5):  # ... c
    mean = ein.mean("... [c]", x, keepdims=True)
    var = ein.var("... [c]", x, keepdims=True)
    x = (x - mean) * jax.lax.rsqrt(var + eps)
    x = ein.multiply("... [c]", x, lv.param(params["scale"]))  # starts at 1
    return ein.add("... [c]", x, lv.param(params["bias"]))  # starts at 0


def multi_head_attention(params, x, heads, causal=False):  # b t c
    project = lambda name, x: ein.dot("b t [c1->c2]", x, lv.param(params[name]), c2=x.shape[-1])
    q, k, v = project("query", x), project("key", x), project("value", x)
    attention = ein.dot("b q (h c), b k (h c) -> b q k h", q, k, h=heads)
    attention = attention / (x.shape[-1] // heads) ** 0.5
    if causal:  # a position sees itself and the past
        t = x.shape[1]
        seen = ein.less_equal("k, q -> q k", ein.arange("k", k=t), ein.arange("q", q=t))
        attention = ein.where("q k, b q k h, -> b q k h", seen, attention, -jnp.inf)
    attention = ein.softmax("b q [k] h", attention)
    return project("out", ein.dot("b q k h, b k (h c) -> b q (h c)", attention, v, h=heads))


def shifted_window_attention(params, x, window, shift, heads):  # b s... c
    sizes = ein.solve("b (s w)... c", x, w=window)  # s: windows per axis, w: their size
    x = ein.roll("b [...] c", x, shift=-shift)  # shift the grid, so windows straddle the old
    x = ein.rearrange("b (s w)... c -> (b s...) (w...) c", x, **sizes)  # windows as sequences
    x = multi_head_attention(params, x, heads)
    x = ein.rearrange("(b s...) (w...) c -> b (s w)... c", x, **sizes)
    return ein.roll("b [...] c", x, shift=shift)


def mlp_mixer(params, x, hidden):  # b s... c: an MLP across positions, then across channels
    s = ein.solve("b s... c", x)["s"]
    h = jax.nn.gelu(ein.dot("b [s...->s2] c", x, lv.param(params["mix_1"]), s2=hidden))
    x = x + ein.dot("b [s2->s...] c", h, lv.param(params["mix_2"]), s=s)
    return x + nets.feed_forward(params["channels"], x, hidden=4 * x.shape[-1])


# --- Each on random data: the shapes in, out, and of the parameters it made -------------
def show(name, f, x, **hyper):
    f = functools.partial(f, **hyper)
    # lv.trace works under jax.jit too: one compiled initialization instead of op by op.
    params = jax.jit(lambda key, x: lv.trace(f, key, x))(jax.random.key(0), x)
    shapes = {"/".join(str(getattr(k, "key", k)) for k in path): leaf.shape
              for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]}
    print(f"{name:25} {x.shape} -> {jax.jit(f)(params, x).shape}  {shapes}")


image = jax.random.normal(jax.random.key(1), (2, 16, 16, 32))  # b h w c
video = jax.random.normal(jax.random.key(2), (2, 4, 8, 8, 32))  # b f h w c
show("layer scale", layer_scale, image)
show("class token", prepend_class_token, image)
show("positional embedding", positional_embedding, image)
show("word embedding", word_embedding, jnp.zeros((2, 10), jnp.int32), vocab=100, width=32)
show("layer norm", layer_norm, image)
show("multi-head attention", multi_head_attention, image.reshape(2, 256, 32), heads=4)
show("shifted window attention", shifted_window_attention, image, window=4, shift=2, heads=4)
show("  ... on video", shifted_window_attention, video, window=4, shift=2, heads=4)
show("MLP-Mixer", mlp_mixer, image, hidden=64)

# --- A small transformer made of them, trained on Shakespeare ---------------------------
text = data.shakespeare()
vocab = data.Vocabulary.from_text(text)
train_ids, val_ids = data.split(vocab.encode(text), validation=0.1)


def model(params, ids):  # b t
    x = word_embedding(params["embed"], ids, len(vocab), args.width)
    x = positional_embedding(params["positions"], x)
    h = multi_head_attention(params["attention"], layer_norm(params["norm_1"], x), heads=4,
                             causal=True)
    x = x + layer_scale(params["scale_attention"], h)
    h = nets.feed_forward(params["feed_forward"], layer_norm(params["norm_2"], x), 4 * args.width)
    x = x + layer_scale(params["scale_feed_forward"], h)
    x = layer_norm(params["norm_3"], x)
    return ein.dot("b t [c->v]", x, lv.param(params["out"]), v=len(vocab))  # b t v


loss_fn = lambda params, x, y: metrics.cross_entropy(model(params, x), y)
params = lv.trace(model, jax.random.key(0), np.zeros((1, args.block), np.int32))
optimizer = optax.adam(3e-3)
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
    params, opt_state, loss = train_step(
        params, opt_state, *data.get_batch(train_ids, args.block, 32, seed=0, step=step))
    losses.append(float(loss))
    if step % 250 == 0 or step == args.steps:
        checks.append((step, validation_loss(params)))
        print(f"step {step:5d}  train loss {losses[-1]:.4f}  validation loss {checks[-1][1]:.4f}")

for branch in ("attention", "feed_forward"):
    scale = np.abs(params[f"scale_{branch}"]["scale"])
    print(f"LayerScale of the {branch} branch: 1e-05 -> mean {scale.mean():.3f}, "
          f"max {scale.max():.3f}")

window, made = jnp.asarray(val_ids[1000:1000 + args.block]), []
next_logits = jax.jit(lambda params, window: model(params, window[None])[0, -1])
for i in range(200):
    token = jax.random.categorical(jax.random.fold_in(jax.random.key(1), i),
                                   next_logits(params, window) / 0.8)
    window, made = jnp.append(window[1:], token), [*made, int(token)]
print("--- sample ---\n" + vocab.decode(val_ids[1000:1000 + args.block]) + vocab.decode(made))

plt.plot(range(1, len(losses) + 1), losses, linewidth=0.8, label="train")
plt.plot(*zip(*checks), "o-", label="validation")
plt.xlabel("step")
plt.ylabel("cross-entropy (nats)")
plt.legend()
plt.savefig(Path(__file__).with_suffix(".png"), dpi=100)
print(f"first loss {checks[0][1]:.4f} last loss {checks[-1][1]:.4f}")
