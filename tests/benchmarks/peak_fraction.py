"""Training speed against the machine's limit: images/s and the fraction of the float32 matmul
peak that a training step reaches, for ``conv`` at 256 px and ResNet-18 (``resnet18``,
torchvision's, from scratch) at 224 px, one channel, batch 64, with the options the loop has:
channels_last (the default for convolutional models), ``training.compile`` (torch.compile)
and the number of threads.

The step is the workflow loop's (biomedclf.train.loop.train_one_epoch): a batch gathered from an
in-memory uint8 tensor by a random permutation, ``to_model_input`` (scale, normalise,
channels_last), forward, ``flat_logits``, BCEWithLogits, ``zero_grad(set_to_none=True)``,
backward, Adam (lr 1e-3), loss summed on the device; the process keeps freed memory
(biomedclf.train.speedups.keep_freed_memory) and runs with deterministic algorithms requested,
as a training job does. Each configuration runs in its own process: untimed warm-up steps (the
first one's time is reported: it includes torch.compile's compilation), then ``--steps`` timed
steps. The peak is ``torch.mm`` of 2048 x 2048 float32 matrices with the same thread count,
measured in the same process right before and after the steps (the higher counts), so other
users' load hits both alike. FLOPs per image are a training step's (forward + backward)
counted by ``torch.utils.flop_counter.FlopCounterMode`` (training.flops_per_image).

Two fractions: of wall time (FLOP/s of training over FLOP/s of the matmul), and of CPU time
(FLOPs per CPU-second of training over FLOPs per CPU-second of the matmul). On a quiet machine
they agree; on a shared one, time a process waits for a core counts in the first only, so the
second is the steadier figure there.

    python tests/benchmarks/peak_fraction.py [--steps 4] [--rounds 1] [--models conv,resnet18]
    python tests/benchmarks/peak_fraction.py --profile conv   # top ops by self CPU time

``--profile`` runs torch.profiler (CPU activities, record_shapes) over a few steps of the
default configuration and prints the ops with the most self CPU time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

log = logging.getLogger(__name__)

#: model -> image size the issue asks about.
MODELS: dict[str, int] = {"conv": 256, "resnet18": 224}

#: label -> change to DEFAULTS, measured for every model.
CONFIGS: dict[str, dict[str, Any]] = {
    "NCHW": {"channels_last": False},
    "channels_last (default)": {},
    "channels_last, 1 thread": {"threads": 1},
    "channels_last + compile": {"compile": True},
    "channels_last + Adam(foreach=True)": {"optimizer": {"foreach": True}},
    "channels_last + NaN fill of new tensors (before skip_uninitialized_fill)": {
        "fill_uninitialized": True
    },
}
DEFAULTS: dict[str, Any] = {
    "model": "conv",
    "image_size": 256,
    "batch_size": 64,
    "threads": 2,
    "channels_last": True,
    "compile": False,
    "optimizer": {},
    "fill_uninitialized": False,
    "warm_up": 2,
    "steps": 4,
    "profile": False,
}


def one(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration in this process (called in a child process)."""
    import resource

    from biomedclf.train.speedups import keep_freed_memory

    keep_freed_memory()
    import torch
    from torch import nn

    from biomedclf.train.augment import normalisation_tensors, to_model_input
    from biomedclf.train.inference import flat_logits
    from biomedclf.train.models import build_model
    from biomedclf.train.speedups import compile_model, skip_uninitialized_fill

    if not cfg["fill_uninitialized"]:
        skip_uninitialized_fill()
    threads = cfg["threads"]
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(0)
    size, bs = cfg["image_size"], cfg["batch_size"]
    model = build_model(cfg["model"], {}, 1, size, n_classes=2)
    if cfg["channels_last"]:
        model.to(memory_format=torch.channels_last)
    if cfg["compile"]:
        compile_model(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **cfg["optimizer"])
    crit = nn.BCEWithLogitsLoss()
    n = bs * 2
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 2, (n,), generator=gen).float()
    mean, std = normalisation_tensors([0.5], [0.25], torch.device("cpu"))
    loss_sum = torch.zeros(())
    model.train()

    def step() -> None:
        nonlocal loss_sum
        idx = torch.randperm(n, generator=gen)[:bs]
        x = to_model_input(images[idx], mean, std, channels_last=cfg["channels_last"])
        loss = crit(flat_logits(model(x)), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach() * bs

    t0 = time.perf_counter()
    step()
    first_step_s = time.perf_counter() - t0
    for _ in range(cfg["warm_up"] - 1):
        step()
    if cfg["profile"]:
        return {"profile": profile(step, cfg["steps"])}
    peak = [cpu_peak(threads)]
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(cfg["steps"]):
        step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak.append(cpu_peak(threads))
    if not torch.isfinite(loss_sum):
        raise RuntimeError(f"non-finite training loss {float(loss_sum)} with {cfg}")
    return {
        "images_per_second": bs * cfg["steps"] / wall,
        "images_per_cpu_second": bs * cfg["steps"] / cpu,
        "first_step_s": first_step_s,
        "peak_flops": max(p[0] for p in peak),
        "peak_flops_per_cpu_second": max(p[1] for p in peak),
        "peak_flops_before_after": [p[0] for p in peak],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_1min": round(os.getloadavg()[0], 2),
    }


def cpu_peak(threads: int, n: int = 2048, reps: int = 4, trials: int = 3) -> tuple[float, float]:
    """Best float32 ``torch.mm`` rate over ``trials`` timings of ``reps`` n x n products: in
    FLOP per wall second (machine.matmul_peak's figure) and in FLOP per CPU-second."""
    import torch

    torch.set_num_threads(threads)
    a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    torch.mm(a, b, out=c)
    wall, cpu = [], []
    for _ in range(trials):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=c)
        flops = 2 * n**3 * reps
        wall.append(flops / (time.perf_counter() - t0))
        cpu.append(flops / (time.process_time() - c0))
    return max(wall), max(cpu)


