"""Process-level speed-ups for training jobs, each measured by ``tests/benchmarks``.

A study is dozens of short jobs, each a fresh interpreter, and on a CPU a training step's
memory traffic matters as much as its arithmetic. The two helpers here change nothing in the
numbers a job computes:

- :func:`keep_freed_memory`: glibc's malloc hands every block over 32 MB (a first
  convolution's activations for a batch of 64 at 256 px are hundreds of MB) to its own
  ``mmap`` and unmaps it when freed, so the kernel faults in and zeroes those pages again on
  every step. Keeping freed memory in the heap made ``conv`` training at 256 px about 1.6x
  faster here. The process holds on to its peak memory until it ends, which suits a job.
- :func:`plain_step`: ``torch.optim`` imports ``torch._dynamo`` (the ``torch.compile``
  machinery, about 1.7 s on two cores) on the first ``step()``, ``zero_grad()`` or
  ``add_param_group()``, only to mark those functions as not to be compiled. A training job
  that never compiles can skip that import; once anything in the process has imported
  ``torch._dynamo``, torch's own behaviour is used again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger(__name__)

# glibc mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

#: the wrappers torch.optim puts around ``Optimizer.step`` (outermost first); the plain step
#: is only used when the chain is exactly this one, so a torch release that changes it falls
#: back to ``optimizer.step``
_STEP_WRAPPERS = (
    "Optimizer.profile_hook_step.<locals>.wrapper",
    "_use_grad_for_differentiable.<locals>._use_grad",
)
_DISABLE_DYNAMO = "_disable_dynamo.<locals>.inner"


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


def _dynamo_loaded() -> bool:
    return "torch._dynamo" in sys.modules


def _defer_dynamo(inner: Callable[..., Any]) -> bool:
    """Let a ``torch._disable_dynamo``-wrapped function run without importing torch._dynamo
    while nothing has imported it; afterwards it does what torch does."""
    raw = getattr(inner, "__wrapped__", None)
    if raw is None or getattr(raw, "__dynamo_disable", None) is not None:
        return False

    def deferred(*args: Any, **kwargs: Any) -> Any:
        if _dynamo_loaded():
            import torch._dynamo

            disabled = torch._dynamo.disable(raw, True, wrapping=False)
            raw.__dynamo_disable = disabled  # torch's own cache from now on
            return disabled(*args, **kwargs)
        return raw(*args, **kwargs)

    raw.__dynamo_disable = deferred
    return True


def _unwrapped_step(optimizer: torch.optim.Optimizer) -> Callable[..., Any] | None:
    fn: Any = type(optimizer).step
    chain = []
    while hasattr(fn, "__wrapped__"):
        chain.append(getattr(getattr(fn, "__code__", None), "co_qualname", None))
        fn = fn.__wrapped__
    return fn if tuple(chain) == _STEP_WRAPPERS else None


def use_deterministic_algorithms(mode: bool, warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms`` without importing the compiler when it is not
    loaded: the mode is set for eager kernels, and the compiler's copy of it only matters to a
    process that compiles (which imports it, and then this calls torch's function)."""
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if "torch._inductor" in sys.modules or _dynamo_loaded() or setter is None:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        setter(mode, warn_only=warn_only)


def defer_dynamo_import() -> int:
    """Prepare ``torch.optim.Optimizer``'s methods (``add_param_group``, ``zero_grad``, ...)
    so that calling them does not import torch._dynamo; call before building an optimizer.
    Returns how many methods were prepared (0 when torch._dynamo is already loaded)."""
    if _dynamo_loaded():
        return 0
    n = 0
    for cls in {torch.optim.Optimizer, *torch.optim.Optimizer.__subclasses__()}:
        for value in vars(cls).values():
            code = getattr(value, "__code__", None)
            if code is not None and code.co_qualname == _DISABLE_DYNAMO:
                n += _defer_dynamo(value)
    return n


def plain_step(optimizer: torch.optim.Optimizer) -> Callable[[], Any]:
    """A callable doing ``optimizer.step()`` without importing torch._dynamo.

    It runs the optimizer's own update under ``torch.no_grad()``, as ``step()`` does for a
    non-differentiable optimizer, minus the profiler label and the step hooks: it is only
    used when no step hooks are registered. Anything unusual (a differentiable optimizer,
    hooks, torch._dynamo already loaded, a torch whose wrappers differ) gets
    ``optimizer.step`` itself.
    """
    from torch.optim import optimizer as optim_module

    raw = _unwrapped_step(optimizer)
    if (
        raw is None
        or "step" in vars(optimizer)  # patched on the instance (e.g. by an LR scheduler)
        or optimizer.defaults.get("differentiable")
        or optimizer._optimizer_step_pre_hooks
        or optimizer._optimizer_step_post_hooks
        or getattr(optim_module, "_global_optimizer_pre_hooks", None)
        or getattr(optim_module, "_global_optimizer_post_hooks", None)
    ):
        return optimizer.step

    def step() -> Any:
        if _dynamo_loaded():
            return optimizer.step()
        with torch.no_grad():
            return raw(optimizer)

    return step
