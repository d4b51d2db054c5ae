"""The checks of levante.keras, written once and run under any Keras backend.

`test_layers.py` runs them in the test process (KERAS_BACKEND=jax, see conftest.py);
`test_backends.py` runs this file as a script under KERAS_BACKEND=tensorflow and =torch,
one interpreter per backend (Keras picks its backend when first imported).

Oracles: `levante.nets` and `levante.metrics` (JAX functions) on the same weights, mlable's
documented vectors, and the layers' own uncached pass for cached decoding.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path

import jax.numpy as jnp
import keras
import numpy as np
from keras import ops

from levante import metrics as lv_metrics
from levante import nets
from levante.keras import LayerError
from levante.keras.layers import (
    CachedMultiHeadAttention,
    Divide,
    FeedForwardGate,
    Merge,
    RotaryPositionalEmbedding,
)
from levante.keras.metrics import CategoricalGroupAccuracy

TOLERANCE = 1e-6
RNG = np.random.default_rng(0)


def numpy(x):
    if isinstance(x, keras.Variable):
        return np.asarray(ops.convert_to_numpy(x.value))
    return np.asarray(ops.convert_to_numpy(x))


def normal(*shape):
    return RNG.normal(size=shape).astype("float32")


def close(a, b, tolerance=TOLERANCE, what=""):
    a, b = numpy(a), numpy(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    error = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert error <= tolerance, f"{what}: max abs difference {error:.3g} > {tolerance}"


def raises(make, *words):
    """`make()` raises LayerError whose message names every word."""
    try:
        make()
    except LayerError as error:
        message = str(error)
        assert all(w in message for w in words), f"{words} not all in: {message}"
        return
    raise AssertionError(f"no LayerError naming {words}")


# --- relative reshaping -------------------------------------------------------------------
def check_divide_and_merge_match_nets():
    x = np.arange(2 * 4 * 6 * 8, dtype="float32").reshape(2, 4, 6, 8)
    for settings in [dict(input_axis=2, output_axis=-1, factor=3),
                     dict(input_axis=-1, output_axis=1, factor=4),
                     dict(input_axis=1, output_axis=3, factor=2),
                     dict(input_axis=0, output_axis=2, factor=2, insert=True),
                     dict(input_axis=3, output_axis=1, factor=2, insert=True)]:
        close(Divide(**settings)(x), nets.divide(x, **settings), 0, f"Divide {settings}")
    assert tuple(Divide(input_axis=2, output_axis=-1, factor=3)(x).shape) == (2, 4, 2, 24)
    for settings in [dict(left_axis=1, right_axis=-1, left=False),
                     dict(left_axis=-1, right_axis=0, left=True),
                     dict(left_axis=2, right_axis=1, left=False), dict()]:
        expected = nets.merge(x, **{"left_axis": -2, "right_axis": -1, **settings})
        close(Merge(**settings)(x), expected, 0, f"Merge {settings}")
    assert tuple(Merge(left_axis=1, right_axis=-1, left=False)(x).shape) == (2, 6, 32)
    # divide then the opposite divide is the identity
    there = Divide(input_axis=2, output_axis=1, factor=2)(x[0])
    close(Divide(input_axis=1, output_axis=2, factor=2)(there), x[0], 0, "round trip")


# --- RoPE ---------------------------------------------------------------------------------
# mlable's documented vectors (tests/layers/test_embedding.py): half-split, wavelength 1e4
MLABLE_ROPE = [
    (dict(), np.ones((1, 4, 6)), 0, [[
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [-0.30116868, 0.95252377, 0.99784327, 1.3817732, 1.0453222, 1.0021521],
        [-1.3254442, 0.9029957, 0.9956818, 0.4931506, 1.0883927, 1.0042995],
        [-1.1311125, 0.85152256, 0.9935159, -0.8488725, 1.1291188, 1.0064424]]]),
    (dict(scaling_factor=2.0), np.ones((1, 3, 2, 4)), 0, [[
        [[1.0, 1.0, 1.0, 1.0]] * 2,
        [[0.398157001, 0.994987488, 1.357008100, 1.004987478]] * 2,
        [[-0.301168621, 0.989950180, 1.381773233, 1.009949803]] * 2]]),
    (dict(), np.zeros((4, 32, 8)), 4, np.zeros((4, 32, 8))),
]


def check_rope_reproduces_mlable_and_matches_nets():
    for settings, x, offset, expected in MLABLE_ROPE:
        y = RotaryPositionalEmbedding(**settings)(x.astype("float32"), offset=offset)
        close(y, np.asarray(expected, "float32"), 1e-6, f"mlable vector {settings}")
    x = normal(2, 5, 3, 8)
    for settings in [dict(), dict(sequence_axis=2, feature_axis=-1, max_wavelength=100),
                     dict(sequence_axis=1, feature_axis=3, scaling_factor=4.0)]:
        for offset in (0, 7):
            y = RotaryPositionalEmbedding(**settings)(x, offset=offset)
            close(y, nets.rope(jnp.asarray(x), offset=offset, **settings), TOLERANCE,
                  f"RoPE {settings} offset {offset}")
    # the offset is the position of the first element: a slice at offset 2 equals the full
    # sequence's positions 2...
    layer = RotaryPositionalEmbedding()
    close(layer(x[:, 2:], offset=2), numpy(layer(x))[:, 2:], TOLERANCE, "offset")


# --- GeGLU --------------------------------------------------------------------------------
def check_feed_forward_gate_matches_nets():
    layer = FeedForwardGate(input_dim=8, hidden_dim=24)
    x = normal(2, 5, 8)
    y = layer(x)
    params = {"gate": numpy(layer.gate_kernel), "linear": numpy(layer.linear_kernel),
              "out": numpy(layer.output_kernel)}
    close(y, nets.feed_forward_gate(params, jnp.asarray(x), 24, "gelu"), TOLERANCE, "GeGLU")
    # the exact GELU, not tanh: with unit weights the output is h·GELU(s)·s for s = sum(x)
    ones = FeedForwardGate(input_dim=2, hidden_dim=4, kernel_initializer="ones")
    s = 2.0 * 0.3
    exact = 4 * s * 0.5 * s * (1 + math.erf(s / math.sqrt(2)))
    close(ones(np.full((1, 2), 0.3, "float32")), np.full((1, 2), exact, "float32"), 1e-6,
          "exact GELU")


# --- attention ----------------------------------------------------------------------------
def _nets_params(layer):
    """levante.nets.attention's parameters from the Keras layer's weights (`(h c)` order)."""
    width = layer._num_heads * layer._key_dim
    def dense(sub, w_shape):
        kernel, bias = (numpy(w) for w in sub.weights)
        return {"w": jnp.asarray(kernel.reshape(w_shape)), "b": jnp.asarray(bias.reshape(-1))}
    return {"query": dense(layer._query_dense, (-1, width)),
            "key": dense(layer._key_dense, (-1, width)),
            "value": dense(layer._value_dense, (-1, width)),
            "out": dense(layer._output_dense, (width, -1))}


def check_attention_matches_nets_and_cached_decoding():
    heads, head_dim, width, steps = 2, 4, 8, 4
    layer = CachedMultiHeadAttention(num_heads=heads, key_dim=head_dim)
    x = normal(2, steps, width)
    full, scores, cache = layer(x, x, return_attention_scores=True)
    params = _nets_params(layer)
    close(full, nets.attention(params, jnp.asarray(x), heads=heads), TOLERANCE,
          "causal pass vs nets.attention")
    assert tuple(scores.shape) == (2, heads, steps, steps)
    assert tuple(cache.shape) == (2, 2, steps, heads, head_dim)
    close(np.triu(numpy(scores)[0, 0], 1), np.zeros((steps, steps)), 0, "causal weights")
    unmasked, _ = layer(x, x, use_causal_mask=False)
    close(unmasked, nets.attention(params, jnp.asarray(x), heads=heads, causal=False),
          TOLERANCE, "no mask vs nets.attention")
    # cross-attention: 2 queries over 6 keys, the queries are the last two positions
    cross, _ = layer(x[:, -2:], x)
    close(cross, numpy(full)[:, -2:], TOLERANCE, "queries aligned bottom-right")
    # append mode, from cache=None: a chunk of 2, then one position at a time
    out, cache = layer(x[:, :2], x[:, :2])
    outs = [numpy(out)]
    for t in range(2, steps):
        out, cache = layer(x[:, t:t + 1], x[:, t:t + 1], cache=cache)
        outs.append(numpy(out))
    close(np.concatenate(outs, 1), full, TOLERANCE, "append decoding vs the causal pass")
    assert tuple(cache.shape) == (2, 2, steps, heads, head_dim)
    # step mode: slots of a fixed cache, written in place; slots not yet written stay out
    cache, outs = layer.empty_cache(2, steps + 2), []
    cache = ops.add(cache, 5.0)  # whatever the empty slots hold never counts
    for t in range(steps):
        out, cache = layer(x[:, t:t + 1], x[:, t:t + 1], cache=cache, step=t)
        outs.append(numpy(out))
    close(np.concatenate(outs, 1), full, TOLERANCE, "step decoding vs the causal pass")
    # writing a slot again replaces it (mlable adds): rewriting slot 3 changes nothing
    again, rewritten = layer(x[:, 3:4], x[:, 3:4], cache=cache, step=3)
    close(again, outs[3], TOLERANCE, "rewritten slot")
    close(rewritten, cache, 0, "rewritten cache")
    # step mode without the causal mask still leaves unwritten slots out
    cache = ops.add(layer.empty_cache(2, steps + 2), 5.0)
    out, _ = layer(x, x, cache=cache, step=0, use_causal_mask=False)
    close(out, unmasked, TOLERANCE, "step mode, no causal mask")
    # levante.nets' own KV cache gives the same decoding
    nets_cache = nets.init_cache(2, steps, heads, head_dim)
    for t in range(steps):
        y, nets_cache = nets.attention(params, jnp.asarray(x[:, t:t + 1]), heads=heads,
                                       cache=nets_cache)
        close(y, outs[t], TOLERANCE, f"nets cached step {t}")
    # a mask over the keys, combined with the causal mask
    mask = RNG.random((2, steps, steps)) > 0.3
    masked, _ = layer(x, x, attention_mask=mask)
    close(masked, nets.attention(params, jnp.asarray(x), heads=heads,
                                 mask=jnp.asarray(mask)[:, None]), TOLERANCE, "masked")


# --- the metric ---------------------------------------------------------------------------
def _utf32(texts):
    rows = [np.frombuffer(t.encode("utf-32-be"), np.uint8) for t in texts]
    return np.stack(rows).astype("int32")


def check_group_accuracy_reproduces_mlable_and_matches_metrics():
    # mlable's documented case (tests/test_metrics.py): 3 characters wrong in each row,
    # their leading zero bytes right
    true = _utf32(["1111111111111111", "2222222222222222"])
    pred = _utf32(["0111111101111110", "0002222222222222"])
    one_hot = lambda ids: np.eye(256, dtype="float32")[ids]
    byte = CategoricalGroupAccuracy(group=1, name="byte_accuracy")
    character = CategoricalGroupAccuracy(group=4, name="character_accuracy")
    for _ in range(3):  # accumulating equal batches leaves the result unchanged
        byte.update_state(one_hot(true), one_hot(pred))
        character.update_state(one_hot(true), one_hot(pred))
        assert abs(float(byte.result()) - (4 * 16 - 3) / (4 * 16)) < 1e-7
        assert abs(float(character.result()) - (16 - 3) / 16) < 1e-7
    byte.reset_state()
    byte.update_state(true, one_hot(pred))  # integer ids for y_true
    assert abs(float(byte.result()) - 61 / 64) < 1e-7
    # random predictions against levante.metrics.group_accuracy, groups in turn, weights
    ids = RNG.integers(0, 3, size=(4, 16))
    logits = normal(4, 16, 3)
    weights = RNG.random((4, 16)).astype("float32")
    for group in (1, 2, [2, 4]):
        metric = CategoricalGroupAccuracy(group=group)
        metric.update_state(ids, logits, sample_weight=weights)
        expected = lv_metrics.group_accuracy(ids, logits, group=group, weights=weights)
        close(metric.result(), np.asarray(expected), 1e-6, f"group {group}")
    flat = CategoricalGroupAccuracy(group=4, depth=3)
    flat.update_state(ids, logits.reshape(4, 48))
    close(flat.result(), np.asarray(lv_metrics.group_accuracy(ids, logits, group=4)), 1e-6,
          "depth")


# --- a model: build, save, load, fit -------------------------------------------------------
def small_model(vocabulary=12, steps=8, width=8):
    ids = keras.Input((steps,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, width)(ids)
    x = RotaryPositionalEmbedding()(x)
    y, _ = CachedMultiHeadAttention(num_heads=2, key_dim=width // 2)(x, x)
    x = x + y
    x = x + FeedForwardGate(input_dim=width, hidden_dim=2 * width)(x)
    x = Divide(input_axis=1, output_axis=2, factor=2)(Divide(input_axis=2, output_axis=1,
                                                              factor=2)(x))
    x = Merge(left_axis=-2, right_axis=-1)(Divide(input_axis=-1, output_axis=-2, factor=2,
                                                   insert=True)(x))
    return keras.Model(ids, keras.layers.Dense(vocabulary)(x))


def check_save_and_load_round_trip():
    model = small_model()
    ids = RNG.integers(0, 12, size=(3, 8)).astype("int32")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
    close(loaded(ids), model(ids), 0, "loaded model")
    kinds = {type(layer).__name__ for layer in loaded.layers}
    assert {"CachedMultiHeadAttention", "FeedForwardGate", "Divide", "Merge",
            "RotaryPositionalEmbedding"} <= kinds, kinds
    metric = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(CategoricalGroupAccuracy(group=[2, 4], axis=-1)))
    assert (metric.group, metric.depth) == ([2, 4], -1)


def check_fit_lowers_the_loss():
    model = small_model()
    model.compile(optimizer=keras.optimizers.Adam(0.02),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[CategoricalGroupAccuracy(group=1, name="accuracy")])
    starts = RNG.integers(0, 12, size=32)
    ids = (starts[:, None] + np.arange(9)) % 12  # counting: the next id is one more
    history = model.fit(ids[:, :-1], ids[:, 1:], batch_size=8, epochs=5, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses


# --- errors -------------------------------------------------------------------------------
def check_bad_input_names_the_argument():
    x = np.ones((2, 4, 6), "float32")
    raises(lambda: Divide(input_axis=1, output_axis=2, factor=0), "factor=0")
    raises(lambda: Divide(input_axis=1, output_axis=2, factor=2.0), "factor=2.0")
    raises(lambda: Divide(input_axis=2, output_axis=1, factor=4)(x), "factor=4", "6")
    raises(lambda: Divide(input_axis=3, output_axis=1, factor=2)(x), "input_axis=3")
    raises(lambda: Divide(input_axis=1, output_axis=-4, factor=2)(x), "output_axis=-4")
    raises(lambda: Divide(input_axis=1, output_axis=1, factor=2)(x), "input_axis=1")
    raises(lambda: Divide(input_axis=1, output_axis=2, factor=2, insert=1), "insert=1")
    raises(lambda: Merge(left_axis=0, right_axis=3)(x), "right_axis=3")
    raises(lambda: Merge(left_axis=-1, right_axis=2)(x), "left_axis=-1")
    raises(lambda: Merge(left="yes"), "left='yes'")
    raises(lambda: RotaryPositionalEmbedding()(np.ones((1, 4, 5), "float32")), "even")
    raises(lambda: RotaryPositionalEmbedding(sequence_axis=3)(x), "sequence_axis=3")
    raises(lambda: RotaryPositionalEmbedding(feature_axis=1)(x), "feature_axis=1")
    raises(lambda: RotaryPositionalEmbedding(max_wavelength=0), "max_wavelength=0")
    raises(lambda: RotaryPositionalEmbedding(scaling_factor=-1.0), "scaling_factor=-1.0")
    raises(lambda: RotaryPositionalEmbedding()(x, offset=0.5), "offset=0.5")
    raises(lambda: FeedForwardGate(input_dim=0, hidden_dim=4), "input_dim=0")
    raises(lambda: FeedForwardGate(input_dim=4, hidden_dim=None), "hidden_dim=None")
    raises(lambda: FeedForwardGate(input_dim=4, hidden_dim=8)(x), "input_dim=4", "6")
    raises(lambda: CachedMultiHeadAttention(num_heads=0, key_dim=4), "num_heads=0")
    raises(lambda: CachedMultiHeadAttention(num_heads=2, key_dim=4, value_dim=3), "value_dim=3")
    raises(lambda: CachedMultiHeadAttention(num_heads=2, key_dim=4, dropout=1.5), "dropout=1.5")
    raises(lambda: CachedMultiHeadAttention(num_heads=2, key_dim=4, attention_axes=(1, 2)),
           "attention_axes")
    raises(lambda: CachedMultiHeadAttention(num_heads=2, key_dim=4, flash_attention=True),
           "flash_attention")
    layer = CachedMultiHeadAttention(num_heads=2, key_dim=3)
    raises(lambda: layer(np.ones((2, 3, 4, 6), "float32"), np.ones((2, 3, 4, 6), "float32")),
           "query")
    layer(x, x)
    cache = layer.empty_cache(2, 5)
    raises(lambda: layer(x, x, cache=cache, step=2), "step=2", "5 slots")
    raises(lambda: layer(x, x, step=0), "step=0", "cache")
    raises(lambda: layer(x, x, cache=cache, step=-1), "step=-1")
    raises(lambda: layer(x, x, cache=np.zeros((2, 2, 5, 3, 3), "float32")), "cache")
    raises(lambda: layer(x, x, cache=np.zeros((2, 3, 5, 2, 3), "float32")), "cache")
    raises(lambda: layer(x, x, attention_mask=np.ones((2, 4, 5), bool)), "attention_mask")
    raises(lambda: layer.empty_cache(2, -1), "length=-1")
    raises(lambda: CategoricalGroupAccuracy(group=0), "group=0")
    raises(lambda: CategoricalGroupAccuracy(group=[2, 2], axis=[1, 2, 3]), "axis")
    raises(lambda: CategoricalGroupAccuracy(depth=0), "depth=0")
    metric = CategoricalGroupAccuracy(group=3)
    raises(lambda: metric.update_state(np.zeros((2, 4), "int32"), np.ones((2, 4, 5))),
           "group=3", "4")
    raises(lambda: metric.update_state(np.zeros((2, 5), "int32"), np.ones((2, 4, 5))),
           "y_true")
    raises(lambda: CategoricalGroupAccuracy(group=1, axis=2).update_state(
        np.zeros((2, 4), "int32"), np.ones((2, 4, 5))), "axis=2")


def check_attention_refuses_mismatched_inputs_and_bad_steps():
    layer = CachedMultiHeadAttention(num_heads=2, key_dim=3)
    x = normal(2, 4, 6)
    full, _ = layer(x, x)
    # nothing broadcast: batch sizes, key and value lengths, the mask's every axis
    raises(lambda: layer(x[:1], x), "batch size")
    raises(lambda: layer(x, x[:1]), "batch size")
    raises(lambda: layer(x, x, key=x[:, :3]), "key", "value")
    raises(lambda: layer(x, x, attention_mask=np.ones((1, 4, 4), bool)), "attention_mask")
    raises(lambda: layer(x, x, attention_mask=np.ones((2, 4, 1), bool)), "attention_mask")
    cache = layer.empty_cache(2, 5)
    raises(lambda: layer(x[:, :1], x[:, :1], cache=cache, step=0,
                         attention_mask=np.ones((2, 1, 1), bool)), "attention_mask", "(2, 1, 5)")
    # LayerError, not the backend's einsum or Keras' input-spec error
    raises(lambda: layer(x[0], x[0]), "query", "rank 3")
    raises(lambda: layer(normal(2, 4, 5), normal(2, 4, 5)), "query", "5 features", "6")
    raises(lambda: layer(x, x, cache=cache, step=ops.convert_to_tensor(1.5)), "step=")
    raises(lambda: layer(x, x, cache=cache, step=ops.convert_to_tensor([0, 1])), "step=")
    # a concrete tensor step past the end or negative: NaN on every backend, no IndexError
    for bad in (4, -1):
        out, _ = layer(x[:, :2], x[:, :2], cache=cache, step=ops.convert_to_tensor(bad))
        assert np.isnan(numpy(out)).all(), f"step tensor {bad}"
    out, _ = layer(x[:, :2], x[:, :2], cache=cache, step=ops.convert_to_tensor(0))
    close(out, numpy(full)[:, :2], 1e-5, "step tensor 0")
    # the same checks on symbolic inputs, while a functional model is built
    raises(lambda: layer(keras.Input(batch_shape=(2, 3, 6)), keras.Input(batch_shape=(3, 3, 6))),
           "batch size")
    raises(lambda: layer(keras.Input(batch_shape=(2, 1, 6)), keras.Input(batch_shape=(2, 1, 6)),
                         cache=keras.Input(batch_shape=(2, 3, 5, 2, 3)), step=0), "cache")
    # no positions and no cache: nothing to attend to, an empty output (max over no keys)
    out, empty = layer(x[:, :0], x[:, :0])
    assert numpy(out).shape == (2, 0, 6) and numpy(empty).shape == (2, 2, 0, 2, 3)


def check_rope_refuses_integer_inputs_and_offsets_that_are_not_integers():
    rope = RotaryPositionalEmbedding()
    # an integer input came back rotated and truncated to integers
    raises(lambda: rope(np.full((1, 4, 6), 3, "int32")), "int32", "float")
    raises(lambda: rope(normal(1, 4, 6), offset=ops.convert_to_tensor(1.5)), "offset=")
    raises(lambda: rope(normal(1, 4, 6), offset=ops.convert_to_tensor([1, 2])), "offset=")
    raises(lambda: rope(normal(1, 4, 6), offset=None), "offset=None")
    x = normal(1, 4, 6)
    close(rope(x, offset=ops.convert_to_tensor(2)), rope(x, offset=2), 0, "tensor offset")


def check_group_accuracy_follows_the_labels_convention():
    """-100 weighs nothing and breaks no group; other ids outside the classes raise (NumPy)
    or give NaN (tensors, and inside model.evaluate, where the metric runs traced)."""
    ids = RNG.integers(0, 3, size=(4, 16))
    ids[0, :5], ids[2, 7], ids[3, :] = -100, -100, -100
    logits = normal(4, 16, 3)
    weights = RNG.random((4, 16)).astype("float32")
    for group in (1, 2, [2, 4]):
        metric = CategoricalGroupAccuracy(group=group)
        metric.update_state(ids, logits, sample_weight=weights)
        expected = lv_metrics.group_accuracy(ids, logits, group=group, weights=weights)
        close(metric.result(), np.asarray(expected), 1e-6, f"ignored labels, group {group}")
    outside = ids.copy()
    outside[1, 3] = 3
    raises(lambda: CategoricalGroupAccuracy(group=2).update_state(outside, logits),
           "3", "(1, 3)", "ignore_index")
    raises(lambda: CategoricalGroupAccuracy(group=1, ignore_index=None).update_state(
        ids, logits), "-100")
    raises(lambda: CategoricalGroupAccuracy(ignore_index=1.5), "ignore_index=1.5")
    raises(lambda: CategoricalGroupAccuracy(group=1).update_state(ids + 0.5, logits), "y_true")
    whole = CategoricalGroupAccuracy(group=2)  # float ids that are whole numbers are ids
    whole.update_state(ids.astype("float32"), logits)
    close(whole.result(), np.asarray(lv_metrics.group_accuracy(ids, logits, group=2)), 1e-6,
          "float ids")
    metric = CategoricalGroupAccuracy(group=2)
    metric.update_state(ops.convert_to_tensor(outside), logits)
    assert math.isnan(float(numpy(metric.result()))), "an id outside the classes, as a tensor"
    model = keras.Sequential([keras.Input((16, 3)), keras.layers.Identity()])
    model.compile(loss=lambda y, p: ops.mean(p) * 0.0,  # only the metric matters
                  metrics=[CategoricalGroupAccuracy(group=2, name="pairs")])
    traced = model.evaluate(logits, ids, batch_size=4, verbose=0, return_dict=True)
    close(np.float32(traced["pairs"]), np.asarray(lv_metrics.group_accuracy(ids, logits,
                                                                            group=2)),
          1e-6, "model.evaluate")
    traced = model.evaluate(logits, outside, batch_size=4, verbose=0, return_dict=True)
    assert math.isnan(traced["pairs"]), traced
    config = CategoricalGroupAccuracy(group=2, ignore_index=-1).get_config()
    assert CategoricalGroupAccuracy.from_config(config).ignore_index == -1


def check_divide_with_insert_names_the_input_axis_it_divides():
    # the axes count in the result: input_axis=2 after inserting at 0 is the input's axis 1
    x = np.ones((2, 4, 6, 8), "float32")
    raises(lambda: Divide(input_axis=2, output_axis=0, factor=3, insert=True)(x),
           "factor=3", "size 4", "axis 1 of the input")
    assert tuple(Divide(input_axis=2, output_axis=0, factor=2, insert=True)(x).shape) == \
        (2, 2, 2, 6, 8)


def check_the_same_axis_twice_is_refused_when_the_layer_is_made():
    # before any input arrives (Keras' from_config wraps the same message in a TypeError)
    raises(lambda: Divide(input_axis=1, output_axis=1, factor=2), "input_axis=1",
           "output_axis=1")
    raises(lambda: Merge(left_axis=-1, right_axis=-1), "left_axis=-1")
    raises(lambda: RotaryPositionalEmbedding(sequence_axis=2, feature_axis=2), "sequence_axis=2")


CHECKS = [value for name, value in sorted(globals().items()) if name.startswith("check_")]

if __name__ == "__main__":  # one interpreter per backend: python tests/keras/_keras_checks.py
    for check in CHECKS:
        check()
        print(f"{keras.backend.backend()}: {check.__name__} ok", flush=True)
    print(f"all {len(CHECKS)} checks passed on {os.environ.get('KERAS_BACKEND')}")
    sys.exit(0)
