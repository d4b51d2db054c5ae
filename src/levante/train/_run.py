"""Model, data and optimizer of a run, built from its settings (shared by train, sample
and bench)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from levante import data
from levante.core import trace_shapes
from levante.models import gpt, lstm

from . import _checkpoint, _shards
from ._config import from_mapping
from ._errors import TrainError


def model_of(config, vocab_size):
    """(model module, model config) for the settings and a vocabulary size."""
    try:
        if config.model == "gpt":
            return gpt, gpt.GPTConfig(
                vocab=vocab_size, layers=config.layers, heads=config.heads, width=config.width,
                block=config.block, dropout=config.dropout, positions=config.positions,
                gated=config.gated, norm=config.norm, activation=config.activation,
                bias=config.bias, tie=config.tie)
        return lstm, lstm.LSTMConfig(vocab=vocab_size, width=config.width,
                                     hidden=config.hidden, block=config.block)
    except (gpt.ConfigError, lstm.ConfigError) as error:
        raise TrainError(str(error)) from None


def corpus(config, vocabulary=None):
    """(vocabulary, train ids, validation ids) of the run's text."""
    text = data.load_text(config.data)
    vocab = vocabulary or data.Vocabulary.from_text(text)
    missing = vocab.missing(text)
    if missing:
        raise TrainError(f"the text has {len(missing)} character(s) the run's vocabulary lacks "
                         f"({''.join(missing[:20])!r}): resume with the data it was trained on")
    ids = vocab.encode(text)
    train_ids, val_ids = data.split(ids, config.validation)
    for name, part in (("training", train_ids), ("validation", val_ids)):
        if len(part) < config.block + 1:
            raise TrainError(f"the {name} part of the text has {len(part)} {unit(vocab)}, fewer "
                             f"than one window of --block {config.block} + 1: use more text or "
                             "a smaller --block")
    return vocab, train_ids, val_ids


def unit(vocab):
    """What the ids of a run's text are: BPE tokens, or characters."""
    return "tokens" if isinstance(vocab, data.BPETokenizer) else "characters"


def open_run(run):
    """(settings, vocabulary, record) of an existing run directory, each checked."""
    record = _checkpoint.read_record(run)
    where = Path(run) / _checkpoint.RUN_FILE
    settings = from_mapping(record["settings"], f"{where}, field 'settings'")
    words = record["vocabulary"]
    if isinstance(words, dict) and words.get("format") == data.BPETokenizer.FORMAT:
        try:  # a fine-tuned GPT-2's tokenizer
            return settings, data.BPETokenizer.from_json(words), record
        except Exception as error:  # tokenizers raises plain Exceptions for bad JSON
            raise TrainError(f"{where} is damaged: the field 'vocabulary': {error}") from None
    symbols = words.get("symbols")
    if not isinstance(symbols, list) or not symbols or not all(
            isinstance(s, str) and len(s) == 1 for s in symbols):
        raise TrainError(f"{where} is damaged: the field 'vocabulary.symbols' is a non-empty "
                         "list of single characters")
    if words.get("unknown") is not None and not isinstance(words["unknown"], str):
        raise TrainError(f"{where} is damaged: the field 'vocabulary.unknown' is a character "
                         "or null")
    try:
        vocabulary = data.Vocabulary.from_json(words)
    except data.DataError as error:
        raise TrainError(f"{where} is damaged: the field 'vocabulary': {error}") from None
    return settings, vocabulary, record


def finetune_settings(config):
    """(settings, tokenizer) of a run that fine-tunes the GPT-2 in `config.init_from`: the
    settings take the checkpoint's architecture, the text its BPE tokenizer."""
    from levante.models import gpt2

    path = config.init_from
    try:
        pretrained = gpt2.load_config(path)
        tokenizer = gpt2.load_tokenizer(path, pretrained)
        # an embedding padded past the tokenizer (nanoGPT's 50304 rows for 50257 tokens)
        # is fine-tuned without the rows no token has (`pretrained_params`)
        gpt2.fitted_vocabulary(tokenizer, pretrained)
    except (gpt2.CheckpointError, data.DataError) as error:
        raise TrainError(f"--init-from: {error}") from None
    if config.block > pretrained.block:
        raise TrainError(f"--block {config.block} is longer than the {pretrained.block} positions "
                         f"of {path} (n_positions): give --block {pretrained.block} or less")
    if pretrained.norm_eps not in (None, 1e-5):
        raise TrainError(f"--init-from {path}: layer_norm_epsilon {pretrained.norm_eps} is not "
                         "GPT-2's 1e-5, which training settings cannot express")
    architecture = pretrained_architecture(pretrained)
    # a setting the API changed from its default, which the checkpoint would silently
    # override (the command line compares what was written, defaults included)
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    check_architecture(path, architecture,
                       {name: (getattr(config, name), f"{name}={getattr(config, name)!r}")
                        for name in architecture if getattr(config, name) != defaults[name]})
    return config.replace(**architecture), tokenizer


def pretrained_architecture(pretrained):
    """{setting: value} of the architecture a run fine-tuning the GPT-2 `pretrained` (its
    `GPTConfig`) takes from the checkpoint."""
    return dict(layers=pretrained.layers, heads=pretrained.heads, width=pretrained.width,
                positions="learned", gated=False, norm="layer",
                activation=pretrained.activation, bias=True, tie=pretrained.tie)


