"""What machine the benchmarks ran on, how busy it was, and its float32 matrix-multiply rate."""

from __future__ import annotations

import logging
import os
import platform
import time
from typing import Any

import torch

log = logging.getLogger(__name__)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The SIMD flags that matter for float32 GEMM (avx2, fma, avx512*, amx*), if known."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted(
                        f for f in flags if f in ("avx2", "fma") or f.startswith(("avx512", "amx"))
                    )
    except OSError:
        pass
    return []


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, library versions and GPU (if any) of this machine."""
    import torchvision

    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem_gb = round(int(line.split()[1]) / 2**20, 1)
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cuda": torch.cuda.is_available(),
    }
    try:
        import snakemake

        info["snakemake"] = snakemake.__version__
    except ImportError:  # pragma: no cover - the venv has it
        info["snakemake"] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def load_average() -> list[float]:
    """1-, 5- and 15-minute load averages (os.getloadavg), rounded."""
    return [round(v, 2) for v in os.getloadavg()]


def wait_for_quiet(max_load: float, max_wait_s: float, poll_s: float = 10.0) -> dict[str, Any]:
    """Poll the 1-minute load until it is below ``max_load`` or ``max_wait_s`` have passed.

    Returns what happened: the load seen at the end, how long it waited, and whether it got quiet.
    Other users' work on a shared machine makes every figure slower; the suite records the load
    so that a reader can tell a quiet run from a busy one.
    """
    start = time.monotonic()
    while True:
        load = os.getloadavg()[0]
        waited = time.monotonic() - start
        if load < max_load:
            return {"quiet": True, "load_1min": round(load, 2), "waited_s": round(waited, 1)}
        if waited >= max_wait_s:
            log.warning(
                "1-minute load still %.2f after %.0f s (wanted < %.2f): measuring anyway",
                load,
                waited,
                max_load,
            )
            return {"quiet": False, "load_1min": round(load, 2), "waited_s": round(waited, 1)}
        log.info("1-minute load %.2f >= %.2f; waiting (%.0f s so far)", load, max_load, waited)
        time.sleep(poll_s)


def matmul_peak(
    n: int = 2048, threads: int = 2, reps: int = 4, trials: int = 5, device: str = "cpu"
) -> dict[str, Any]:
    """Best float32 ``torch.mm`` rate (FLOP/s) over ``trials`` timings of ``reps`` n x n products.

    A large square product is the best case for the BLAS/oneDNN kernels the convolutions also
    use, so it stands for what the machine can do in float32 with ``threads`` threads.
    """
    if device == "cpu":
        torch.set_num_threads(threads)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    c = torch.empty(n, n, device=device)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    torch.mm(a, b, out=c)  # warm-up
    sync()
    rates = []
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=c)
        sync()
        dt = time.perf_counter() - t0
        rates.append(2 * n**3 * reps / dt)
    return {
        "n": n,
        "threads": threads if device == "cpu" else None,
        "device": device,
        "best_flops": max(rates),
        "median_flops": sorted(rates)[len(rates) // 2],
        "trials": len(rates),
    }