def profile(step: Any, steps: int, top: int = 15) -> dict[str, Any]:
    """torch.profiler (CPU activities, record_shapes) over ``steps`` calls of ``step``: the
    ``top`` ops by self CPU time, as rows and as the profiler's own table."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(steps):
            step()
    averages = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in averages)
    rows = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {
        "steps": steps,
        "self_cpu_ms_total": total / 1e3,
        "top": [
            {
                "op": e.key,
                "self_cpu_ms": e.self_cpu_time_total / 1e3,
                "share": e.self_cpu_time_total / total,
                "calls": e.count,
            }
            for e in rows
        ],
        "table": averages.table(sort_by="self_cpu_time_total", row_limit=top),
    }


def _child(cfg: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"peak_fraction run {cfg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(
    models: list[str] | None = None,
    configs: dict[str, dict[str, Any]] | None = None,
    rounds: int = 1,
    steps: int = 4,
) -> dict[str, Any]:
    """Every configuration of every model, round-robin ``rounds`` times in fresh processes."""
    from training import flops_per_image

    models, configs = models or list(MODELS), configs or CONFIGS
    result: dict[str, Any] = {"rounds": rounds, "steps": steps, "models": {}}
    for model in models:
        size = MODELS[model]
        flops = flops_per_image(model, size, DEFAULTS["batch_size"])
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in configs}
        for _ in range(rounds):
            for label, change in configs.items():
                cfg = {**DEFAULTS, "model": model, "image_size": size, "steps": steps, **change}
                res = _child(cfg)
                res["fraction_of_peak"] = flops * res["images_per_second"] / res["peak_flops"]
                res["cpu_fraction_of_peak"] = (
                    flops * res["images_per_cpu_second"] / res["peak_flops_per_cpu_second"]
                )
                runs[label].append(res)
                log.info(
                    "%s %s: %.1f img/s (%.1f per CPU-s), %.0f%% of %.0f GFLOP/s (CPU time: "
                    "%.0f%% of %.0f GFLOP per CPU-s), first step %.1f s, load %.2f",
                    model,
                    label,
                    res["images_per_second"],
                    res["images_per_cpu_second"],
                    100 * res["fraction_of_peak"],
                    res["peak_flops"] / 1e9,
                    100 * res["cpu_fraction_of_peak"],
                    res["peak_flops_per_cpu_second"] / 1e9,
                    res["first_step_s"],
                    res["load_1min"],
                )
        rows = {}
        for label, rs in runs.items():
            rows[label] = {
                "settings": {**DEFAULTS, **configs[label]},
                "images_per_second": statistics.median(r["images_per_second"] for r in rs),
                "images_per_cpu_second": statistics.median(r["images_per_cpu_second"] for r in rs),
                "fraction_of_peak": statistics.median(r["fraction_of_peak"] for r in rs),
                "cpu_fraction_of_peak": statistics.median(r["cpu_fraction_of_peak"] for r in rs),
                "peak_flops": statistics.median(r["peak_flops"] for r in rs),
                "peak_flops_per_cpu_second": statistics.median(
                    r["peak_flops_per_cpu_second"] for r in rs
                ),
                "first_step_s": statistics.median(r["first_step_s"] for r in rs),
                "runs": rs,
            }
        result["models"][model] = {"image_size": size, "flops_per_image": flops, "rows": rows}
    return result


def markdown(result: dict[str, Any]) -> str:
    """The measurements as a Markdown table."""
    lines = [
        "| Model | Configuration (batch 64, 2 threads unless stated) | img/s | img per CPU-s |"
        " fp32 matmul peak (same threads) | fraction of peak | per CPU-s: peak | fraction |"
        " first step s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, m in result["models"].items():
        name = f"`{model}` {m['image_size']} px ({m['flops_per_image'] / 1e9:.2f} GFLOP/img)"
        for label, r in m["rows"].items():
            lines.append(
                f"| {name} | {label} | {r['images_per_second']:.1f} |"
                f" {r['images_per_cpu_second']:.1f} | {r['peak_flops'] / 1e9:.0f} GFLOP/s |"
                f" {r['fraction_of_peak']:.0%} | {r['peak_flops_per_cpu_second'] / 1e9:.0f} GFLOP |"
                f" {r['cpu_fraction_of_peak']:.0%} | {r['first_step_s']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def profile_markdown(model: str, prof: dict[str, Any]) -> str:
    """The profile's top ops as a Markdown table."""
    lines = [
        f"Top ops by self CPU time, `{model}` at {MODELS[model]} px, {prof['steps']} steps "
        f"({prof['self_cpu_ms_total']:.0f} ms self CPU in all):",
        "",
        "| Op | self CPU ms | share | calls |",
        "|---|---:|---:|---:|",
    ]
    for row in prof["top"]:
        lines.append(
            f"| `{row['op']}` | {row['self_cpu_ms']:.0f} | {row['share']:.1%} | {row['calls']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated (conv,resnet18)")
    p.add_argument("--configs", default=None, help="labels separated by ; (default: all)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--steps", type=int, default=4, help="timed steps per run (4)")
    p.add_argument("--profile", default=None, help="profile this model's default configuration")
    p.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = p.parse_args(argv)
    if args.child:
        sys.stdout.write(json.dumps(one(json.loads(args.child))) + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.profile:
        cfg = {**DEFAULTS, "model": args.profile, "image_size": MODELS[args.profile]}
        prof = _child({**cfg, "steps": args.steps, "profile": True})["profile"]
        sys.stdout.write(prof["table"] + "\n" + profile_markdown(args.profile, prof))
        result: dict[str, Any] = {"profile": {args.profile: prof}}
    else:
        configs = CONFIGS
        if args.configs:
            configs = {k.strip(): CONFIGS[k.strip()] for k in args.configs.split(";")}
        models = [m.strip() for m in args.models.split(",")]
        result = run(models, configs, args.rounds, args.steps)
        sys.stdout.write(markdown(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
