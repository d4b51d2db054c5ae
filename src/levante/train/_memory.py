"""The C allocator of a training process keeps the memory a step frees, for the next step.

XLA on CPU gives each call of a compiled step one temporary buffer that holds its
intermediate values (38 MB for the char-GPT's step) and frees it when the call returns.
glibc's malloc serves a request above its mmap threshold (32 MB at most) with a new
mapping and unmaps it on free, so every step touched 38 MB of fresh pages: about 9,000
page faults, measured at about a third of the step's CPU time on 2 cores. With mmap off
for ordinary requests and the heap never trimmed, one step's buffer is the next one's,
already mapped. (PyTorch's performance tuning guide recommends jemalloc or TCMalloc on CPU
for the same reason: they keep freed memory for reuse.)

The cost: memory freed by the process is reused by it but not given back to the system
while it runs (its resident size stays at its peak). Only glibc on Linux is changed;
elsewhere nothing is done.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
M_MMAP_MAX = -4
_NEVER = 2 ** 31 - 1  # the largest value mallopt takes: free never trims the heap


@functools.cache
def keep_freed_memory():
    """Tell glibc's malloc to serve requests from its heap and never trim it (once per
    process); True if it did, False where the C library is not glibc.

    >>> keep_freed_memory() in (True, False)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except OSError:
        return False
    # glibc only (musl's mallopt does nothing)
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, _NEVER) == 1
