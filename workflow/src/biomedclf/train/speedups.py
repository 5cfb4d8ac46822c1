"""Process-level speed-ups for training jobs, each measured by ``tests/benchmarks``.

:func:`keep_freed_memory`: glibc's malloc hands every block over 32 MB (a first convolution's
activations for a batch of 64 at 256 px are hundreds of MB) to its own ``mmap`` and unmaps it
when freed, so the kernel faults in and zeroes those pages again on every step. Keeping freed
memory in the heap (the documented ``mallopt`` settings ``M_MMAP_MAX=0`` and no trimming) made
``conv`` training at 256 px about 2x faster here; it changes no number a job computes. The
process holds on to its peak memory until it ends, which suits a job.

:func:`skip_uninitialized_fill`: with deterministic algorithms on (as CPU training runs did
until they were found to change no output there; a caller may still turn them on), torch
by default also fills the memory of every tensor an op allocates uninitialised with NaN
before the op writes it (``torch.utils.deterministic.fill_uninitialized_memory``), a guard
against ops that would read memory they never wrote. The convolutions' outputs and gradients
(hundreds of MB per step at 256 px) were each written twice; turning the fill off made
``conv`` training at 256 px about 1.05-1.1x faster per CPU-second on a busy 2-core machine
(``tests/benchmarks/peak_fraction.py``) and leaves every result bit-identical
(``tests/test_speedups.py``).

:func:`compile_model` (``training.compile: true``, opt-in): ``torch.compile`` of the model in
place (``nn.Module.compile``: the state dict keeps its keys, so model files and checkpoints are
those of an uncompiled run). Inductor fuses and reorders floating-point operations, so a
compiled run's numbers differ from an uncompiled run's by rounding only (tested against an
eager run). Compiling costs tens of seconds per job (more for larger models, less with torch's
on-disk compile cache) and needs a C++ compiler. On a 2-core CPU it did not pay off for
``conv`` at 256 px (``tests/benchmarks/peak_fraction.py``), so it stays off by default.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

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


def skip_uninitialized_fill() -> bool:
    """Turn off torch's NaN fill of uninitialised memory under deterministic algorithms
    (``torch.utils.deterministic.fill_uninitialized_memory = False``, process-wide); returns
    the previous setting."""
    import torch.utils.deterministic

    previous = bool(torch.utils.deterministic.fill_uninitialized_memory)
    torch.utils.deterministic.fill_uninitialized_memory = False
    return previous


#: C++ compilers torch.compile's CPU code generator can use, looked up in this order after $CXX.
CXX_COMPILERS = ("g++", "c++", "clang++")


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile would build with: ``$CXX`` or the first of
    :data:`CXX_COMPILERS` on ``PATH``; None when there is none."""
    for name in (os.environ.get("CXX"), *CXX_COMPILERS):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def compile_model(model: nn.Module) -> None:
    """Compile ``model`` in place with ``torch.compile`` (training.compile: true).

    Raises ``RuntimeError`` naming ``training.compile`` and the fix when this machine cannot
    compile: no C++ compiler on ``PATH`` (``$CXX``, g++, c++ or clang++), or a torch without
    ``nn.Module.compile``. Compilation itself happens at the model's first call.
    """
    import torch

    if not hasattr(torch.nn.Module, "compile"):
        raise RuntimeError(
            f"training.compile: true needs torch >= 2.2 (this is {torch.__version__}); "
            "upgrade torch or set training.compile: false"
        )
    if cxx_compiler() is None:
        raise RuntimeError(
            "training.compile: true needs a C++ compiler for torch.compile's generated code, "
            f"and none of $CXX, {', '.join(CXX_COMPILERS)} is on PATH; install one (e.g. "
            "`apt install g++` or the conda package gxx) or set training.compile: false"
        )
    model.compile()
