"""The checks of _keras_checks.py under Keras' TensorFlow and PyTorch backends.

Keras picks its backend once, when first imported, so each backend runs in its own
interpreter: one subprocess per backend runs every check (TensorFlow's import alone takes
seconds, so the checks share it rather than each paying for it).
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("_keras_checks.py")
PACKAGES = {"tensorflow": "tensorflow", "torch": "torch"}


@pytest.mark.parametrize("backend", sorted(PACKAGES))
def test_every_check_passes_on_the_backend(backend):
    if importlib.util.find_spec(PACKAGES[backend]) is None:
        pytest.skip(f"{PACKAGES[backend]} is not installed: pip install -e \".[test,torch,tf]\"")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    names = re.findall(r"^def (check_\w+)", SCRIPT.read_text(encoding="utf-8"), re.MULTILINE)
    missing = [n for n in names if f"{backend}: {n} ok" not in done.stdout]
    assert len(names) >= 8 and not missing, done.stdout