def check_architecture(path, architecture, written):
    """Raise a TrainError naming every written setting (`{name: (value, as written)}`) that
    disagrees with the checkpoint's `architecture`; `hidden`, the LSTM's size, never fits."""
    clash = [f"{shown} (the checkpoint's: "
             f"{architecture[name]!r})" if name in architecture else
             f"{shown} (an LSTM setting; GPT-2 has none)"
             for name, (value, shown) in written.items()
             if name not in architecture or value != architecture[name]]
    if clash:
        raise TrainError(f"--init-from {path} takes the architecture from the checkpoint, "
                         f"which disagrees with {', '.join(clash)}: leave "
                         f"{'it' if len(clash) == 1 else 'them'} out")


def pretrained_params(config, shardings=None):
    """The parameters of the GPT-2 in `config.init_from`, positions cut to `config.block`;
    with `shardings` (see `gpt2.load`), loaded straight into their shards."""
    from levante.models import gpt2

    try:
        params, pretrained = gpt2.load(config.init_from, shardings=shardings)
        tokenizer = gpt2.load_tokenizer(config.init_from, pretrained)
        params, _ = gpt2.fit_vocabulary(params, pretrained, tokenizer)  # padded rows dropped
    except (gpt2.CheckpointError, data.DataError) as error:
        raise TrainError(f"--init-from: {error}") from None
    params["positions"] = params["positions"][:config.block]  # block t c
    return params


def _layers_in(header):
    return len({name.split("/")[2] for name in header if name.startswith("params/blocks/")})


def _check_layers(run, record, model_config):
    """(bytes, header) of the checkpoint run.json names (process 0's file of a sharded one),
    after checking its blocks against the settings: first, since tracing a model of
    `layers` blocks costs time in proportion."""
    raw, header = _checkpoint.read_header(run, record)
    layers = getattr(model_config, "layers", None)
    if layers is not None and _layers_in(header) != layers:
        raise TrainError(f"the checkpoint {Path(run) / record['checkpoint']} holds "
                         f"{_layers_in(header)} block(s), the settings in run.json say "
                         f"--layers {layers}: run.json is damaged")
    return raw, header


def param_shapes(model, model_config):
    """The parameters' `jax.ShapeDtypeStruct`s, traced without allocating anything."""
    return trace_shapes(lambda p, ids: model.forward(p, model_config, ids), jax.random.key(0),
                        jax.ShapeDtypeStruct((1, model_config.block), np.int32))


def checked_checkpoint(run, record, model, model_config, opt=None):
    """(param shapes, arrays) of a run's checkpoint, checked before anything is built: the
    file is regular and within the size limit, its hash matches, and the tensor shapes in
    its header are those the settings give (the parameters, and the optimizer state when
    `opt` is given)."""
    path = Path(run) / record["checkpoint"]
    raw, header = _check_layers(run, record, model_config)
    shapes = param_shapes(model, model_config)
    expected = _checkpoint.shapes("params", shapes)
    if opt is not None:
        expected.update(_checkpoint.shapes("opt", jax.eval_shape(opt.init, shapes)))
    _checkpoint.check_shapes(path, header, expected)
    return shapes, _checkpoint.load_arrays(path, raw)


def _checked_shards(run, record):
    # run.json's own checkpoint and hash are process 0's file of the same step
    shards = record["shards"]
    _shards.check_record(shards)  # the kinds of its fields
    if (shards.get("step") != record["step"] or shards["files"][0] != record["checkpoint"]
            or shards["sha256"][0] != record["sha256"]):
        raise TrainError(f"{Path(run) / _checkpoint.RUN_FILE} is damaged: its 'shards' do not "
                         "describe the checkpoint of its step")
    return shards


def load_params(run):
    """(settings, vocabulary, model module, model config, params) of a run's checkpoint.

    The run directory is untrusted input: `run.json` is checked field by field, the
    checkpoint's hash and the tensor shapes in its header are checked against the settings
    before any array is built (`lv.trace_shapes` gives the structure; nothing is
    initialized). A run trained by several processes has one file per process, each with
    its slices: every file is checked against its hash and the whole parameters are
    assembled from them (`gather_shards`). Raises TrainError naming the file and field
    that is wrong, or the missing file.

    >>> import io, tempfile
    >>> from levante.train import TrainConfig, train
    >>> run = train(TrainConfig(layers=1, width=16, heads=2, block=8, batch=2, steps=2,
    ...                         eval_batches=1, sample_tokens=1,
    ...                         out=tempfile.mkdtemp() + "/run"), stream=io.StringIO())
    >>> settings, vocabulary, model, config, params = load_params(run)
    >>> settings.steps, config.width, len(vocabulary)
    (2, 16, 77)
    """
    settings, vocabulary, record = open_run(run)
    model, model_config = model_of(settings, len(vocabulary))
    if "shards" in record:  # written by several processes: each file holds its slices
        shards = _checked_shards(run, record)
        _check_layers(run, record, model_config)
        shapes = param_shapes(model, model_config)
        arrays = _shards.gather_shards(run, shards, _checkpoint.shapes("params", shapes))
    else:
        shapes, arrays = checked_checkpoint(run, record, model, model_config)
    template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    params = _checkpoint.unflatten("params", arrays, template)
    return settings, vocabulary, model, model_config, params


def new_run_directory(config):
    if config.out is not None:
        return Path(config.out)
    base = Path("runs") / config.model
    path, n = base, 1
    while (path / _checkpoint.RUN_FILE).exists():
        n += 1
        path = Path(f"{base}-{n}")
    return path
