"""GPT-2's byte-level BPE (Radford et al. 2019), through the `tokenizers` library.

    tokenizer = BPETokenizer.load("path/to/gpt2")   # tokenizer.json, or vocab.json + merges.txt
    tokenizer.encode("Hello world")                   # array([15496,   995], dtype=int32)
    tokenizer.decode([15496, 995])                    # 'Hello world'

Text is split by GPT-2's pattern, each piece's UTF-8 bytes are mapped to printable
characters (so every string encodes: no unknown symbol is ever needed), and the merges
join them into tokens. The interface is `Vocabulary`'s (`encode`, `decode`, `len`,
`missing`, `to_json` / `from_json`), so training and sampling take either.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from ._errors import DataError

FORMAT = "levante.bpe/1"
END_OF_TEXT = "<|endoftext|>"  # GPT-2's one special token: documents' separator


def _gpt2_pipeline(tokenizer):
    """Byte-level splitting and decoding, as transformers' GPT2TokenizerFast sets them."""
    from tokenizers import decoders, pre_tokenizers

    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    if tokenizer.token_to_id(END_OF_TEXT) is not None:
        from tokenizers import AddedToken

        tokenizer.add_special_tokens([AddedToken(END_OF_TEXT, normalized=False, special=True)])
    return tokenizer


@functools.cache
def _byte_alphabet():
    """GPT-2's printable stand-in for each byte (`bytes_to_unicode`), by byte value."""
    from tokenizers import pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 stand-ins, unordered
    # GPT-2's table: printable Latin-1 bytes stand for themselves, the rest shift to 256 + n
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table, shift = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shift)
            shift += 1
    assert set(table.values()) == set(alphabet)
    return table


def _byte_chars(char):
    table = _byte_alphabet()
    return {table[b] for b in char.encode("utf-8", "surrogatepass")}


def _lacking_bytes(tokenizer):
    """The byte stand-ins a byte-level tokenizer has no token for (empty for any other)."""
    setup = json.loads(tokenizer.to_str())
    if "ByteLevel" not in json.dumps(setup.get("pre_tokenizer")):
        return frozenset()
    vocab = tokenizer.get_vocab(with_added_tokens=False)
    return frozenset(c for c in _byte_alphabet().values() if c not in vocab)


def _check_ids(tokenizer):
    # two tokens with one id encode differently from how they decode
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    if len(set(vocab.values())) < len(vocab):
        seen, shared = {}, None
        for token, i in sorted(vocab.items(), key=lambda item: item[1]):
            if i in seen:
                shared = (seen[i], token, i)
                break
            seen[i] = token
        raise DataError(f"the BPE vocabulary gives two tokens one id: {shared[0]!r} and "
                        f"{shared[1]!r} are both {shared[2]}; each token needs its own id")


