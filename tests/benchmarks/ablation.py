"""What each change to the training step buys: ``conv`` at 256x256, batch 64, in fresh processes.

The step is the workflow loop's (biomedclf.train.loop): a batch gathered from an in-memory uint8
tensor by a random permutation, scaled and normalised, optionally channels_last, forward,
BCEWithLogits, ``zero_grad(set_to_none=True)``, backward, Adam, loss summed on the device, with
deterministic algorithms requested (and, in the "now" rows, torch's NaN fill of new tensors off:
biomedclf.train.speedups.skip_uninitialized_fill). Each configuration runs in its own process
(allocator settings only take effect at start-up), does two untimed warm-up steps (which also
compile, with torch.compile), then times a few steps. Configurations run round-robin for a few
rounds, so a burst of other users' load hits all of them alike; the table gives the median
images/s, images per CPU-second (what one core does, much less sensitive to other users' load than
wall time), and the median per-round ratio to the loop before these changes ("before").

Then, by default, the fraction of the float32 matmul peak that ``conv`` (256 px) and ResNet-18
(224 px) training reach with each option (tests/benchmarks/peak_fraction.py).

Run alone: ``python tests/benchmarks/run.py --parts ablation`` (about 30 minutes with
ResNet-18 and torch.compile on 2 cores).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The loop as it is: the changes below that it keeps.
NOW: dict[str, Any] = {"reuse_memory": True, "pool_first": True, "fill": False}

#: label -> settings; the "before" row is the reference.
CONFIGS: dict[str, dict[str, Any]] = {
    "NCHW, in-memory cache (the notebook's memory format, no decoding)": {"channels_last": False},
    "before: channels_last, ReLU then MaxPool (the loop before the changes below)": {},
    "before + deterministic algorithms off": {"deterministic": False},
    "before + Adam(fused=True)": {"fused": True},
    "before + loss.item() every step (host sync, as notebooks do)": {"sync": True},
    "before + reuse freed memory (glibc mallopt: M_MMAP_MAX=0, M_TRIM_THRESHOLD=2^31-1)": {
        "reuse_memory": True
    },
    "before + MaxPool before ReLU (identical outputs and gradients)": {"pool_first": True},
    "before + no NaN fill of new tensors (torch.utils.deterministic.fill_uninitialized_memory)": {
        "fill": False
    },
    "reuse memory + MaxPool before ReLU (the loop until the NaN fill was skipped)": {
        "reuse_memory": True,
        "pool_first": True,
    },
    "now: reuse memory + MaxPool before ReLU + no NaN fill (biomedclf.train.loop as it is)": NOW,
    "now + torch.compile (training.compile: true; compilation not timed)": {**NOW, "compile": True},
    "now + Adam(foreach=True) (bit-identical)": {**NOW, "foreach": True},
    "before + THP_MEM_ALLOC_ENABLE=1 + MaxPool before ReLU (huge pages instead of reuse)": {
        "thp": True,
        "pool_first": True,
    },
    "now, 1 thread": {**NOW, "threads": 1},
    "now, batch 32": {**NOW, "batch_size": 32},
    "now, batch 128": {**NOW, "batch_size": 128},
}
REFERENCE = "before: channels_last, ReLU then MaxPool (the loop before the changes below)"
DEFAULTS: dict[str, Any] = {
    "model": "conv",
    "image_size": 256,
    "batch_size": 64,
    "threads": 2,
    "channels_last": True,
    "deterministic": True,
    "fused": False,
    "sync": False,
    "reuse_memory": False,
    "thp": False,
    "pool_first": False,
    "fill": True,  # torch's NaN fill of new tensors under deterministic algorithms
    "compile": False,
    "foreach": False,
    "steps": 3,
}


def reuse_freed_memory() -> bool:
    """Make glibc keep freed blocks for reuse instead of unmapping them (Linux/glibc only).

    Without it every activation tensor of a training step (hundreds of MB at 256 px) is a fresh
    mmap whose pages the kernel faults in and zeroes again on every step.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def one(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration in this process (called in a child process)."""
    import resource
    import time

    if cfg["reuse_memory"]:
        reuse_freed_memory()
    import torch
    from torch import nn

    from biomedclf.train.models import build_model
    from biomedclf.train.speedups import compile_model, skip_uninitialized_fill

    torch.set_num_threads(cfg["threads"])
    if cfg["deterministic"]:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if not cfg["fill"]:
        skip_uninitialized_fill()
    torch.manual_seed(0)
    size, bs = cfg["image_size"], cfg["batch_size"]
    model = build_model(cfg["model"], {}, 1, size, n_classes=2)
    if not cfg["pool_first"]:  # models pool first; back to the homework's Conv -> ReLU -> MaxPool
        f = list(model.features)
        for i in range(0, len(f), 3):
            f[i + 1], f[i + 2] = f[i + 2], f[i + 1]
        model.features = nn.Sequential(*f)
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    if cfg["compile"]:
        compile_model(model)
    kwargs = {"fused": True} if cfg["fused"] else {"foreach": True} if cfg["foreach"] else {}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **kwargs)
    crit = nn.BCEWithLogitsLoss()
    n = bs * 4
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 2, (n,), generator=gen).float()
    mean = torch.full((1, 1, 1, 1), 0.5)
    std = torch.full((1, 1, 1, 1), 0.25)
    loss_sum = torch.zeros(())
    model.train()

    def step() -> None:
        nonlocal loss_sum
        idx = torch.randperm(n, generator=gen)[:bs]
        x = (images[idx].float().div_(255) - mean) / std
        if cfg["channels_last"]:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = crit(model(x).float().reshape(-1), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cfg["sync"]:
            float(loss)
        else:
            loss_sum += loss.detach()

    step()
    step()
    wall, cpu, faults = [], [], []
    for _ in range(cfg["steps"]):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        c0, t0 = time.process_time(), time.perf_counter()
        step()
        wall.append(bs / (time.perf_counter() - t0))
        cpu.append(bs / (time.process_time() - c0))
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return {
        "images_per_second": statistics.median(wall),
        "images_per_cpu_second": statistics.median(cpu),
        "page_faults_per_step": int(statistics.median(faults)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def run(
    rounds: int = 2, configs: dict[str, dict[str, Any]] | None = None, peak: bool = True
) -> dict[str, Any]:
    """Round-robin every configuration ``rounds`` times in fresh processes; summarise. With
    ``peak``, then the fraction of the matmul peak of ``conv`` and ResNet-18 with each option
    (peak_fraction.run, ``rounds`` rounds)."""
    configs = configs or CONFIGS
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in configs}
    for r in range(rounds):
        for label, change in configs.items():
            cfg = {**DEFAULTS, **change}
            env = dict(os.environ)
            if cfg["thp"]:
                env["THP_MEM_ALLOC_ENABLE"] = "1"
            else:
                env.pop("THP_MEM_ALLOC_ENABLE", None)
            proc = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), json.dumps(cfg)],
                capture_output=True,
                text=True,
                env=env,
                timeout=900,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"ablation run {label!r} failed:\n{proc.stderr[-2000:]}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[label].append(res)
            log.info(
                "round %d %s: %.1f img/s, %.1f img/CPU-s, %d faults/step, load %.2f",
                r + 1,
                label,
                res["images_per_second"],
                res["images_per_cpu_second"],
                res["page_faults_per_step"],
                res["load_1min"],
            )
    ref = runs.get(REFERENCE) or next(iter(runs.values()))
    rows = {}
    for label, rs in runs.items():
        cfg = {**DEFAULTS, **configs[label]}
        rows[label] = {
            "settings": cfg,
            "images_per_second": statistics.median(r["images_per_second"] for r in rs),
            "images_per_cpu_second": statistics.median(r["images_per_cpu_second"] for r in rs),
            "ratio_to_before": statistics.median(
                a["images_per_second"] / b["images_per_second"] for a, b in zip(rs, ref)
            ),
            "cpu_ratio_to_before": statistics.median(
                a["images_per_cpu_second"] / b["images_per_cpu_second"] for a, b in zip(rs, ref)
            ),
            "page_faults_per_step": rs[-1]["page_faults_per_step"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "runs": rs,
        }
    result: dict[str, Any] = {"rounds": rounds, "reference": REFERENCE, "rows": rows}
    if peak:
        import peak_fraction

        result["peak_fraction"] = peak_fraction.run(rounds=rounds)
    return result


def markdown(result: dict[str, Any]) -> str:
    """The ablation as a Markdown table."""
    lines = [
        "| Change (conv, 256 px, batch 64, 2 threads unless stated) | img/s | img per CPU-s |"
        " vs before (wall) | vs before (CPU) | page faults/step | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in result["rows"].items():
        lines.append(
            f"| {label} | {r['images_per_second']:.1f} | {r['images_per_cpu_second']:.1f} |"
            f" {r['ratio_to_before']:.2f}x | {r['cpu_ratio_to_before']:.2f}x |"
            f" {r['page_faults_per_step']:,} | {r['peak_rss_mb']:,} |"
        )
    text = "\n".join(lines) + "\n"
    if result.get("peak_fraction"):
        import peak_fraction

        text += "\nTraining against the float32 matmul peak:\n\n"
        text += peak_fraction.markdown(result["peak_fraction"])
    return text


if __name__ == "__main__":  # child process: one configuration
    sys.stdout.write(json.dumps(one(json.loads(sys.argv[1]))) + "\n")
