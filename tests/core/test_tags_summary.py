"""Tags, labels (with optax), summary and count."""

import io
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax

import levante as lv


def model(params, x):
    for i in range(3):
        block = params["blocks"][i]
        w = lv.validate(block["w"], (x.shape[-1], 4), init=lv.init.glorot_uniform())
        b = lv.validate(block["b"], (4,), init=0.0)
        x = jnp.tanh(x @ w + b)
    return x * lv.validate(params["norm"]["scale"], (4,), init=1.0)


X = jnp.ones((2, 4))
PARAMS = lv.trace(model, 0, X)


def test_tags_are_paths():
    tags = lv.tags(PARAMS)
    assert jax.tree.structure(tags) == jax.tree.structure(PARAMS)
    assert tags["blocks"][2]["w"] == "blocks/2/w"
    assert tags["norm"]["scale"] == "norm/scale"


def test_label_patterns():
    labels = lv.label(PARAMS, {"blocks/0/*": "first", "blocks/*/w": "matrix", "**/b": "bias",
                               "norm/**": "norm"})
    assert jax.tree.structure(labels) == jax.tree.structure(PARAMS)
    assert labels["blocks"][0] == {"w": "first", "b": "first"}
    assert labels["blocks"][1] == {"w": "matrix", "b": "bias"}
    assert labels["norm"]["scale"] == "norm"
    every = lv.label(PARAMS, {"**": 1})
    assert set(jax.tree.leaves(every)) == {1}
    regex = lv.label(PARAMS, [(re.compile(r"blocks/[12]/.*"), "late")], default="early")
    assert regex["blocks"][1]["b"] == "late" and regex["blocks"][0]["b"] == "early"
    assert lv.label({"w": 1.0}, {"**/w": "x"})["w"] == "x"  # ** also matches no parts


def test_weight_decay_on_matrices_only():
    decay = lambda p: lv.label(p, [(lambda path, x: x.ndim >= 2, True)], default=False)
    optimizer = optax.adamw(0.1, weight_decay=0.5, mask=decay)
    zeros = jax.tree.map(jnp.zeros_like, PARAMS)
    updates, _ = optimizer.update(zeros, optimizer.init(PARAMS), PARAMS)
    assert float(jnp.abs(updates["blocks"][0]["w"]).max()) > 0  # decayed
    assert float(jnp.abs(updates["blocks"][0]["b"]).max()) == 0
    assert float(jnp.abs(updates["norm"]["scale"]).max()) == 0
    masked = optax.masked(optax.sgd(1.0), decay(PARAMS))
    ones = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = masked.update(ones, masked.init(PARAMS), PARAMS)
    np.testing.assert_array_equal(updates["blocks"][1]["w"], -np.ones((4, 4)))


def test_learning_rate_per_block_depth():
    def depth(path, leaf):
        parts = path.split("/")
        return f"depth{parts[1]}" if parts[0] == "blocks" else "other"

    rates = {"depth0": 0.1, "depth1": 0.01, "depth2": 0.001, "other": 0.0}
    optimizer = optax.multi_transform({k: optax.sgd(v) for k, v in rates.items()},
                                      lambda p: lv.label(p, depth))
    ones = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.jit(optimizer.update)(ones, optimizer.init(PARAMS), PARAMS)
    for i in range(3):
        np.testing.assert_allclose(updates["blocks"][i]["w"], -rates[f"depth{i}"])
    np.testing.assert_array_equal(updates["norm"]["scale"], 0.0)


def test_count_and_summary():
    assert lv.count(PARAMS) == 3 * (16 + 4) + 4
    out = io.StringIO()
    lv.summary(PARAMS, file=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["path", "shape", "dtype", "count", "bytes"]
    assert lines[1].split() == ["blocks/0/b", "(4,)", "float32", "4", "16", "B"]
    assert lines[2].split() == ["blocks/0/w", "(4,", "4)", "float32", "16", "64", "B"]
    assert lines[-1].split() == ["total", "7", "arrays", "64", "256", "B"]
    shapes = lv.trace_shapes(model, 0, X)
    out2 = io.StringIO()
    lv.summary(shapes, file=out2)
    assert out2.getvalue() == out.getvalue()


def test_summary_of_a_large_tree():
    big = {"embed": jax.ShapeDtypeStruct((50_257, 768), jnp.bfloat16)}
    out = io.StringIO()
    lv.summary(big, file=out)
    assert "38,597,376" in out.getvalue() and "73.6 MiB" in out.getvalue()
