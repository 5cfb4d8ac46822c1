"""Sharded preparation (data.shards): images per second for 1, 2 and 4 shards on this machine.

    python tests/benchmarks/prepare_shards.py [--images 3000] [--side 320] [--image-size 224]
                                              [--shards 1,2,4] [--cores 2] [--threads 2]
                                              [--work DIR]

Writes ``--images`` radiograph-like JPEGs and PNGs (preparation.make_folder) and, with every
file in the page cache, prepares them for each shard count in two ways:

* workflow: ``snakemake --cores N`` in a copy of the repository, up to the data cache (the
  ``prepare_shard`` jobs and the gathering ``prepare`` job, or the one ``prepare`` job), each
  job a fresh interpreter with ``resources.prepare_threads`` threads, as a user runs it; the
  wall time includes Snakemake's planning, the same for every shard count;
* library: the shard jobs one after the other, then the gathering job, in this process
  (biomedclf.data.shards), so no interpreter start-up: what sharding costs the code itself
  (indexing once per shard, writing and reading the parts).

An untimed library pass on 40 images loads torch and the decoders first; with ``--repeats``
the shard counts take turns and the best round of each is kept. The 1-minute load is
recorded: on a shared machine other work slows every figure.

On one machine the shards share its cores, so sharding cannot gain here: the figures show its
overhead, which a cluster pays once per shard while the decoding spreads over the machines.
Every shard count must give the cache of one job, byte for byte (checked). ``run.py --parts
prepare_shards`` runs it as part of the suite.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # the suite's modules, then tests/ (repo_copy, helpers)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

log = logging.getLogger(__name__)
SHARD_COUNTS = (1, 2, 4)
#: The cache and tables compared across shard counts (summary.json differs in its timings).
COMPARED = ("train.pt", "val.pt", "test.pt", "manifest.csv", "rejected.csv")


def _study(name: str, root: Path, image_size: int, shards: int, threads: int) -> dict:
    """A study on the folder with ``shards`` decoding jobs (only its data cache is built)."""
    return {
        "name": name,
        "data": {"source": "folder", "path": str(root), "image_size": image_size, "shards": shards},
        "resources": {"prepare_threads": threads},
        "training": {"epochs": 1, "seeds": [0], "device": "cpu"},
        "replace_defaults": ["variants", "comparisons"],
        "variants": {"ann": {"model": "linear"}},
        "comparisons": {},
    }


def workflow_pass(
    repo: Path, root: Path, image_size: int, shards: int, cores: int, threads: int
) -> dict[str, Any]:
    """snakemake up to the data cache with ``shards`` shards; wall time and the jobs' own."""
    from workflow_helpers import snakemake

    from biomedclf import layout

    name = f"shards{shards}"
    (repo / f"{name}.yaml").write_text(json.dumps(_study(name, root, image_size, shards, threads)))
    target = layout.data_file(Path("results") / name, "summary")
    t0 = time.perf_counter()
    snakemake(repo, str(target), "--cores", str(cores), "--configfile", f"{name}.yaml")
    wall = time.perf_counter() - t0
    summary = json.loads((repo / target).read_text())
    n = int(summary["n_files"])
    return {
        "shards": shards,
        "files": n,
        "wall_seconds": wall,
        "images_per_second": n / wall,
        "prepare_job_seconds": summary["seconds"],
        "decode_seconds": summary["decode_seconds"],
        "data": repo / "results" / name / "data",
    }


def library_pass(root: Path, out: Path, image_size: int, shards: int, threads: int) -> dict:
    """The shard jobs, then the gathering job, in this process (one job when ``shards`` is 1)."""
    from config_helpers import data_config, data_files

    from biomedclf import layout
    from biomedclf.data.shards import prepare_from_parts, prepare_shard, shard_settings

    cfg = data_config(source="folder", path=str(root), image_size=image_size)
    parts = [layout.shard_files(out / "parts", i) for i in range(shards)] if shards > 1 else []
    t0 = time.perf_counter()
    for i, files in enumerate(parts):
        prepare_shard(shard_settings(cfg), i, shards, files, threads=threads)
    t1 = time.perf_counter()
    summary = prepare_from_parts(cfg, data_files(out / "data"), parts, threads=threads)
    seconds = time.perf_counter() - t0
    shutil.rmtree(out / "parts", ignore_errors=True)
    n = int(summary["n_files"])
    return {
        "shards": shards,
        "files": n,
        "seconds": seconds,
        "shard_jobs_seconds": t1 - t0,
        "gather_seconds": seconds - (t1 - t0),
        "images_per_second": n / seconds,
        "data": out / "data",
    }


def _same_cache(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in COMPARED)


