"""GPU check: the smoke study on CUDA, then a 256x256 training benchmark of the homework CNN.

Run it on a machine with an NVIDIA GPU, from the repository root, in the project's environment:

    python tests/gpu/check_gpu.py                 # both parts
    python tests/gpu/check_gpu.py --skip-smoke    # the benchmark only

It drives the workflow through the snakemake command line only, with configs written to --out
(default results/gpu_check/), and reads what the training jobs record in train.json (device,
device name, images per second, peak GPU memory). Paste the printed table into README.md
("GPUs"). Exit status: 0 when every check passed, 1 when one failed, 2 when there is no GPU.
Not collected by pytest (tests/gpu is excluded in pyproject.toml): it needs CUDA.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=ROOT / "results" / "gpu_check", help="work folder")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="snakemake --cores")
    p.add_argument("--gpus", type=int, default=1, help="snakemake --resources gpu=N")
    p.add_argument("--epochs", type=int, default=3, help="benchmark epochs")
    p.add_argument("--batch-size", type=int, default=64, help="benchmark batch size")
    p.add_argument(
        "--n-per-class", type=int, default=1000, help="benchmark synthetic images per class"
    )
    p.add_argument("--skip-smoke", action="store_true", help="run the benchmark only")
    p.add_argument(
        "--device",
        default="cuda",
        choices=["cuda", "cpu"],
        help="cpu only tries this script out on a machine without a GPU (no CUDA checks)",
    )
    return p.parse_args()


def snakemake(configfile: Path, args: argparse.Namespace, *targets: str) -> float:
    """Run the workflow from the repository root; return its wall seconds."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,  # first: --resources and --configfile take several values
        "--cores",
        str(args.cores),
        "--resources",
        f"gpu={args.gpus}",
        "--configfile",
        str(configfile),
    ]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - start


def write_config(config: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def train_records(study: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((study / "train").glob("*/seed*/train.json"))]


def check_cuda_record(rec: dict, where: str) -> list[str]:
    problems = []
    if rec.get("device") != "cuda":
        problems.append(f"{where}: trained on {rec.get('device')!r}, not 'cuda'")
    if not rec.get("peak_memory_mb"):
        problems.append(f"{where}: no peak_memory_mb recorded")
    return problems


def row(rec: dict) -> str:
    return (
        f"| {rec.get('variant')} | {rec.get('seed')} | {rec.get('image_size')} | "
        f"{rec.get('device_name')} | {rec.get('images_per_second', 0):.0f} | "
        f"{rec.get('peak_memory_mb', 0):.0f} | {rec.get('train_seconds', 0):.1f} |"
    )


def main() -> int:
    args = parse_args()
    import torch

    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(
            "no CUDA device: torch.cuda.is_available() is False; run this on a GPU machine",
            file=sys.stderr,
        )
        return 2
    if cuda:
        gpus = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        print(
            f"torch {torch.__version__}, CUDA {torch.version.cuda},"
            f" {torch.cuda.device_count()} GPU(s): {gpus}"
        )
    else:
        print(f"torch {torch.__version__}, trying the script out on the CPU (--device cpu)")

    out = args.out.resolve()
    results = out / "results"
    smoke = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    problems: list[str] = []
    header = (
        "| variant | seed | image size | GPU | images/s | peak GPU MB | train s |\n"
        "|---|---|---|---|---|---|---|"
    )

    if not args.skip_smoke:
        cfg = copy.deepcopy(smoke)
        cfg["name"] = "gpu_smoke"
        cfg["results_dir"] = str(results)
        cfg.setdefault("training", {})["device"] = args.device
        seconds = snakemake(write_config(cfg, out / "gpu_smoke.yaml"), args)
        study = results / "gpu_smoke"
        records = train_records(study)
        if not records:
            problems.append(f"smoke study: no train.json under {study / 'train'}")
        for rec in records if cuda else []:
            problems += check_cuda_record(rec, f"smoke {rec.get('variant')}/seed{rec.get('seed')}")
        if not (study / "summary.md").is_file():
            problems.append(f"smoke study: {study / 'summary.md'} missing")
        print(
            f"\nsmoke study on {args.device}: {len(records)} training runs,"
            f" {seconds:.0f} s wall\n{header}"
        )
        print("\n".join(row(r) for r in records))

    bench = {
        "name": "gpu_bench",
        "results_dir": str(results),
        "data": {
            "source": "synthetic",
            "image_size": 256,
            "channels": 1,
            "synthetic": {"n_per_class": args.n_per_class, "seed": 0},
        },
        "training": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "seeds": [0],
            "device": args.device,
        },
        # The homework CNN: the conv model at its defaults (3 conv blocks of 32, fc 32).
        "variants": {"cnn": {"model": "conv"}},
        "comparisons": {},
    }
    target = results / "gpu_bench" / "train" / "cnn" / "seed0" / "train.json"
    seconds = snakemake(write_config(bench, out / "gpu_bench.yaml"), args, str(target))
    rec = json.loads(target.read_text())
    if cuda:
        problems += check_cuda_record(rec, "benchmark")
    print(
        f"\n256x256 benchmark, homework CNN, batch {args.batch_size}, {args.epochs} epochs, "
        f"{rec.get('n_train')} training images ({seconds:.0f} s wall incl. data preparation):"
        f"\n{header}\n{row(rec)}"
    )

    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("\nGPU check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
