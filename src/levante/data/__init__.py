"""levante.data: vocabularies (characters, GPT-2 BPE), corpora, byte codecs, splits and batches."""

from ._batches import get_batch, split, window_starts
from ._bpe import BPETokenizer, vocabulary_from_json
from ._codecs import decode_utf8, decode_utf32, encode_utf8, encode_utf32
from ._corpus import load_text, shakespeare
from ._errors import DataError
from ._vocabulary import Vocabulary

__all__ = [
    "BPETokenizer",
    "DataError",
    "Vocabulary",
    "decode_utf8",
    "decode_utf32",
    "encode_utf8",
    "encode_utf32",
    "get_batch",
    "load_text",
    "shakespeare",
    "split",
    "vocabulary_from_json",
    "window_starts",
]
