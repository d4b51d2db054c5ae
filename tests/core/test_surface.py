"""The public surface of the core: `import levante` stays light, names agree, examples exist."""

import inspect
import subprocess
import sys

import levante
import levante.core
from levante.core import init


def test_import_levante_and_levante_ein_do_not_import_jax():
    code = ("import sys, levante, levante.ein; import numpy as np; "
            "levante.ein.add('a, a', np.ones(2), np.ones(2)); "
            "assert 'jax' not in sys.modules, sorted(m for m in sys.modules if 'jax' in m); "
            "levante.trace; assert 'jax' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_top_level_names_are_the_cores():
    assert set(levante._CORE) == set(levante.core.__all__)
    assert set(levante.__all__) == {"ein", *levante.core.__all__}
    for name in levante.core.__all__:
        assert getattr(levante, name) is getattr(levante.core, name)
    assert levante.init is init
    assert "trace" in dir(levante)


def _documented_with_an_example(obj):
    doc = inspect.getdoc(obj) or ""
    return ">>>" in doc


def test_every_public_name_has_an_example():
    missing = [name for name in levante.core.__all__
               if not _documented_with_an_example(getattr(levante.core, name))]
    missing += [f"init.{name}" for name in init.__all__
                if not isinstance(getattr(init, name), init.Initializer)  # zeros, ones: the class
                and not _documented_with_an_example(getattr(init, name))]
    assert not missing, f"public names without a >>> example in their docstring: {missing}"
