"""biomedclf benchmark suite: the workflow against a homework-style notebook and the machine.

    python tests/benchmarks/run.py [--quick] [--out benchmarks_out/]

Measures, side by side in one run (issue 7):

1. training throughput of ``linear``, ``conv`` and ``conv_gap`` at 256x256 (1 channel, batch 64):
   the workflow's loop (biomedclf.train.loop.run_training) against a notebook loop (ImageFolder +
   DataLoader, decoding every image every epoch) on the same images, same model, same threads;
2. the fraction of the machine's float32 matmul rate (torch.mm, measured in the same run) that
   ``conv`` training reaches, FLOPs counted with torch.utils.flop_counter;
3. preparation: prepare_dataset with the rule's threads against a single-process ImageFolder
   pass over a folder of JPEGs and PNGs, and loading the cache against decoding again;
4. workflow overhead: ``snakemake -n`` for 10 variants x 5 seeds, a rerun with nothing to do,
   and the default study's wall time against its jobs' training seconds;
5. on CUDA, when present, the training comparison with peak GPU memory;
6. with ``--parts stats``, the stats job (study_statistics) for a two-class study of the
   default size (against the code at HEAD) and for 9 classes x 5,000 test images
   (stats_benchmark.py, also runnable alone);
7. with ``--parts dicom``, DICOM preparation: prepare_dataset with ``--threads`` threads
   against a single-threaded plain pydicom loop (dcmread + pixel_array + rescale + resize) over
   the same 400 uncompressed 512 px CT-like slices (dicom_preparation.py, also runnable alone,
   with RLE or JPEG 2000 files too);
8. with ``--parts prepare_shards``, sharded preparation (data.shards): images/s for 1, 2 and 4
   shards through snakemake and in-process, on 3,000 generated JPEGs/PNGs (prepare_shards.py,
   also runnable alone).

Prints a Markdown table with PASS/FAIL per target and writes ``benchmarks.json`` and
``benchmarks.md`` into ``--out``. Not part of the pytest run (pyproject's norecursedirs).
On a shared machine it first waits (bounded) for the 1-minute load to drop and records the load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the suite's modules, then tests/ (repo_copy)

import machine  # noqa: E402
import report  # noqa: E402

log = logging.getLogger("benchmarks")
PARTS = ("training", "preparation", "workflow")
# only when named in --parts
OPTIONAL_PARTS = (
    "ablation",
    "prepare_memory",
    "stats",
    "dicom",
    "prepare_shards",
    "train_memory",  # two training jobs on one mapped cache (train_memory.py)
    "backbones",  # ResNet-18, DenseNet-121 at 224 px against a reference loop (backbones_speed.py)
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer images and repetitions, no default study (a few minutes)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks_out"),
        help="folder for benchmarks.json and benchmarks.md (default: benchmarks_out/)",
    )
    p.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts: {', '.join(PARTS)} (the default) and "
        f"{', '.join(OPTIONAL_PARTS)} (what each change to the training step buys; "
        "prepare's peak memory for 1,000 to 20,000 JPEGs; the stats job for 2 "
        "and 9 classes; DICOM preparation against a plain pydicom loop; preparation "
        "with 1, 2 and 4 shards)",
    )
    p.add_argument(
        "--ablation-rounds",
        type=int,
        default=2,
        help="rounds of the ablation's round-robin (default 2)",
    )
    p.add_argument("--threads", type=int, default=2, help="torch threads for both loops (2)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument(
        "--train-images",
        type=int,
        default=None,
        help="images per training measurement (default 384, --quick 192)",
    )
    p.add_argument(
        "--max-load",
        type=float,
        default=1.5,
        help="wait before each part until the 1-minute load is below this (1.5)",
    )
    p.add_argument(
        "--max-wait",
        type=float,
        default=None,
        help="seconds to wait for a quiet machine in all (default 600, --quick 0)",
    )
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch folder (default: a temporary folder, deleted afterwards)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS) - set(OPTIONAL_PARTS))
    if unknown:
        raise SystemExit(
            f"--parts: unknown part(s) {unknown}; use some of {', '.join(PARTS + OPTIONAL_PARTS)}"
        )
    n_train = args.train_images or (192 if args.quick else 384)
    max_wait = args.max_wait if args.max_wait is not None else (0.0 if args.quick else 600.0)
    wait_left = max_wait

    import torch

    info = machine.machine_info()
    results: dict[str, Any] = {
        "suite": "biomedclf benchmarks (issue 7)",
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick,
        "settings": {
            "threads": args.threads,
            "batch_size": args.batch_size,
            "image_size": args.image_size,
            "train_images": n_train,
            "max_load": args.max_load,
            "max_wait_s": max_wait,
        },
        "machine": info,
        "load": {"start": machine.load_average(), "parts": {}},
    }

    def settle(part: str) -> None:
        nonlocal wait_left
        t0 = time.monotonic()
        waited = machine.wait_for_quiet(args.max_load, wait_left)
        wait_left = max(0.0, wait_left - (time.monotonic() - t0))
        results["load"]["parts"][part] = {"before": machine.load_average(), **waited}

    work = args.work or Path(tempfile.mkdtemp(prefix="biomedclf-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    try:
        settle("matmul_peak")
        results["load"]["quiet_at_start"] = results["load"]["parts"]["matmul_peak"]["quiet"]
        peak = machine.matmul_peak(threads=args.threads)
        log.info(
            "float32 matmul peak (%d threads): %.1f GFLOP/s", args.threads, peak["best_flops"] / 1e9
        )
        results["matmul_peak"] = peak
        if "training" in parts:
            import training

            settle("training")
            results["training"] = training.run(
                work / "training",
                n_train,
                args.threads,
                args.batch_size,
                args.image_size,
                ["linear", "conv", "conv_gap"],
                peak,
                repeats=1 if args.quick else 2,
            )
            results["load"]["parts"]["training"]["after"] = machine.load_average()
            # peak again after training; the best of both is the machine's rate
            again = machine.matmul_peak(threads=args.threads)
            results["matmul_peak_after_training"] = again
            best = max(peak["best_flops"], again["best_flops"])
            fp = results["training"].get("conv_fraction_of_peak")
            if fp:
                fp["peak_flops"] = best
                fp["fraction"] = fp["achieved_flops"] / best
                fp["notebook_fraction"] = (
                    fp["flops_per_image"]
                    * results["training"]["cpu"]["conv"]["notebook"]["images_per_second"]
                    / best
                )
            torch.set_num_threads(args.threads)
        if "preparation" in parts:
            import preparation

            settle("preparation")
            n_img, side = (100, 512) if args.quick else (400, 512)
            results["preparation"] = preparation.run(
                work / "preparation", n_img, side, args.image_size, args.threads
            )
            results["load"]["parts"]["preparation"]["after"] = machine.load_average()
        if "workflow" in parts:
            import overhead

            settle("workflow")
            results["workflow"] = overhead.run(work / "workflow", args.quick, cores=args.threads)
            results["load"]["parts"]["workflow"]["after"] = machine.load_average()
        if "prepare_memory" in parts:
            import prepare_memory

            settle("prepare_memory")
            results["prepare_memory"] = prepare_memory.run(
                work / "prepare_memory",
                (1000, 5000) if args.quick else prepare_memory.SIZES,
                image_size=args.image_size,
                threads=args.threads,
            )
            results["load"]["parts"]["prepare_memory"]["after"] = machine.load_average()
        if "train_memory" in parts:
            import train_memory

            settle("train_memory")
            results["train_memory"] = train_memory.run(
                work / "train_memory", (5000,) if args.quick else train_memory.SIZES
            )
            results["load"]["parts"]["train_memory"]["after"] = machine.load_average()
        if "ablation" in parts:
            import ablation

            settle("ablation")
            results["ablation"] = ablation.run(rounds=args.ablation_rounds)
            results["load"]["parts"]["ablation"]["after"] = machine.load_average()
        if "stats" in parts:
            import stats_benchmark

            settle("stats")
            results["stats"] = stats_benchmark.run(work / "stats")
            results["load"]["parts"]["stats"]["after"] = machine.load_average()
        if "dicom" in parts:
            import dicom_preparation

            settle("dicom")
            results["dicom"] = dicom_preparation.run(
                work / "dicom",
                100 if args.quick else 400,
                512,
                args.image_size,
                args.threads,
                repeats=1 if args.quick else 3,
            )
            results["load"]["parts"]["dicom"]["after"] = machine.load_average()
        if "prepare_shards" in parts:
            import prepare_shards

            settle("prepare_shards")
            results["prepare_shards"] = prepare_shards.run(
                work / "prepare_shards",
                600 if args.quick else 3000,
                threads=args.threads,
                repeats=1 if args.quick else 2,
            )
            results["load"]["parts"]["prepare_shards"]["after"] = machine.load_average()
        if "backbones" in parts:
            import backbones_speed

            settle("backbones")
            results["backbones"] = backbones_speed.run(work / "backbones", args.quick, args.threads)
            results["load"]["parts"]["backbones"]["after"] = machine.load_average()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    results["load"]["end"] = machine.load_average()
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    results["targets"] = report.evaluate_targets(results)
    table = report.markdown(results)
    if "stats" in results:
        import stats_benchmark

        table += "\n### Stats job\n\n" + stats_benchmark.markdown(results["stats"])
    if "dicom" in results:
        table += "\n### DICOM preparation\n\n" + results["dicom"]["markdown"]
    if "train_memory" in results:
        table += "\n### Two training jobs on one cache\n\n" + results["train_memory"]["markdown"]
    if "prepare_shards" in results:
        table += "\n### Sharded preparation\n\n" + results["prepare_shards"]["markdown"]
    if "backbones" in results:
        table += "\n### Backbones\n\n" + results["backbones"]["markdown"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "benchmarks.md").write_text(table)
    sys.stdout.write(table)
    log.info(
        "wrote %s and %s (%.0f s)",
        args.out / "benchmarks.json",
        args.out / "benchmarks.md",
        results["seconds"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
