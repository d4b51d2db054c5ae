"""Every example of the learner's path runs in a short mode, and its loss falls.

Each example ends with the line `first loss X last loss Y` (validation losses before and
after training). The scripts are copied to a temporary folder and run from there, so their
loss curves and run directories land there rather than in the checkout.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TINY = ["--block", "16", "--width", "32"]
SHORT = {  # a few seconds each: 30 steps of small models
    "01_vocabulary.py": [],
    "02_bigram.py": [],
    "03_lstm.py": ["--block", "16", "--hidden", "32"],
    "04_self_attention.py": [*TINY, "--head", "32"],
    "05_multi_head.py": [*TINY, "--layers", "1"],
    "06_gpt.py": [*TINY, "--layers", "1", "--out", "run"],
    "07_llama_style.py": [*TINY, "--layers", "1"],
    "08_byte_level.py": [*TINY, "--layers", "1"],
    "09_notation_gallery.py": TINY,
    "10_keras_characters.py": [*TINY, "--layers", "1"],
}
FINAL_LINE = re.compile(r"first loss (\S+) last loss (\S+)")


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("[0-9]*.py")) == sorted(SHORT)


@pytest.mark.parametrize("name", sorted(SHORT))
def test_example_runs_and_its_loss_falls(name, tmp_path):
    script = shutil.copy(EXAMPLES / name, tmp_path / name)
    result = subprocess.run([sys.executable, script, "--steps", "30", *SHORT[name]],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    found = FINAL_LINE.fullmatch(result.stdout.strip().splitlines()[-1])
    assert found, result.stdout[-2000:]
    first, last = map(float, found.groups())
    assert last < first, f"{name}: the loss went from {first} to {last}"
    assert (tmp_path / name).with_suffix(".png").stat().st_size > 0
