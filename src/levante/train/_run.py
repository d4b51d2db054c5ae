"""Model, data and optimizer of a run, built from its settings (shared by train, sample
and bench)."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from levante import data
from levante.core import trace_shapes
from levante.models import gpt, lstm

from . import _checkpoint
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
            raise TrainError(f"the {name} part of the text has {len(part)} characters, fewer "
                             f"than one window of --block {config.block} + 1: use more text or "
                             "a smaller --block")
    return vocab, train_ids, val_ids


def open_run(run):
    """(settings, vocabulary, record) of an existing run directory."""
    record = _checkpoint.read_record(run)
    try:
        settings = from_mapping(record["settings"], f"{run}/run.json")
        vocabulary = data.Vocabulary.from_json(record["vocabulary"])
    except (KeyError, TypeError, data.DataError) as error:
        raise TrainError(f"{run}/run.json is damaged: {error}") from None
    return settings, vocabulary, record


def load_params(run):
    """(settings, vocabulary, model module, model config, params) of a run's checkpoint.

    The parameters' structure comes from `lv.trace_shapes` (nothing is initialized), and
    the arrays from the checkpoint, whose hash is checked first.

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
    shapes = trace_shapes(lambda p, ids: model.forward(p, model_config, ids), jax.random.key(0),
                          np.zeros((1, model_config.block), np.int32))
    template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    arrays = _checkpoint.load_arrays(run, record)
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
