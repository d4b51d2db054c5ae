"""GPT-2 checkpoints in the Hugging Face format: `load` into levante's `gpt`, `save` back.

    params, config = gpt2.load("path/to/gpt2")          # config.json + model.safetensors
    logits = gpt.forward(params, config, ids)           # b t vocab, transformers' logits
    gpt2.save(params, config, "path/to/out")            # transformers' from_pretrained opens it

GPT-2 (Radford et al. 2019) is levante's `GPTConfig` with learned positions, LayerNorm
with biases and epsilon 1e-5, the tanh GELU ("gelu_new"), biases everywhere, the read-out
tied to the embedding and `n_positions` as the block: `config_from_hf` maps config.json's
fields to those settings, and the forward pass has no GPT-2 case of its own.

The tensors keep their layout. transformers' GPT-2 stores its projections as `Conv1D`
weights (in, out), which is levante's `x W`; `c_attn` is the fused (c, 3c) query-key-value
matrix with the heads inside each third (`(h c)`), as levante's `qkv`:

    transformer.wte.weight        embed/table                   vocab c
    transformer.wpe.weight        positions                     block c
    transformer.h.{i}.ln_1        blocks/{i}/norm_attention     scale (weight), bias
    transformer.h.{i}.attn.c_attn blocks/{i}/attention/qkv      w: c (3 c), b
    transformer.h.{i}.attn.c_proj blocks/{i}/attention/out      w: c c, b
    transformer.h.{i}.ln_2        blocks/{i}/norm_feed_forward
    transformer.h.{i}.mlp.c_fc    blocks/{i}/feed_forward/up    w: c (4 c), b
    transformer.h.{i}.mlp.c_proj  blocks/{i}/feed_forward/down  w: (4 c) c, b
    transformer.ln_f              norm
    lm_head.weight                head/w, transposed (only when not tied)

Files saved from `GPT2Model` (OpenAI's originals) name the same tensors without
`transformer.`; both are read. Loading maps each file (safetensors) and converts one
tensor at a time, the largest first, so the peak memory stays near the parameters' own
size. Nothing is unpickled: a directory with only `pytorch_model.bin` is refused, with the
command that converts it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from pathlib import Path

import jax
import numpy as np

from levante.core import tags, trace_shapes

from . import gpt

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"

# transformers' activation names whose function levante computes identically
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu",
               "relu": "relu", "silu": "silu", "swish": "silu", "tanh": "tanh"}
# transformers' GPT2Config defaults, for fields a config.json leaves out
DEFAULTS = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
            "n_head": 12, "n_inner": None, "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, "scale_attn_weights": True,
            "scale_attn_by_inverse_layer_idx": False, "add_cross_attention": False}


class CheckpointError(ValueError):
    """A Hugging Face directory that cannot be read or written, naming the file and the
    tensor or field at fault."""


def config_from_hf(hf, source=CONFIG):
    """The `GPTConfig` of a transformers GPT-2 config (the dict of its config.json).

    Fields it leaves out take transformers' `GPT2Config` defaults. Settings levante's GPT
    does not compute (another attention scaling, a feed-forward width other than 4 × width,
    an activation without an identical levante one) raise `CheckpointError`.

    >>> config = config_from_hf({"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8})
    >>> config.layers, config.width, config.block, config.vocab, config.activation
    (2, 8, 1024, 50257, 'gelu_tanh')
    """
    if hf.get("model_type") != "gpt2":
        raise CheckpointError(f"{source}: model_type is {hf.get('model_type')!r}, not 'gpt2'; "
                              "levante reads GPT-2 checkpoints only")
    get = {**DEFAULTS, **{k: v for k, v in hf.items() if v is not None or k == "n_inner"}}
    # types first: the checks below compare and multiply these fields
    for field in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner"):
        value = get[field]
        if (field != "n_inner" or value is not None) and (
                not isinstance(value, int) or isinstance(value, bool)):
            raise CheckpointError(f"{source}: {field} is {value!r}; it must be an integer")
    activation = get["activation_function"]
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise CheckpointError(f"{source}: activation_function {activation!r} has no identical "
                              f"levante activation (supported: {', '.join(ACTIVATIONS)})")
    eps = get["layer_norm_epsilon"]
    # a bool is an int to Python, and an infinite epsilon zeroes every normalized value
    if (not isinstance(eps, (int, float)) or isinstance(eps, bool) or not math.isfinite(eps)
            or eps <= 0):
        raise CheckpointError(f"{source}: layer_norm_epsilon is {eps!r}; it must be a finite "
                              "number > 0 (GPT-2's is 1e-5)")
    inner = get["n_inner"]
    if inner is not None and inner != 4 * get["n_embd"]:
        raise CheckpointError(f"{source}: n_inner {inner} is not 4 × n_embd "
                              f"({4 * get['n_embd']}), the feed-forward width of levante's GPT")
    for field, works in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                         ("add_cross_attention", False)):
        if bool(get[field]) != works:
            raise CheckpointError(f"{source}: {field}={get[field]} is not supported (levante's "
                                  f"GPT computes {field}={works})")
    for field in ("tie_word_embeddings",):
        if not isinstance(get[field], bool):
            raise CheckpointError(f"{source}: {field} is {get[field]!r}; it must be true or "
                                  "false")
    try:
        return gpt.GPTConfig(
            vocab=int(get["vocab_size"]), layers=int(get["n_layer"]), heads=int(get["n_head"]),
            width=int(get["n_embd"]), block=int(get["n_positions"]),
            norm_eps=float(get["layer_norm_epsilon"]), activation=ACTIVATIONS[activation],
            tie=bool(get["tie_word_embeddings"]))
    except (gpt.ConfigError, TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: {error}") from None


def config_to_hf(config):
    """The config.json fields of transformers' GPT-2 for a GPT-2-shaped `GPTConfig`.

    >>> hf = config_to_hf(gpt.GPTConfig(vocab=100, layers=2, heads=2, width=8, block=16,
    ...                                 activation="gelu_tanh"))
    >>> hf["model_type"], hf["n_embd"], hf["activation_function"], hf["layer_norm_epsilon"]
    ('gpt2', 8, 'gelu_new', 1e-05)
    """
    wrong = [(field, getattr(config, field), want) for field, want in
             (("positions", "learned"), ("norm", "layer"), ("gated", False), ("bias", True))
             if getattr(config, field) != want]
    activation = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu", "silu": "silu",
                  "tanh": "tanh"}.get(config.activation)
    if activation is None:
        wrong.append(("activation", config.activation, "gelu_tanh"))
    if wrong:
        shown = ", ".join(f"{f}={v!r} (GPT-2: {w!r})" for f, v, w in wrong)
        raise CheckpointError(f"this GPT is not GPT-2 shaped: {shown}")
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "vocab_size": config.vocab, "n_positions": config.block, "n_embd": config.width,
            "n_layer": config.layers, "n_head": config.heads, "n_inner": None,
            "activation_function": activation,
            "layer_norm_epsilon": 1e-5 if config.norm_eps is None else config.norm_eps,
            # levante drops out on the residual branches only
            "resid_pdrop": config.dropout, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
            "tie_word_embeddings": config.tie, "scale_attn_weights": True,
            "dtype": "float32"}


def _hf_names(config):
    """{levante path: (transformers name without `transformer.`, transposed?)}."""
    names = {"embed/table": ("wte.weight", False), "positions": ("wpe.weight", False),
             "norm/scale": ("ln_f.weight", False), "norm/bias": ("ln_f.bias", False)}
    parts = {"norm_attention/scale": "ln_1.weight", "norm_attention/bias": "ln_1.bias",
             "attention/qkv/w": "attn.c_attn.weight", "attention/qkv/b": "attn.c_attn.bias",
             "attention/out/w": "attn.c_proj.weight", "attention/out/b": "attn.c_proj.bias",
             "norm_feed_forward/scale": "ln_2.weight", "norm_feed_forward/bias": "ln_2.bias",
             "feed_forward/up/w": "mlp.c_fc.weight", "feed_forward/up/b": "mlp.c_fc.bias",
             "feed_forward/down/w": "mlp.c_proj.weight", "feed_forward/down/b": "mlp.c_proj.bias"}
    for i in range(config.layers):
        names.update({f"blocks/{i}/{ours}": (f"h.{i}.{theirs}", False)
                      for ours, theirs in parts.items()})
    if not config.tie:
        names["head/w"] = ("lm_head.weight", True)
    return names


def _template(config):
    """The parameter structure of `config`'s GPT as shapes, and each leaf's path."""
    shapes = trace_shapes(lambda p, ids: gpt.forward(p, config, ids), jax.random.key(0),
                          jax.ShapeDtypeStruct((1, config.block), np.int32))
    return shapes, jax.tree_util.tree_leaves(tags(shapes))


def _full_name(path, prefix):
    # lm_head sits beside `transformer`, not in it
    return path if path.startswith("lm_head") else prefix + path


def hf_state(params, config):
    """{transformers name: NumPy array} of a GPT-2-shaped model (the tensors `save` writes;
    the tied `lm_head.weight` is left out, as transformers does).

    >>> config = gpt.GPTConfig(vocab=10, layers=1, heads=2, width=8, block=4,
    ...                        activation="gelu_tanh")
    >>> state = hf_state(gpt.init(config, jax.random.key(0)), config)
    >>> state["transformer.h.0.attn.c_attn.weight"].shape
    (8, 24)
    """
    config_to_hf(config)  # refuses what is not GPT-2 shaped
    names = _hf_names(config)
    paths = jax.tree_util.tree_leaves(tags(params))
    _check_params(params, paths, config)
    state = {}
    for path, leaf in zip(paths, jax.tree_util.tree_leaves(params)):
        name, transposed = names[path]
        array = np.asarray(leaf)
        state[_full_name(name, "transformer.")] = np.ascontiguousarray(
            array.T if transposed else array)
    return state


def _check_params(params, paths, config):
    # parameters of another size would be written under a config.json that contradicts them
    shapes, expected_paths = _template(config)
    expected = dict(zip(expected_paths, (leaf.shape for leaf in jax.tree_util.tree_leaves(shapes))))
    given = dict(zip(paths, (np.shape(leaf) for leaf in jax.tree_util.tree_leaves(params))))
    for path in sorted(set(expected) | set(given)):
        if path not in given:
            raise CheckpointError(f"the parameters have no {path}, which the config's GPT has")
        if path not in expected:
            raise CheckpointError(f"the parameters hold {path}, which the config's GPT has not "
                                  f"(layers={config.layers}, tie={config.tie})")
        if tuple(given[path]) != tuple(expected[path]):
            raise CheckpointError(f"the parameter {path} has shape {tuple(given[path])}; the "
                                  f"config gives {tuple(expected[path])}")


def params_from_hf(state, config, source="the state"):
    """levante's parameters from `{transformers name: array}` (a `state_dict`'s tensors as
    NumPy, or gradients), with or without the `transformer.` prefix.

    >>> config = gpt.GPTConfig(vocab=10, layers=1, heads=2, width=8, block=4,
    ...                        activation="gelu_tanh")
    >>> params = gpt.init(config, jax.random.key(0))
    >>> again = params_from_hf(hf_state(params, config), config)
    >>> bool((again["blocks"][0]["attention"]["qkv"]["w"]
    ...       == params["blocks"][0]["attention"]["qkv"]["w"]).all())
    True
    """
    prefix = "transformer." if any(k.startswith("transformer.") for k in state) else ""
    return _fill(config, lambda name: np.asarray(state[name]) if name in state else None,
                 lambda name: name in state, prefix, lambda name: source)


def _fill(config, read, has, prefix, where, shardings=None, owned=False):
    """Build the parameters leaf by leaf, the largest first, each checked against its shape;
    with `shardings`, each straight into its shards. `owned`: `read` returns arrays no one
    else holds, which become the parameters' buffers without a copy where the device is the
    host (`_on_device`)."""
    shapes, paths = _template(config)
    names = _hf_names(config)
    leaves = jax.tree_util.tree_leaves(shapes)
    targets = None if shardings is None else jax.tree_util.tree_leaves(shardings(shapes))
    filled = [None] * len(leaves)
    for i in sorted(range(len(leaves)), key=lambda i: -int(np.prod(leaves[i].shape))):
        name, transposed = names[paths[i]]
        full = _full_name(name, prefix)
        if not has(full):
            raise CheckpointError(f"{where(full)} has no tensor {full} (levante's {paths[i]})")
        expected = tuple(reversed(leaves[i].shape)) if transposed else tuple(leaves[i].shape)
        array = read(full)
        if tuple(array.shape) != expected:
            raise CheckpointError(f"{where(full)}: {full} has shape {tuple(array.shape)}; "
                                  f"config.json's sizes give {expected}")
        if not jax.numpy.issubdtype(array.dtype, jax.numpy.floating):
            # integers (a quantized or damaged file) would convert to floats without error
            raise CheckpointError(f"{where(full)}: {full} holds {array.dtype}, not floating "
                                  "point weights")
        array = array.T if transposed else array
        if targets is None and owned:
            filled[i] = _on_device(array, leaves[i].dtype)
        elif targets is None:
            filled[i] = jax.numpy.asarray(array, dtype=leaves[i].dtype)
        else:  # each device receives only its slice of the tensor
            filled[i] = jax.make_array_from_callback(
                leaves[i].shape, targets[i],
                lambda index, a=array, t=leaves[i].dtype: np.asarray(a[index], dtype=t))
        del array
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shapes), filled)


def _read_config(path):
    file = path / CONFIG
    if not file.is_file():
        # a levante run (run.json + checkpoints) is not a Hugging Face directory, but
        # `levante export` makes one of it
        run = (f"; {path} is a levante run: continue it with --resume, or write it as a "
               f"Hugging Face directory first with `levante export {path} --format hf OUT`"
               if (path / "run.json").is_file() else "")
        raise CheckpointError(f"{file} is missing: a Hugging Face GPT-2 directory holds "
                              f"{CONFIG} and {WEIGHTS} (or its shards and {INDEX}){run}")
    try:
        hf = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{file} cannot be read: {error}") from None
    if not isinstance(hf, dict):
        raise CheckpointError(f"{file} is not a JSON object")
    return hf


def _weight_files(path):
    """{tensor name: file} from the index, or None for a single model.safetensors."""
    if (path / WEIGHTS).is_file():
        return None
    index = path / INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise CheckpointError(f"{index} cannot be read: {error}") from None
        if not isinstance(weight_map, dict):
            raise CheckpointError(f"{index}: weight_map is not an object of tensor name -> "
                                  "shard file")
        for name, file in weight_map.items():
            # the shards lie beside the index, as transformers writes them
            if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
                raise CheckpointError(f"{index}: {name} is in {file!r}, not the name of a "
                                      "shard file in the same directory")
        return {name: path / file for name, file in weight_map.items()}
    if any((path / name).exists() for name in ("pytorch_model.bin",
                                               "pytorch_model.bin.index.json")):
        raise CheckpointError(
            f"{path} holds pickled PyTorch weights (pytorch_model.bin), which levante never "
            f"unpickles (loading them can run code). Convert them once to {WEIGHTS} with "
            "transformers: GPT2LMHeadModel.from_pretrained(d).save_pretrained(d, "
            "safe_serialization=True)")
    # TensorFlow's and Flax's weights, which transformers converts when it loads them
    for name, flag in (("tf_model.h5", "from_tf"), ("flax_model.msgpack", "from_flax")):
        if (path / name).exists():
            raise CheckpointError(
                f"{path / WEIGHTS} is missing, and {path} holds {name}, which levante does not "
                f"read. Convert it once to {WEIGHTS} with transformers: "
                f"GPT2LMHeadModel.from_pretrained(d, {flag}=True).save_pretrained(d)")
    raise CheckpointError(f"{path / WEIGHTS} is missing (and there is no {INDEX})")


def _names_in(file):
    from safetensors import safe_open

    if not file.is_file():
        raise CheckpointError(f"{file} is missing (named by {INDEX})")
    try:
        with safe_open(str(file), framework="numpy") as f:
            return set(f.keys())
    except Exception as error:  # SafetensorError, OSError: the file is damaged or truncated
        raise CheckpointError(f"{file} cannot be read as safetensors (damaged or truncated?): "
                              f"{error}") from None


# safetensors' dtypes (little-endian) that hold weights levante converts to float32
FLOATS = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
          "BF16": np.dtype(jax.numpy.bfloat16)}
ALIGN = 64  # XLA's CPU client uses a host buffer aligned so in place, without a copy


def _aligned_empty(shape, dtype):
    """A C-contiguous array of `shape` whose data starts on an `ALIGN`-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + size].view(dtype).reshape(shape)


