"""levante.models: complete models built from levante.nets (a GPT, a character LSTM),
sampling from them, and GPT-2 checkpoints in the Hugging Face format (gpt2)."""

from . import gpt, gpt2, lstm
from ._generate import generate

__all__ = ["generate", "gpt", "gpt2", "lstm"]
