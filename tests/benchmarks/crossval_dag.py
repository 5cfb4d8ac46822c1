"""Dry-run time of cross-validated studies: ``snakemake -n`` from 100 to 1,000 training jobs.

    python tests/benchmarks/crossval_dag.py [--reps 3] [--work DIR]

Each study has 5 folds and ``variants x seeds`` growing from 2 x 10 (100 training jobs) to
20 x 10 (1,000 training jobs, with 200 crossval jobs and the aggregates), on the small
synthetic source of overhead.py's DAG benchmark. The time is the whole command, as a user
waits for it: interpreter start, parsing, config validation, code digests, DAG and job list.
Prints a Markdown table of the median of ``--reps`` runs per size, the seconds per 100
training jobs, and the growth from the smallest to the largest study against linear growth.
Target (issue 13): under 10 s for 1,000 training jobs on 2 cores, no worse than linear.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: repo_copy
sys.path.insert(0, str(Path(__file__).resolve().parent))  # overhead.py
from overhead import dag_config, job_counts, smk  # noqa: E402
from repo_copy import copy_repo  # noqa: E402

FOLDS, SEEDS = 5, 10
SIZES = (2, 5, 10, 20)  # variants: 100, 250, 500 and 1,000 training jobs


def crossval_config(n_variants: int) -> dict[str, Any]:
    cfg = dag_config(n_variants, SEEDS)
    cfg["name"] = f"bench_cv{n_variants}"
    cfg["replace_defaults"] = ["variants", "comparisons"]
    cfg["data"]["split"]["folds"] = FOLDS
    return cfg


def dry_run(repo: Path, n_variants: int, reps: int) -> dict[str, Any]:
    cfg = repo / f"bench_cv{n_variants}.yaml"
    cfg.write_text(yaml.safe_dump(crossval_config(n_variants), sort_keys=False))
    times, counts = [], {}
    for _ in range(reps):
        seconds, proc = smk(repo, "-n", "--cores", "2", "--configfile", cfg.name)
        times.append(seconds)
        counts = job_counts(proc.stdout + proc.stderr)
    return {
        "variants": n_variants,
        "train_jobs": counts.get("train"),
        "total_jobs": counts.get("total"),
        "seconds": sorted(times)[len(times) // 2],
        "all_seconds": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="cvdag_"))
    repo = copy_repo(work / "repo")
    rows = [dry_run(repo, n, args.reps) for n in SIZES]
    print(
        "| Variants x folds x seeds | Training jobs | Jobs in all | Dry run (median) | "
        "Seconds per 100 training jobs | Runs |"
    )
    print("| :--- | ---: | ---: | ---: | ---: | :--- |")
    for r in rows:
        runs = ", ".join(f"{t:.2f}" for t in r["all_seconds"])
        print(
            f"| {r['variants']} x {FOLDS} x {SEEDS} | {r['train_jobs']} | {r['total_jobs']} | "
            f"{r['seconds']:.2f} s | {100 * r['seconds'] / r['train_jobs']:.2f} | {runs} |"
        )
    small, large = rows[0], rows[-1]
    jobs_ratio = large["train_jobs"] / small["train_jobs"]
    time_ratio = large["seconds"] / small["seconds"]
    print(
        f"\nFrom {small['train_jobs']} to {large['train_jobs']} training jobs ({jobs_ratio:.0f}x): "
        f"the dry run took {time_ratio:.2f}x as long (linear growth would be {jobs_ratio:.0f}x)."
    )
    verdict = "PASS" if large["seconds"] < 10 and time_ratio <= jobs_ratio else "FAIL"
    print(
        f"Target: under 10 s for {large['train_jobs']} training jobs, no worse than linear: "
        f"{verdict} ({large['seconds']:.2f} s)"
    )


if __name__ == "__main__":
    main()