def markdown(result: dict[str, Any]) -> str:
    """The Markdown table: images/s by shard count, and the time relative to one job."""
    wf, lib = result["workflow"], result["library"]
    lines = [
        "| shards | workflow wall s | workflow images/s | vs 1 shard | library s | library "
        "images/s | of which shard jobs s | gather s | same cache |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for w, li in zip(wf, lib):
        lines.append(
            f"| {w['shards']} | {w['wall_seconds']:.1f} | {w['images_per_second']:.0f} "
            f"| {w['wall_seconds'] / wf[0]['wall_seconds']:.2f}x | {li['seconds']:.1f} "
            f"| {li['images_per_second']:.0f} | {li['shard_jobs_seconds']:.1f} "
            f"| {li['gather_seconds']:.1f} | {'yes' if w['same_cache'] else 'NO'} |"
        )
    f = result["folder"]
    lines += [
        "",
        f"{f['images']:,} images (~{f['side']} px JPEG/PNG, {f['mb']} MB) to {result['image_size']}"
        f" px, {result['threads']} decode threads per job, snakemake --cores {result['cores']};"
        f" best of {result['repeats']} round(s); 1-minute load during the runs: "
        + ", ".join(map(str, result["load_1min"]))
        + ".",
    ]
    return "\n".join(lines) + "\n"


def _best(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return min(rows, key=lambda r: r[key])


def run(
    work: Path,
    n_images: int = 3000,
    side: int = 320,
    image_size: int = 224,
    shard_counts: tuple[int, ...] = SHARD_COUNTS,
    cores: int = 2,
    threads: int = 2,
    repeats: int = 1,
) -> dict[str, Any]:
    """The suite part: per round, one workflow pass and one library pass per shard count (the
    counts interleaved, so that a busy spell of a shared machine hits them alike); the best
    of ``repeats`` rounds of each. Torch and the decoders are loaded by an untimed pass first."""
    import machine
    import preparation
    from repo_copy import copy_repo

    work.mkdir(parents=True, exist_ok=True)
    root = work / "images"
    made = preparation.make_folder(root, n_images, side)
    for f in root.rglob("*"):  # every file in the page cache, for every shard count alike
        if f.is_file():
            f.read_bytes()
    repo = copy_repo(work / "repo")
    logging.getLogger("biomedclf").setLevel(logging.WARNING)
    warm = work / "warm"
    preparation.make_folder(warm / "images", 40, side)
    library_pass(warm / "images", warm / "out", image_size, 2, threads)
    rounds: dict[int, dict[str, list]] = {n: {"workflow": [], "library": []} for n in shard_counts}
    load = [machine.load_average()]
    for _ in range(repeats):
        for shards in shard_counts:
            shutil.rmtree(repo / "results" / f"shards{shards}", ignore_errors=True)
            shutil.rmtree(work / f"lib{shards}", ignore_errors=True)
            wf = workflow_pass(repo, root, image_size, shards, cores, threads)
            lib = library_pass(root, work / f"lib{shards}", image_size, shards, threads)
            rounds[shards]["workflow"].append(wf)
            rounds[shards]["library"].append(lib)
            log.info(
                "%d shard(s): workflow %.1f s (%.0f images/s), library %.1f s (%.0f images/s)",
                shards,
                wf["wall_seconds"],
                wf["images_per_second"],
                lib["seconds"],
                lib["images_per_second"],
            )
            load.append(machine.load_average())
    logging.getLogger("biomedclf").setLevel(logging.NOTSET)
    workflow = [_best(rounds[n]["workflow"], "wall_seconds") for n in shard_counts]
    library = [_best(rounds[n]["library"], "seconds") for n in shard_counts]
    one_job = workflow[0]["data"]
    for row in workflow + library:
        row["same_cache"] = _same_cache(one_job, row.pop("data"))
    result = {
        "folder": made,
        "image_size": image_size,
        "cores": cores,
        "threads": threads,
        "repeats": repeats,
        "load_1min": [round(x[0], 2) for x in load],
        "workflow": workflow,
        "library": library,
        "passed": all(r["same_cache"] for r in workflow + library),
    }
    result["markdown"] = markdown(result)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=3000, help="generated images (3000)")
    p.add_argument("--side", type=int, default=320, help="their side in px (320, +-10 %%)")
    p.add_argument("--image-size", type=int, default=224, help="data.image_size (224)")
    p.add_argument("--shards", default="1,2,4", help="comma-separated shard counts (1,2,4)")
    p.add_argument("--cores", type=int, default=2, help="snakemake --cores (2)")
    p.add_argument("--threads", type=int, default=2, help="resources.prepare_threads (2)")
    p.add_argument("--repeats", type=int, default=1, help="rounds; the best of each is kept (1)")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: temporary)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    counts = tuple(int(s) for s in args.shards.split(",") if s.strip())
    work = args.work or Path(tempfile.mkdtemp(prefix="biomedclf-shards-"))
    try:
        result = run(
            work,
            args.images,
            args.side,
            args.image_size,
            counts,
            args.cores,
            args.threads,
            args.repeats,
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(result["markdown"])
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
