"""Corpora: the bundled Shakespeare, a UTF-8 text file, or a directory of `.txt` files."""

from __future__ import annotations

import gzip
import re
import stat
import warnings
from importlib import resources
from pathlib import Path

from ._errors import DataError

BUNDLED = "shakespeare.txt.gz"
# C0 and C1 control characters other than tab, newline and carriage return
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def shakespeare():
    """The bundled corpus: eight Shakespeare plays, about 1.1 million characters.

    >>> text = shakespeare()
    >>> len(text) > 1_000_000, text[:25]
    (True, 'THE TRAGEDY OF CORIOLANUS')
    """
    data = resources.files("levante.data").joinpath(BUNDLED).read_bytes()
    return gzip.decompress(data).decode("utf-8")


def load_text(path=None):
    """The text of a corpus: `None` for the bundled Shakespeare, a file, or a directory
    whose `.txt` files (sorted by name) are joined with blank lines.

    Raises DataError for a missing, empty or non-UTF-8 corpus; warns (UserWarning) when
    more than half of its characters are control characters other than tab and newlines
    (a binary file read as text).

    >>> load_text()[:9]
    'THE TRAGE'
    """
    if path is None:
        return shakespeare()
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise DataError(f"the directory {path} holds no .txt files")
        text = "\n\n".join(_read(f) for f in files)
    elif path.exists():
        text = _read(path)
    else:
        raise DataError(f"no such file or directory: {path}")
    if not text.strip():
        raise DataError(f"the corpus {path} is empty")
    control = len(CONTROL.findall(text))
    if control > len(text) / 2:
        warnings.warn(f"{control:,} of the {len(text):,} characters of {path} are control "
                      "characters (such as NUL bytes): is it text? A model trains on it as it "
                      "is", stacklevel=2)
    return text


def _read(path):
    try:
        # a device (/dev/zero, /dev/urandom) never ends: reading it would fill the memory.
        # Regular files and pipes (`--data <(zcat corpus.gz)`) are read
        mode = path.stat().st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            raise DataError(f"{path} is a device or socket, not a text file: give a file "
                            "or a directory of .txt files")
        # utf-8-sig: a byte-order mark (Windows editors write one) is not a character
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); "
                        "convert it, e.g. iconv -t utf-8") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
