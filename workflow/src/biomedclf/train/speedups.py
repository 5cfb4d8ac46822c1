"""Process-level speed-ups for training jobs, each measured by ``tests/benchmarks``.

:func:`keep_freed_memory`: glibc's malloc hands every block over 32 MB (a first convolution's
activations for a batch of 64 at 256 px are hundreds of MB) to its own ``mmap`` and unmaps it
when freed, so the kernel faults in and zeroes those pages again on every step. Keeping freed
memory in the heap (the documented ``mallopt`` settings ``M_MMAP_MAX=0`` and no trimming) made
``conv`` training at 256 px about 2x faster here; it changes no number a job computes. The
process holds on to its peak memory until it ends, which suits a job.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse (``M_MMAP_MAX=0``, no trimming).

    Returns whether the setting took effect: False where the C library is not glibc (macOS,
    musl, Windows), where it is left alone.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
