"""levante.keras's surface: `import levante` never loads Keras, every public name has a
runnable example and an entry in docs/api/keras.md."""

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["levante.keras", "levante.keras.layers", "levante.keras.metrics"]


def _heavy_after(code):
    script = (f"{code}\nimport json, sys\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('keras', 'tensorflow', 'torch'))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_levante_never_imports_keras():
    code = ("import levante, levante.ein, levante.nets, levante.metrics, levante.models, "
            "levante.data, levante.train\nlevante.trace")
    assert _heavy_after(code) == []


def _public():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                yield f"{module_name}.{name}", value


PUBLIC = sorted(dict(_public()).items())


@pytest.mark.parametrize("name, value", PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_name_has_an_example_and_a_reference_entry(name, value):
    doc = inspect.getdoc(value) or ""
    assert doc.strip(), f"{name} has no docstring"
    if not issubclass(value, BaseException):
        assert ">>>" in doc, f"{name} has no example"
    page = (ROOT / "docs" / "api" / "keras.md").read_text(encoding="utf-8")
    assert re.search(rf"^:::\s+{re.escape(name)}\s*$", page, re.MULTILINE), \
        f"{name} is missing from docs/api/keras.md"


def test_layers_are_registered_for_saving():
    import keras

    from levante.keras import layers, metrics
    for value in [*map(layers.__dict__.get, layers.__all__), metrics.CategoricalGroupAccuracy]:
        assert keras.saving.get_registered_name(value) == f"levante>{value.__name__}"