def _on_device(array, dtype):
    """`array` (the host's, no one else's) as a jax.Array of `dtype`. An aligned C-contiguous
    host array of that dtype is used in place on a CPU device; anything else is converted
    (or transposed) once into such an array first: the host never holds more than one
    extra copy of one tensor."""
    if array.dtype != dtype or not array.flags.c_contiguous or array.ctypes.data % ALIGN:
        converted = _aligned_empty(array.shape, dtype)
        np.copyto(converted, array, casting="same_kind")
        array = converted
    return jax.device_put(array)


def _offsets(file):
    """{name: (dtype, shape, start, stop)} of a safetensors file (byte offsets from the
    file's start), from its header; `_names_in` has checked the file with safetensors."""
    import struct

    try:
        with open(file, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        header.pop("__metadata__", None)
        return {name: (entry["dtype"], tuple(entry["shape"]), 8 + length + entry["data_offsets"][0],
                       8 + length + entry["data_offsets"][1]) for name, entry in header.items()}
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        raise CheckpointError(f"{file} cannot be read as safetensors (damaged or truncated?): "
                              f"{error}") from None


def _read_tensor(file, name, entry):
    """The tensor `name` of `file` read straight into an aligned array of its stored dtype:
    no mapping of the file and no intermediate copy, so the process never holds the file's
    pages and the converted parameters at the same time."""
    dtype, shape, start, stop = entry
    if dtype not in FLOATS:
        # integers (a quantized or damaged file) would convert to floats without error
        shown = {"I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64",
                 "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool"}.get(dtype, dtype)
        raise CheckpointError(f"{file}: {name} holds {shown}, not floating point weights")
    array = _aligned_empty(shape, FLOATS[dtype])
    if array.nbytes != stop - start:
        raise CheckpointError(f"{file}: tensor {name} has {stop - start} bytes for its shape "
                              f"{shape} of {dtype} (damaged file?)")
    try:
        with open(file, "rb") as f:
            f.seek(start)
            read = f.readinto(memoryview(array.reshape(-1).view(np.uint8)))
    except OSError as error:
        raise CheckpointError(f"{file}: tensor {name} cannot be read: "
                              f"{error.strerror or error}") from None
    if read != array.nbytes:
        raise CheckpointError(f"{file}: tensor {name} cannot be read (damaged or truncated "
                              f"file?): {read} of its {array.nbytes} bytes are there")
    return array


def load_config(path):
    """The `GPTConfig` of the Hugging Face GPT-2 directory `path` (its config.json alone).

    >>> import tempfile, json
    >>> path = Path(tempfile.mkdtemp())
    >>> _ = (path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    >>> load_config(path).layers
    1
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a directory; give a Hugging Face GPT-2 directory "
                              f"({CONFIG} + {WEIGHTS})")
    return config_from_hf(_read_config(path), str(path / CONFIG))


def load(path, shardings=None):
    """`(params, config)` of the GPT-2 in a Hugging Face directory, for `gpt.forward`.

    `path` holds config.json and model.safetensors, or the shards
    model-0000k-of-0000n.safetensors named by model.safetensors.index.json. Parameters are
    float32 (any stored float type is converted). Every fault raises `CheckpointError`
    naming the file and the tensor or field: a missing file, another architecture, a
    missing or misshapen tensor, a damaged file, a vocabulary that does not match the
    embedding, pickled weights only.

    `shardings` (a function of the parameters' shapes returning a tree of `jax.sharding`
    shardings, e.g. `lambda shapes: levante.train.param_shardings(shapes, mesh)`) loads
    each tensor straight into its shards: the host reads one tensor at a time and every
    device receives only its slice of it, so no parameter is ever whole on one device.

    >>> import tempfile
    >>> config = gpt.GPTConfig(vocab=10, layers=1, heads=2, width=8, block=4,
    ...                        activation="gelu_tanh", norm_eps=1e-5)
    >>> path = tempfile.mkdtemp()
    >>> save(gpt.init(config, jax.random.key(0)), config, path)
    >>> params, loaded = load(path)
    >>> loaded == config
    True
    >>> try:
    ...     load(tempfile.mkdtemp())
    ... except CheckpointError as error:
    ...     print(str(error).split(": ")[0].endswith("config.json is missing"))
    True
    """
    path = Path(path)
    config = load_config(path)
    files = _weight_files(path)
    if files is None:
        single = path / WEIGHTS
        names = _names_in(single)
        file_of = {name: single for name in names}
    else:
        held = {file: _names_in(file) for file in sorted(set(files.values()))}  # whole headers
        for name, file in files.items():
            if name not in held[file]:
                raise CheckpointError(f"{path / INDEX} places {name} in {file.name}, which "
                                      "does not hold it")
        file_of = files
    prefix = "transformer." if any(n.startswith("transformer.") for n in file_of) else ""
    _check_layers(file_of, prefix, config, path)
    embedding = prefix + "wte.weight"
    if embedding in file_of:
        rows = _shape_of(file_of[embedding], embedding)[0]
        if rows != config.vocab:
            raise CheckpointError(f"{path / CONFIG}: vocab_size {config.vocab} does not match "
                                  f"the embedding {embedding} in {file_of[embedding].name}, "
                                  f"which has {rows} rows")
    offsets = {file: _offsets(file) for file in set(file_of.values())}
    params = _fill(config, lambda name: _read_tensor(file_of[name], name,
                                                     offsets[file_of[name]][name]),
                   lambda name: name in file_of, prefix,
                   lambda name: str(file_of.get(name, path / (WEIGHTS if files is None
                                                              else INDEX))), shardings,
                   owned=True)
    return params, config


def _check_layers(file_of, prefix, config, path):
    # a checkpoint with more blocks than config.json's n_layer would load cut short
    layer = re.compile(re.escape(prefix) + r"h\.(\d+)\.")
    extra = sorted({int(m.group(1)) for name in file_of if (m := layer.match(name))
                    and int(m.group(1)) >= config.layers})
    if extra:
        name = next(n for n in sorted(file_of) if n.startswith(f"{prefix}h.{extra[0]}."))
        raise CheckpointError(f"{path / CONFIG}: n_layer is {config.layers}, but "
                              f"{file_of[name].name} holds {name} (blocks up to "
                              f"h.{extra[-1]}): n_layer must count every block")


def _shape_of(file, name):
    from safetensors import safe_open

    with safe_open(str(file), framework="numpy") as f:
        return tuple(f.get_slice(name).get_shape())


def _write_atomically(path, write):
    temporary = path.with_name(path.name + ".tmp")
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as error:  # a full disk, no permission, a directory of that name
        temporary.unlink(missing_ok=True)
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None


def save(params, config, path, tokenizer=None):
    """Write a GPT-2-shaped model as a Hugging Face directory: config.json and
    model.safetensors (float32, transformers' names), each written atomically; with
    `tokenizer` (a `levante.data.BPETokenizer`), its files too, and `<|endoftext|>` as the
    beginning and end token. transformers' `GPT2LMHeadModel.from_pretrained(path)` then
    gives levante's logits.

    >>> import tempfile
    >>> config = gpt.GPTConfig(vocab=10, layers=1, heads=2, width=8, block=4,
    ...                        activation="gelu_tanh")
    >>> path = tempfile.mkdtemp()
    >>> save(gpt.init(config, jax.random.key(0)), config, path)
    >>> sorted(p.name for p in Path(path).iterdir())
    ['config.json', 'model.safetensors']
    """
    from safetensors.numpy import save_file

    hf = config_to_hf(config)
    if tokenizer is not None:
        _check_tokenizer(tokenizer, config, "the tokenizer", "the model's embedding")
        end = tokenizer.token_id("<|endoftext|>")
        if end is not None:
            hf.update(bos_token_id=end, eos_token_id=end)
    state = {name: np.asarray(array, np.float32) for name, array in
             hf_state(params, config).items()}
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file where the directory goes, no permission
        raise CheckpointError(f"cannot make the directory {path}: {error.strerror}") from None
    # transformers refuses safetensors files without the framework in their metadata
    _write_atomically(path / WEIGHTS, lambda p: save_file(state, str(p), metadata={"format": "pt"}))
    _write_atomically(path / CONFIG, lambda p: p.write_text(json.dumps(hf, indent=2) + "\n",
                                                            encoding="utf-8"))
    if tokenizer is not None:
        tokenizer.save(path)


def load_tokenizer(path, config):
    """The BPE tokenizer of a Hugging Face directory (tokenizer.json, or vocab.json +
    merges.txt), checked against the model's embedding: every token id must have a row.

    >>> import tempfile
    >>> try:
    ...     load_tokenizer(tempfile.mkdtemp(), gpt.GPTConfig())
    ... except Exception as error:
    ...     print(type(error).__name__)
    DataError
    """
    from levante.data import BPETokenizer

    tokenizer = BPETokenizer.load(path)
    _check_tokenizer(tokenizer, config, f"the tokenizer in {path}",
                     "the embedding (config.json vocab_size)")
    return tokenizer


def fit_vocabulary(params, config, tokenizer):
    """`(params, config)` whose vocabulary is the tokenizer's ids `[0, len(tokenizer))`:
    an embedding padded past the tokenizer (nanoGPT rounds GPT-2's 50257 tokens up to 50304
    rows) loses the rows no token has, in the read-out as well (`head/w`'s columns when it
    is not tied), so sampling never draws an id the tokenizer cannot decode.

    transformers loads such a checkpoint as it is (config.json's `vocab_size` is the
    embedding's rows) and its tokenizer's `decode` silently drops the ids past it; here the
    logits of every token are transformers' and the padded ids are never drawn (softmax
    over the kept ids: the padded ones masked out). A tokenizer whose ids leave gaps below
    its top id cannot be fitted so: `CheckpointError`.

    >>> from levante.data import BPETokenizer
    >>> from tokenizers import Tokenizer, models
    >>> tokenizer = BPETokenizer(Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")])))
    >>> config = gpt.GPTConfig(vocab=8, layers=1, heads=2, width=8, block=4)
    >>> params, fitted = fit_vocabulary(gpt.init(config, jax.random.key(0)), config, tokenizer)
    >>> fitted.vocab, params["embed"]["table"].shape
    (3, (3, 8))
    """
    size = fitted_vocabulary(tokenizer, config)
    if size == config.vocab:
        return params, config
    params = {**params, "embed": {**params["embed"], "table": params["embed"]["table"][:size]}}
    if not config.tie:  # head/w: c vocab
        params["head"] = {**params["head"], "w": params["head"]["w"][:, :size]}
    return params, dataclasses.replace(config, vocab=size)


def fitted_vocabulary(tokenizer, config):
    """The vocabulary size `fit_vocabulary` gives the model of `config` for `tokenizer`:
    `len(tokenizer)`, after checking that the embedding has a row for each token and that
    the ids are exactly `0 ... len(tokenizer) - 1` (raises `CheckpointError` otherwise).

    >>> from levante.data import BPETokenizer
    >>> from tokenizers import Tokenizer, models
    >>> tokenizer = BPETokenizer(Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")])))
    >>> fitted_vocabulary(tokenizer, gpt.GPTConfig(vocab=8))
    3
    """
    _check_tokenizer(tokenizer, config, "the tokenizer", "the embedding (vocab_size)")
    size = len(tokenizer)
    ids = tokenizer.tokenizer.get_vocab(with_added_tokens=True).values()
    if max(ids, default=-1) >= size:
        raise CheckpointError(f"the tokenizer's {size} tokens have ids up to {max(ids)}: some "
                              "ids below that have no token, and sampling could draw them; "
                              "give a tokenizer whose ids are 0 to its size - 1")
    return size


def _check_tokenizer(tokenizer, config, what, embedding):
    # the ids, not only their count: a vocab.json numbered from 1000 has 300 tokens too
    if len(tokenizer) > config.vocab:
        raise CheckpointError(f"{what} has {len(tokenizer)} tokens, but {embedding} has "
                              f"{config.vocab} rows")
    vocab = tokenizer.tokenizer.get_vocab(with_added_tokens=True)
    token, top = max(vocab.items(), key=lambda item: item[1], default=(None, -1))
    if top >= config.vocab:
        raise CheckpointError(f"{what} has {len(tokenizer)} tokens, but its ids run up to "
                              f"{top} ({token!r}), past the {config.vocab} rows of {embedding}")
