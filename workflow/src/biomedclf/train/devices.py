"""Choosing the device a job runs on, and giving concurrent GPU jobs distinct GPUs.

``training.device`` is ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda`` or ``mps``.

Several GPUs on one workstation: Snakemake only *counts* GPUs (``--resources gpu=4`` lets four
jobs with ``gpu: 1`` run at once) and does not say which job gets which device. Each CUDA job
therefore claims a GPU itself: it takes an exclusive, non-blocking ``fcntl.flock`` on one lock
file per visible device (``<lock dir>/gpu-<id>.lock``), trying the devices in order, and holds
it until the process ends (the kernel releases the lock when the process dies, even on
SIGKILL). Device ids are the physical ones from ``CUDA_VISIBLE_DEVICES`` when it is set, so
jobs with different visibility lists still agree; when it names a single device (as SLURM's
``--gres=gpu:1`` does), that device is used without any lock.

The lock folder is ``$BIOMEDCLF_GPU_LOCK_DIR`` or ``<tmp>/biomedclf-gpu-locks-<uid>`` (shared by
all of one user's jobs on the machine). This module imports torch only inside the functions
that need it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
LOCK_DIR_ENV = "BIOMEDCLF_GPU_LOCK_DIR"


@dataclass
class GpuClaim:
    """A GPU this process holds: its index among the visible devices and its physical id."""

    index: int
    device_id: str
    lock_path: Path | None
    handle: TextIO | None

    def release(self) -> None:
        """Give the device back (closing the lock file releases the flock)."""
        if self.handle is not None:
            self.handle.close()
            self.handle = None


#: The claim held by this process, reused by later calls (e.g. train then evaluate).
_CLAIM: GpuClaim | None = None


def default_lock_dir() -> Path:
    """The lock folder: ``$BIOMEDCLF_GPU_LOCK_DIR`` or a per-user folder in the temp dir."""
    env = os.environ.get(LOCK_DIR_ENV)
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"biomedclf-gpu-locks-{os.getuid()}"


def visible_device_ids(count: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """Physical ids of the ``count`` CUDA devices this process sees, in CUDA index order.

    Taken from ``CUDA_VISIBLE_DEVICES`` (indices or GPU-/MIG- UUIDs) when set, else
    ``"0" .. str(count - 1)``.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("CUDA_VISIBLE_DEVICES")
    if raw is None or raw.strip() == "":
        return [str(i) for i in range(count)]
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if len(ids) < count:  # unusual (e.g. an entry CUDA could not parse); fall back to indices
        return [str(i) for i in range(count)]
    return ids[:count]


def _lock_name(device_id: str) -> str:
    return "gpu-" + re.sub(r"[^A-Za-z0-9_.-]", "_", device_id) + ".lock"


def claim_gpu(device_ids: list[str], lock_dir: Path | None = None) -> GpuClaim:
    """Claim one of ``device_ids`` for this process's lifetime; returns its index.

    Tries the devices in order with a non-blocking exclusive flock and takes the first free
    one. A single visible device is used without a lock. When every device is held by other
    jobs, a warning is logged and the device is shared (``pid % n``) rather than waiting.
    """
    if not device_ids:
        raise ValueError("claim_gpu: no CUDA devices to choose from")
    if len(device_ids) == 1:
        return GpuClaim(0, device_ids[0], None, None)
    lock_dir = default_lock_dir() if lock_dir is None else Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    for index, device_id in enumerate(device_ids):
        path = lock_dir / _lock_name(device_id)
        handle = open(path, "a+")  # noqa: SIM115 - held open for the process lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        log.info("claimed GPU %s (cuda:%d) via %s", device_id, index, path)
        return GpuClaim(index, device_id, path, handle)
    index = os.getpid() % len(device_ids)
    log.warning(
        "all %d visible GPUs are claimed by other jobs (locks in %s); sharing cuda:%d. "
        "Run at most as many GPU jobs as GPUs (snakemake --resources gpu=N)",
        len(device_ids),
        lock_dir,
        index,
    )
    return GpuClaim(index, device_ids[index], None, None)


def release_gpu() -> None:
    """Release this process's GPU claim, if any (normally the process exit does it)."""
    global _CLAIM
    if _CLAIM is not None:
        _CLAIM.release()
        _CLAIM = None


def _cuda_index(lock_dir: Path | None) -> int:
    global _CLAIM
    import torch

    if _CLAIM is None:
        _CLAIM = claim_gpu(visible_device_ids(torch.cuda.device_count()), lock_dir)
    return _CLAIM.index


def select_device(
    requested: str = "auto",
    *,
    key: str = "training.device",
    lock_dir: Path | None = None,
) -> torch.device:
    """Resolve ``requested`` (auto|cpu|cuda|mps) to a torch device.

    ``auto`` prefers CUDA, then Apple's MPS, then the CPU. Asking for ``cuda``/``mps`` where it
    is not available is an error naming ``key``. On CUDA with several visible GPUs the device
    is one claimed for this process (:func:`claim_gpu`), and it becomes the current device.
    """
    import torch

    requested = (requested or "auto").lower()
    if requested not in DEVICE_CHOICES:
        raise ValueError(f"{key}: '{requested}' is not a device; use one of {DEVICE_CHOICES}")
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if requested == "cuda" and not cuda:
        raise RuntimeError(
            f"{key}: 'cuda' was requested but this torch ({torch.__version__}) sees no CUDA "
            "device; set it to 'auto' or 'cpu', or install a CUDA build of torch on a GPU machine"
        )
    if requested == "mps" and not mps:
        raise RuntimeError(
            f"{key}: 'mps' was requested but Apple's MPS backend is not available here; "
            "set it to 'auto' or 'cpu'"
        )
    if requested == "cuda" or (requested == "auto" and cuda):
        index = _cuda_index(lock_dir)
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    if requested == "mps" or (requested == "auto" and mps):
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    """Human-readable name of ``device`` (the GPU model, or the CPU's)."""
    import platform

    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return name
