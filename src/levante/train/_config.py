"""Every setting of a run, as one dataclass: flags, TOML/JSON files and run directories
all go through it.

Defaults are nanoGPT's character-level CPU configuration (4 layers, 4 heads, width 128,
context 64, batch 12, AdamW 1e-3 decaying to 1e-4 over 2000 steps), which trains on the
bundled Shakespeare in a couple of minutes on a laptop CPU.
"""

from __future__ import annotations

import dataclasses
import json
import math
import stat

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

from ._errors import TrainError
from ._mesh import parse_mesh

MAX_CONFIG_BYTES = 1 << 20  # a config file holds a few settings

HELP = {
    "model": "gpt or lstm",
    "data": "a UTF-8 text file or a directory of .txt files (default: bundled Shakespeare)",
    "out": "the run directory (default: runs/<model>, or runs/<model>-2, ... when taken)",
    "init_from": "a Hugging Face GPT-2 directory to fine-tune, with its architecture and BPE "
                 "tokenizer (default: none, random weights)",
    "layers": "transformer blocks",
    "heads": "attention heads per block",
    "width": "model width (embedding size)",
    "block": "context length in tokens (characters with a character vocabulary)",
    "hidden": "LSTM hidden size",
    "positions": "learned or rotary position information",
    "gated": "gated feed-forward (GeGLU) instead of the plain one",
    "norm": "layer or rms normalization",
    "activation": "feed-forward activation: gelu (exact), gelu_tanh, silu, relu",
    "bias": "biases in the linear maps",
    "tie": "the read-out shares the embedding table",
    "dropout": "dropout rate while training",
    "batch": "windows per step",
    "steps": "training steps",
    "lr": "peak learning rate",
    "min_lr": "learning rate at the end of the cosine decay",
    "warmup": "steps of linear warm-up",
    "weight_decay": "AdamW weight decay (matrices only)",
    "beta2": "AdamW second-moment decay",
    "clip": "gradient clipping by global norm (0: off)",
    "validation": "fraction of the text held out for validation",
    "eval_every": "steps between validation losses",
    "eval_batches": "batches per validation loss",
    "checkpoint_every": "steps between checkpoints",
    "seed": "random seed (initialization, batches, dropout)",
    "sample_tokens": "tokens sampled at the end",
    "temperature": "sampling temperature",
    "top_k": "sample among the k likeliest tokens (0: all)",
    "mesh": "devices as data=N[,fsdp=M][,tensor=K] (default: every device on data)",
    "precision": "float32, or bf16: bfloat16 compute with float32 parameters and state",
    "grad_accum": "micro-batches per step whose gradients are averaged",
}


