"""Training throughput as a study runs it: several one-thread training jobs at once against the
notebook loop with every core.

    python tests/benchmarks/study_throughput.py [--models conv] [--cores 2] [--images 384]
        [--image-size 256] [--repeats 2] [--work DIR]

A study's training jobs run one thread each (``resources.train_threads``, default 1) and
Snakemake runs ``--cores`` of them at once; a notebook trains one model at a time with torch's
default of every core. Both sides train the model of :mod:`training` (same images, batch 64,
Adam, BCEWithLogits): the notebook loop (:func:`training.notebook_loop`, ImageFolder decoding
every epoch) with ``--cores`` threads, and ``--cores`` fresh processes at once, each running
:func:`training.workflow_loop` with one thread on its own copy of the outputs (a warm-up run
first, as in the suite). The machine's images/s of the study is the sum of the jobs' own
figures (each over its training phase; they overlap, started together on equal work), so
the ratio is how many more images per second a study of many runs trains than the notebook
training them one after another. Each side's best of ``--repeats`` rounds counts (other load
only slows a run down). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

log = logging.getLogger(__name__)


def jobs_at_once(model: str, data: Any, work: Path, cores: int, batch_size: int) -> dict:
    """``cores`` one-thread workflow training processes started together: their images/s."""
    from training import workflow_loop

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=cores, mp_context=ctx) as pool:
        futures = [
            pool.submit(workflow_loop, model, data, work / f"job{i}", 1, batch_size)
            for i in range(cores)
        ]
        rates = [f.result()["images_per_second"] for f in futures]
    return {"jobs": cores, "per_job": rates, "images_per_second": sum(rates)}


def compare(model: str, data: Any, work: Path, cores: int, batch_size: int, repeats: int) -> dict:
    """Best of ``repeats`` alternating rounds of the notebook and of the jobs at once."""
    from training import _in_fresh_process, notebook_loop

    notebook, study = [], []
    for _ in range(repeats):
        notebook.append(_in_fresh_process(notebook_loop, model, data, cores, batch_size))
        study.append(jobs_at_once(model, data, work, cores, batch_size))
    nb = max(r["images_per_second"] for r in notebook)
    best = max(study, key=lambda r: r["images_per_second"])
    return {
        "model": model,
        "notebook_images_per_second": nb,
        "notebook_runs": [r["images_per_second"] for r in notebook],
        "study_images_per_second": best["images_per_second"],
        "study_runs": [r["images_per_second"] for r in study],
        "per_job": best["per_job"],
        "ratio": best["images_per_second"] / nb,
        "load_1min_after": round(os.getloadavg()[0], 2),
    }


def markdown(rows: list[dict], cores: int, args: argparse.Namespace) -> str:
    lines = [
        f"| model | notebook, {cores} threads (img/s) | {cores} jobs x 1 thread (img/s) "
        "| per job | ratio |",
        "|---|---:|---:|---|---:|",
    ]
    for r in rows:
        per_job = ", ".join(f"{v:.1f}" for v in r["per_job"])
        lines.append(
            f"| `{r['model']}` {args.image_size} px | {r['notebook_images_per_second']:.1f} "
            f"| {r['study_images_per_second']:.1f} | {per_job} | {r['ratio']:.2f}x |"
        )
    runs = "; ".join(
        f"{r['model']}: notebook {[round(v, 1) for v in r['notebook_runs']]}, "
        f"jobs {[round(v, 1) for v in r['study_runs']]} (load {r['load_1min_after']})"
        for r in rows
    )
    note = f"{args.images} images, batch 64, best of {args.repeats}: {runs}"
    return "\n".join(lines) + f"\n\n{note}\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="conv", help="comma-separated registry models (conv)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="jobs at once")
    p.add_argument("--images", type=int, default=384, help="training images (384)")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--work", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("biomedclf").setLevel(logging.WARNING)
    from training import build_training_data

    with tempfile.TemporaryDirectory(prefix="biomedclf-study-") as tmp:
        work = args.work or Path(tmp)
        data = build_training_data(work, args.images, 64, args.image_size, 64)
        rows = [
            compare(m, data, work, args.cores, 64, args.repeats) for m in args.models.split(",")
        ]
    sys.stdout.write(markdown(rows, args.cores, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
