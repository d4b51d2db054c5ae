"""Byte-level tokenizations: UTF-8 bytes, and UTF-32-BE (four bytes per character).

UTF-32-BE is what byte-level models such as tokun use: every character is exactly four
bytes, so a group of four byte predictions is one character prediction.
"""

from __future__ import annotations

import numpy as np

from ._errors import DataError


def encode_utf8(text):
    """UTF-8 bytes of `text` as uint8 ids (vocabulary of 256).

    >>> encode_utf8("hé")
    array([104, 195, 169], dtype=uint8)
    """
    return np.frombuffer(text.encode("utf-8"), np.uint8).copy()


def decode_utf8(ids, errors="replace"):
    """Text from UTF-8 byte ids; invalid sequences become U+FFFD unless errors="strict".

    >>> decode_utf8([104, 195, 169])
    'hé'
    """
    return _as_bytes(ids).decode("utf-8", errors=errors)


def encode_utf32(text):
    """UTF-32-BE bytes of `text`: four uint8 ids per character.

    >>> encode_utf32("a").tolist()
    [0, 0, 0, 97]
    """
    return np.frombuffer(text.encode("utf-32-be"), np.uint8).copy()


def decode_utf32(ids, errors="replace"):
    """Text from UTF-32-BE byte ids (a multiple of four).

    >>> decode_utf32([0, 0, 0, 97, 0, 0, 0, 98])
    'ab'
    """
    data = _as_bytes(ids)
    if len(data) % 4:
        raise DataError(f"UTF-32 text is a multiple of 4 bytes; got {len(data)}")
    return data.decode("utf-32-be", errors=errors)


def _as_bytes(ids):
    ids = np.asarray(ids).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise DataError("byte ids lie in [0, 256)")
    return ids.astype(np.uint8).tobytes()