CHOICES = {
    "positions": ("learned", "rotary"),
    "norm": ("layer", "rms"),
    "precision": ("float32", "bf16"),
}  # the activation is checked by the model, against `nets.ACTIVATIONS`


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; each is also a flag of `levante train` (`--min-lr` for
    `min_lr`). Defaults: nanoGPT's character-level CPU recipe.

    >>> config = TrainConfig(steps=100)
    >>> config.layers, config.width, config.replace(width=64).width
    (4, 128, 64)
    """

    model: str = "gpt"
    data: str | None = None
    out: str | None = None
    init_from: str | None = None
    layers: int = 4
    heads: int = 4
    width: int = 128
    block: int = 64
    hidden: int = 256
    positions: str = "learned"
    gated: bool = False
    norm: str = "layer"
    activation: str = "gelu"
    bias: bool = True
    tie: bool = True
    dropout: float = 0.0
    batch: int = 12
    steps: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.1
    beta2: float = 0.99
    clip: float = 1.0
    validation: float = 0.1
    eval_every: int = 250
    eval_batches: int = 20
    checkpoint_every: int = 500
    seed: int = 0
    sample_tokens: int = 500
    temperature: float = 0.8
    top_k: int = 40
    mesh: str = ""
    precision: str = "float32"
    grad_accum: int = 1

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check_type(field.name, getattr(self, field.name), field.default)
        if self.model not in ("gpt", "lstm"):
            raise TrainError(f"--model is gpt or lstm, not {self.model!r}")
        if self.init_from is not None and self.model != "gpt":
            raise TrainError("--init-from loads a GPT-2: it needs --model gpt")
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise TrainError(f"--{name} is {' or '.join(choices)}, not "
                                 f"{getattr(self, name)!r}")
        for name in ("layers", "heads", "width", "block", "hidden", "batch", "steps",
                     "eval_every", "eval_batches", "checkpoint_every", "grad_accum"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be at least 1")
        if self.lr <= 0 or self.min_lr < 0 or self.min_lr > self.lr:
            raise TrainError("learning rates need 0 <= --min-lr <= --lr and --lr > 0")
        if self.top_k < 0 or self.temperature < 0 or self.warmup < 0 or self.clip < 0:
            raise TrainError("--top-k, --temperature, --warmup and --clip cannot be negative")
        if not 0 <= self.seed < 2**63:  # numpy's and JAX's seeds: jax.random.key overflows
            raise TrainError(f"--seed is a whole number in [0, 2**63), not {self.seed}")
        if self.sample_tokens < 0 or self.weight_decay < 0:
            raise TrainError("--sample-tokens and --weight-decay cannot be negative")
        for name, low, high in (("dropout", 0.0, 1.0), ("beta2", 0.0, 1.0)):
            if not low <= getattr(self, name) < high:
                raise TrainError(f"--{name} is in [{low:g}, {high:g}), not {getattr(self, name)}")
        if self.batch % self.grad_accum:
            raise TrainError(f"--grad-accum {self.grad_accum} must divide --batch {self.batch}")
        if self.precision != "float32" and self.model != "gpt":
            raise TrainError(f"--precision {self.precision} is for --model gpt")
        # "" (the default) is every device on data; an empty --mesh= is refused by the CLI
        tensor = parse_mesh(self.mesh or None)["tensor"] or 1  # a TrainError naming what is wrong
        # tensor splits the transformer's heads (Megatron-LM): the LSTM has none, and would
        # only repeat the same work on every device of the axis
        if tensor > 1 and self.model != "gpt":
            raise TrainError(f"the mesh's tensor={tensor} splits attention heads: it is for "
                             f"--model gpt; for --model {self.model} use data= or fsdp=")
        if tensor > 1 and self.init_from is None and self.heads % tensor:
            raise TrainError(f"the mesh's tensor={tensor} splits the {self.heads} attention "
                             f"heads: it must divide --heads")
        if not 0.0 < self.validation < 1.0:
            raise TrainError(f"--validation is a fraction strictly between 0 and 1, not "
                             f"{self.validation}")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_json(self):
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _check_type(name, value, default):
    """Settings arrive from flags, files and run records: each has its default's type
    (a float setting takes an int; `data` and `out` may be None), finite if a number."""
    flag = "--" + name.replace("_", "-")
    if name in ("data", "out", "init_from"):
        ok, kind = value is None or isinstance(value, str), "a path"
    elif isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
    elif isinstance(default, float):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value))
        kind = "a finite number"
    else:
        ok, kind = isinstance(value, str), "a word"
    if not ok:
        raise TrainError(f"{flag} is {kind}, not {value!r}")


def from_mapping(values, origin):
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise TrainError(f"{origin}: unknown setting(s) {', '.join(unknown)}; known: "
                         f"{', '.join(FIELDS)}")
    return TrainConfig(**values)


def read_config_file(path):
    """Settings from a TOML or JSON file (keys as the flags, with underscores)."""
    path = Path(path)
    kind = "JSON" if path.suffix == ".json" else "TOML"  # any other name is read as TOML
    try:
        # a device (/dev/zero) never ends: refuse it, and read at most the size limit
        if stat.S_ISCHR(path.stat().st_mode) or stat.S_ISBLK(path.stat().st_mode):
            raise TrainError(f"the config file {path} is a device, not a file")
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise TrainError(f"cannot read the config file {path}: {error.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise TrainError(f"the config file {path} is larger than {MAX_CONFIG_BYTES:,} bytes: "
                         "it holds a few settings")
    try:
        text = data.decode("utf-8")
        values = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except UnicodeDecodeError:
        raise TrainError(f"the config file {path} is not UTF-8 text") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise TrainError(f"{path} is not valid {kind}: {error}") from None
    except RecursionError:
        raise TrainError(f"{path} is not a {kind} file of settings: it is nested too "
                         "deeply") from None
    if not isinstance(values, dict):
        raise TrainError(f"{path} holds a {type(values).__name__}, not the {kind} object of "
                         "settings (name = value) a config file is")
    return {k.replace("-", "_"): v for k, v in values.items()}