class BPETokenizer:
    """A byte-level BPE tokenizer with the interface of `Vocabulary`.

    Wraps a `tokenizers.Tokenizer`; `load` reads a Hugging Face directory (or file), and
    `from_files` GPT-2's `vocab.json` and `merges.txt`. Encoding adds no special token:
    `<|endoftext|>` in the text is that token, everything else is bytes merged.

    >>> from tokenizers import Tokenizer, models
    >>> vocab = {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġab": 4}   # Ġ: the byte of a space
    >>> tokenizer = BPETokenizer(Tokenizer(models.BPE(vocab, [("a", "b"), ("Ġ", "ab")])))
    >>> tokenizer.encode("ab ab"), tokenizer.decode([3, 4, 2, 0])
    (array([3, 4], dtype=int32), 'ab ab a')
    >>> len(tokenizer), tokenizer.missing("ab")
    (5, [])
    """

    FORMAT = FORMAT

    def __init__(self, tokenizer, byte_level=True):
        self.tokenizer = _gpt2_pipeline(tokenizer) if byte_level else tokenizer
        self.unknown = None
        self._lacking = _lacking_bytes(self.tokenizer)
        _check_ids(self.tokenizer)

    @classmethod
    def from_files(cls, vocab, merges):
        """GPT-2's two files: `vocab.json` (token -> id) and `merges.txt` (one pair a line)."""
        from tokenizers import Tokenizer, models

        for path in (vocab, merges):
            if not Path(path).is_file():
                raise DataError(f"{path} is missing: a GPT-2 tokenizer is vocab.json + merges.txt "
                                "(or tokenizer.json)")
        try:
            model = models.BPE.from_file(str(vocab), str(merges))
        except Exception as error:  # tokenizers raises plain Exception for bad files
            raise DataError(f"cannot read the BPE files {vocab}, {merges}: {error}") from None
        return cls(Tokenizer(model))

    @classmethod
    def load(cls, path):
        """From a directory (its `tokenizer.json`, else `vocab.json` + `merges.txt`) or a
        `tokenizer.json` file."""
        from tokenizers import Tokenizer

        path = Path(path)
        file = path / "tokenizer.json" if path.is_dir() else path
        if file.is_file():
            try:
                return cls(Tokenizer.from_file(str(file)), byte_level=False)
            except Exception as error:
                raise DataError(f"cannot read the tokenizer {file}: {error}") from None
        if path.is_dir() and (path / "vocab.json").is_file():
            return cls.from_files(path / "vocab.json", path / "merges.txt")
        raise DataError(f"{path} holds no tokenizer: give a directory with tokenizer.json or "
                        "vocab.json + merges.txt, or a tokenizer.json file")

    def __len__(self):
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def __eq__(self, other):
        return isinstance(other, BPETokenizer) and (self.tokenizer.to_str()
                                                    == other.tokenizer.to_str())

    def __repr__(self):
        return f"BPETokenizer({len(self)} tokens)"

    def token_id(self, token):
        """The id of `token` (such as "<|endoftext|>"), or None if it has none."""
        return self.tokenizer.token_to_id(token)

    def missing(self, text):
        """The characters of `text` with a byte that has no token, sorted: none for GPT-2's
        vocabularies, which hold all 256 bytes (a vocabulary without some would drop them)."""
        if not self._lacking:
            return []
        return sorted(c for c in set(text) if _byte_chars(c) & self._lacking)

    def encode(self, text):
        """Ids of the tokens of `text` (int32). A character with a byte the vocabulary lacks
        raises `DataError` (the BPE model would drop the byte and change the text)."""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate: bytes that were not UTF-8
            raise DataError(f"the text is not valid Unicode: {text[error.start]!r} at "
                            f"character {error.start} (a byte that was not UTF-8, such as an "
                            "undecodable command-line argument); give UTF-8 text") from None
        lacking = self.missing(text)
        if lacking:
            shown = "".join(lacking[:20])
            raise DataError(f"{len(lacking)} character(s) have bytes that are not in the BPE "
                            f"vocabulary, which would drop them: {shown!r}; remove them, or "
                            "use a vocabulary with all 256 byte tokens")
        return np.asarray(self.tokenizer.encode(text, add_special_tokens=False).ids, np.int32)

    def decode(self, ids):
        """The text of a sequence of ids (bytes that end mid-character decode to U+FFFD)."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise DataError(f"ids must lie in [0, {len(self)}); got {ids.min()} to {ids.max()}")
        return self.tokenizer.decode(ids.tolist(), skip_special_tokens=False)

    def to_json(self):
        return {"format": FORMAT, "tokenizer": json.loads(self.tokenizer.to_str())}

    @classmethod
    def from_json(cls, data):
        from tokenizers import Tokenizer

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"not a levante BPE tokenizer (expected format {FORMAT!r})")
        return cls(Tokenizer.from_str(json.dumps(data["tokenizer"])), byte_level=False)

    def save(self, directory):
        """Write `tokenizer.json`, and GPT-2's `vocab.json` + `merges.txt`, into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(str(directory / "tokenizer.json"))
        model = json.loads(self.tokenizer.to_str())["model"]
        if model.get("type") == "BPE":
            (directory / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False),
                                                  encoding="utf-8")
            merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
            (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n",
                                                  encoding="utf-8")


def vocabulary_from_json(data):
    """A `Vocabulary` or a `BPETokenizer` from what its `to_json` wrote.

    >>> from levante.data import Vocabulary
    >>> vocabulary_from_json(Vocabulary.from_text("ab").to_json())
    Vocabulary(2 symbols, unknown=None)
    """
    from ._vocabulary import Vocabulary

    if isinstance(data, dict) and data.get("format") == FORMAT:
        return BPETokenizer.from_json(data)
    return Vocabulary.from_json(data)
