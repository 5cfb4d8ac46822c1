"""Workflow overhead: DAG construction, a rerun with nothing to do, and a study's wall time
against its jobs' own time. Everything runs snakemake in a temporary copy of the repository."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from repo_copy import copy_repo  # tests/, on sys.path via run.py

log = logging.getLogger(__name__)

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def smk(repo: Path, *args: str, timeout: float = 3600) -> tuple[float, subprocess.CompletedProcess]:
    """Run snakemake in ``repo``; return (wall seconds, process). Raises on failure."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*SNAKEMAKE, *args], cwd=repo, capture_output=True, text=True, timeout=timeout
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"snakemake {' '.join(args)} failed in {repo} (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return seconds, proc


def job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table snakemake prints."""
    counts: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats"):
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
            if m:
                counts[m.group(1)] = int(m.group(2))
            elif counts and not line.strip():
                break
    return counts


def dag_config(n_variants: int, n_seeds: int) -> dict[str, Any]:
    """A study of ``n_variants`` x ``n_seeds`` training jobs on a small synthetic source."""
    kinds = [
        {"model": "linear"},
        {"model": "conv"},
        {"model": "conv", "dropout": 0.5},
        {"model": "conv", "weight_decay": 0.01},
        {"model": "conv_gap"},
        {"model": "conv_gap", "width": 16, "batch_norm": True, "dropout": 0.3},
    ]
    variants = {f"v{i:02d}": dict(kinds[i % len(kinds)]) for i in range(n_variants)}
    names = list(variants)
    return {
        "name": "bench_dag",
        "data": {
            "source": "synthetic",
            "image_size": 16,
            "split": {"val": 0.2, "test": 0.25, "seed": 0},
            "synthetic": {"n_per_class": 40, "difficulty": 0.3, "seed": 0},
        },
        "training": {"epochs": 1, "batch_size": 16, "seeds": list(range(n_seeds)), "device": "cpu"},
        "variants": variants,
        "comparisons": {"first_vs_rest": {"baseline": names[0], "variants": names[1:]}},
    }


def dag_time(repo: Path, n_variants: int, n_seeds: int, reps: int) -> dict[str, Any]:
    """Wall time of ``snakemake -n`` (the whole command: interpreter, parsing, DAG, job list)."""
    cfg = repo / "bench_dag.yaml"
    cfg.write_text(yaml.safe_dump(dag_config(n_variants, n_seeds), sort_keys=False))
    times, counts = [], {}
    for _ in range(reps):
        seconds, proc = smk(repo, "-n", "--cores", "2", "--configfile", cfg.name)
        times.append(seconds)
        counts = job_counts(proc.stdout + proc.stderr)
    return {
        "variants": n_variants,
        "seeds": n_seeds,
        "train_jobs": counts.get("train"),
        "total_jobs": counts.get("total"),
        "seconds": sorted(times)[len(times) // 2],
        "all_seconds": times,
    }


def run_metadata(repo: Path) -> list[dict[str, Any]]:
    """One record per finished job from snakemake's metadata (.snakemake/metadata): rule,
    start and end time. Snakemake keeps a record per output file (start: when the job marked
    it incomplete; end: the file's mtime); the records of one job share its job_hash, so a
    job runs from its earliest start to its latest end."""
    jobs: dict[tuple[Any, Any], dict[str, Any]] = {}
    meta = repo / ".snakemake" / "metadata"
    for f in meta.rglob("*"):
        if not f.is_file():
            continue
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("starttime") is None or rec.get("endtime") is None:
            continue
        key = (rec.get("rule"), rec.get("job_hash") or round(rec["starttime"], 1))
        job = jobs.setdefault(
            key,
            {
                "rule": rec.get("rule"),
                "start": rec["starttime"],
                "end": rec["endtime"],
                "outputs": 0,
            },
        )
        job["start"] = min(job["start"], rec["starttime"])
        job["end"] = max(job["end"], rec["endtime"])
        job["outputs"] += 1
    return list(jobs.values())


def study_time(repo: Path, config_args: list[str], study: str, cores: int) -> dict[str, Any]:
    """Run a study from scratch; compare its wall time with its jobs' own times.

    Jobs' own time is given two ways: the sum of train.json ``train_seconds`` (training loops
    only: the figure the issue names), and the sum of every job's wall time (start to end of
    the job as snakemake's metadata records it: interpreter start-up, imports, I/O included).
    """
    wall, _ = smk(repo, "--cores", str(cores), *config_args)
    train_seconds = 0.0
    n_train = 0
    threads = set()
    for f in (repo / "results" / study / "train").glob("*/seed*/train.json"):
        info = json.loads(f.read_text())
        train_seconds += float(info["train_seconds"])
        threads.add(info["threads"])
        n_train += 1
    jobs = run_metadata(repo)
    job_seconds = sum(j["end"] - j["start"] for j in jobs)
    by_rule: dict[str, dict[str, float]] = {}
    for j in jobs:
        r = by_rule.setdefault(j["rule"], {"jobs": 0, "seconds": 0.0})
        r["jobs"] += 1
        r["seconds"] += j["end"] - j["start"]
    train_job_seconds = by_rule.get("train", {}).get("seconds", 0.0)
    return {
        "study": study,
        "cores": cores,
        "train_threads": sorted(threads),
        "wall_seconds": wall,
        "train_jobs": n_train,
        "sum_train_seconds": train_seconds,
        "ratio_wall_to_train_seconds": wall / train_seconds if train_seconds else None,
        "jobs": len(jobs),
        "sum_job_seconds": job_seconds,
        "ratio_wall_to_job_seconds": wall / job_seconds if job_seconds else None,
        "train_job_seconds": train_job_seconds,
        "train_startup_share": (
            1 - train_seconds / train_job_seconds if train_job_seconds else None
        ),
        "busy_fraction": job_seconds / (cores * wall) if wall else None,
        "by_rule": by_rule,
    }


def rerun_time(repo: Path, config_args: list[str], cores: int, reps: int) -> dict[str, Any]:
    """Wall time of ``snakemake --cores N`` on a finished study (nothing to do)."""
    times = []
    for _ in range(reps):
        seconds, proc = smk(repo, "--cores", str(cores), *config_args)
        out = proc.stdout + proc.stderr
        if "Nothing to be done" not in out:
            raise RuntimeError(
                f"expected a no-op rerun in {repo}, but snakemake ran jobs:\n{out[-2000:]}"
            )
        times.append(seconds)
    return {"seconds": sorted(times)[len(times) // 2], "all_seconds": times}


def run(work: Path, quick: bool, cores: int = 2) -> dict[str, Any]:
    """Part 4 of the suite."""
    reps = 1 if quick else 5  # median of 5: one snakemake start varies by +-0.5 s here
    repo = copy_repo(work / "repo_dag")
    dag = dag_time(repo, 10, 5, reps)
    log.info(
        "DAG of %s train jobs (%s in all): %.2f s",
        dag["train_jobs"],
        dag["total_jobs"],
        dag["seconds"],
    )

    repo = copy_repo(work / "repo_smoke")
    smoke_args = ["--configfile", "configs/smoke.yaml"]
    smoke = study_time(repo, smoke_args, "smoke", cores)
    rerun = rerun_time(repo, smoke_args, cores, reps)
    log.info("smoke study %.1f s; no-change rerun %.2f s", smoke["wall_seconds"], rerun["seconds"])
    result: dict[str, Any] = {"dag": dag, "smoke_study": smoke, "rerun_nothing_to_do": rerun}
    if quick:
        result["default_study"] = None
        result["default_study_skipped"] = "--quick: the default study is not run"
    else:
        repo = copy_repo(work / "repo_default")
        result["default_study"] = study_time(repo, [], "demo", cores)
        d = result["default_study"]
        log.info(
            "default study %.1f s wall; sum of train seconds %.1f; sum of job seconds %.1f",
            d["wall_seconds"],
            d["sum_train_seconds"],
            d["sum_job_seconds"],
        )
    return result
