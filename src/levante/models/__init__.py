"""levante.models: complete models built from levante.nets (a GPT, a character LSTM) and
sampling from them."""

from . import gpt, lstm
from ._generate import generate

__all__ = ["generate", "gpt", "lstm"]
