"""Character vocabularies: two lookup tables, characters to ids and back.

    vocab = Vocabulary.from_text("hello")      # characters sorted: e h l o
    vocab.encode("hole")                        # array([1, 3, 2, 0])
    vocab.decode([1, 0, 2, 2, 3])               # 'hello'

A character outside the vocabulary is an error, unless the vocabulary declares an
`unknown` symbol, which then stands for every such character. Nothing is ever mapped to
-1 (which would silently index the last row of an embedding table).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._errors import DataError

FORMAT = "levante.vocabulary/1"


class Vocabulary:
    """A character-level vocabulary with an optional declared unknown symbol.

    >>> vocab = Vocabulary.from_text("hello")
    >>> vocab.symbols
    ('e', 'h', 'l', 'o')
    >>> vocab.encode("hole")
    array([1, 3, 2, 0], dtype=int32)
    >>> vocab.decode([1, 0, 2, 2, 3])
    'hello'
    >>> Vocabulary.from_text("ab", unknown="?").encode("abc")
    array([1, 2, 0], dtype=int32)
    """

    def __init__(self, symbols, unknown=None):
        symbols = tuple(symbols)
        if len(set(symbols)) != len(symbols):
            raise DataError("a vocabulary lists each symbol once")
        if unknown is not None and unknown not in symbols:
            symbols = (unknown, *symbols)
        self.symbols = symbols
        self.unknown = unknown
        self.stoi = {s: i for i, s in enumerate(symbols)}
        self.itos = dict(enumerate(symbols))

    @classmethod
    def from_text(cls, text, unknown=None):
        """Every distinct character of `text`, sorted by code point."""
        if not text:
            raise DataError("cannot build a vocabulary from empty text")
        chars = sorted(set(text) - ({unknown} if unknown else set()))
        return cls(chars, unknown)

    def __len__(self):
        return len(self.symbols)

    def __eq__(self, other):
        return (isinstance(other, Vocabulary) and self.symbols == other.symbols
                and self.unknown == other.unknown)

    def __repr__(self):
        return f"Vocabulary({len(self)} symbols, unknown={self.unknown!r})"

    def missing(self, text):
        """The characters of `text` that the vocabulary lacks, sorted."""
        return sorted(set(text) - set(self.stoi))

    def encode(self, text):
        """Ids of the characters of `text` (int32)."""
        lacking = self.missing(text)
        if lacking and self.unknown is None:
            shown = "".join(lacking[:20])
            raise DataError(
                f"{len(lacking)} character(s) are not in the vocabulary: {shown!r}; remove "
                "them, or build the vocabulary with unknown='?' to map them to one symbol")
        table = self.stoi
        if lacking:
            fallback = table[self.unknown]
            return np.fromiter((table.get(c, fallback) for c in text), np.int32, len(text))
        return np.fromiter((table[c] for c in text), np.int32, len(text))

    def decode(self, ids):
        """The text of a sequence of ids."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.symbols)):
            raise DataError(f"ids must lie in [0, {len(self.symbols)}); got {ids.min()} to "
                            f"{ids.max()}")
        return "".join(self.symbols[i] for i in ids.tolist())

    def to_json(self):
        return {"format": FORMAT, "symbols": list(self.symbols), "unknown": self.unknown}

    @classmethod
    def from_json(cls, data):
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"not a levante vocabulary (expected format {FORMAT!r})")
        return cls(data["symbols"], data.get("unknown"))

    def save(self, path):
        Path(path).write_text(json.dumps(self.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path):
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise DataError(f"cannot read the vocabulary {path}: {error}") from None
        return cls.from_json(data)
