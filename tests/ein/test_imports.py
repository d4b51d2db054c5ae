"""The notation depends only on NumPy: JAX and PyTorch load only when a tensor of theirs
arrives. Each check runs in a fresh interpreter, so that no other test has imported them.
(Import time is measured by a benchmark, not asserted here.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _modules_after(code):
    """Run `code` in a fresh interpreter; return the heavy modules it left imported."""
    script = (
        f"{code}\n"
        "import json, sys\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib', 'torch'))\n"
        "print(json.dumps(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_loads_neither_jax_nor_torch():
    assert _modules_after("import levante.ein") == []


def test_numpy_ops_load_neither_jax_nor_torch():
    code = (
        "import numpy as np\n"
        "from levante import ein\n"
        "x = np.ones((2, 3, 4))\n"
        "assert ein.rearrange('b h w -> b (h w)', x).shape == (2, 12)\n"
        "assert ein.sum('b [h] w', x).shape == (2, 4)\n"
        "assert ein.dot('b h [w->v]', x, np.ones((4, 5))).shape == (2, 3, 5)\n"
        "assert ein.softmax('b h [w]', x).shape == (2, 3, 4)\n"
        "assert ein.arange('h w [2]', h=2, w=3).shape == (2, 3, 2)\n"
        "print(ein.explain('rearrange', 'a b -> b a', (2, 3)))\n"
    )
    assert _modules_after(code) == []


def test_errors_load_neither_jax_nor_torch():
    code = (
        "import numpy as np\n"
        "from levante import ein\n"
        "try:\n"
        "    ein.sum('a [b]', np.ones((2, 3, 4)))\n"
        "except ein.NotationError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    assert _modules_after(code) == []


def test_a_jax_array_loads_jax_but_not_torch():
    pytest.importorskip("jax")
    code = (
        "import jax.numpy as jnp\n"
        "from levante import ein\n"
        "assert ein.rearrange('a b -> b a', jnp.ones((2, 3))).shape == (3, 2)\n"
    )
    loaded = _modules_after(code)
    assert "jax" in loaded
    assert not any(m.split(".")[0] == "torch" for m in loaded)
