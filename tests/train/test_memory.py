"""A training process keeps the memory a step frees: XLA's per-call temporary buffer is
reused, already mapped, instead of being mapped afresh (and page-faulted in) every call."""

import ctypes
import json
import subprocess
import sys

import pytest

from levante.train._memory import keep_freed_memory


def _glibc():
    try:
        return hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


# a jitted function whose intermediates (40 MB: above glibc's 32 MB mmap threshold, below
# the 64 MB of a thread's heap) live in XLA's temporary buffer: page faults per call before
# and after keep_freed_memory
SCRIPT = """
import json, resource
import jax, jax.numpy as jnp
from levante.train._memory import keep_freed_memory

f = jax.jit(lambda x: (jnp.cumsum(x * 2.0) * 3.0).sum())
x = jnp.ones(5 * 2 ** 20, jnp.float32)
temp = f.lower(x).compile().memory_analysis().temp_size_in_bytes

def faults_per_call(windows=16, calls=5):
    counts = []
    for _ in range(windows):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            f(x).block_until_ready()
        counts.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls)
    return sorted(counts)

# without the setting, the typical window (the median) maps the buffer afresh each call: on
# a loaded machine a window now and then reuses memory for a call or two; with it, the
# fewest: each thread of XLA's pool that runs a call grows its own heap once, and a thread
# may first pick up a call several windows in
default = faults_per_call()[8]
kept = keep_freed_memory()
print(json.dumps({"temp": temp, "default": default, "kept": kept,
                  "after": faults_per_call()[0]}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _glibc(),
                    reason="the allocator setting is glibc's (Linux)")
def test_a_large_temporary_buffer_is_not_faulted_in_again_each_call():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    pages = result["temp"] // 4096
    assert result["temp"] > 32 * 2 ** 20
    assert result["kept"] is True
    assert result["default"] > pages / 2  # glibc mapped the buffer afresh every call
    assert result["after"] < pages / 20  # now it is the last call's memory


def test_it_is_a_no_op_the_second_time():
    assert keep_freed_memory() is keep_freed_memory()
