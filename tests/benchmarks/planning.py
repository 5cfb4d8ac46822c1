"""Planning many jobs: ``snakemake -n`` of studies with 100, 1,000 and 5,000 training jobs.

    python tests/benchmarks/planning.py [--sizes 100,1000,5000] [--reps 1] [--profile 25]
        [--work DIR] [--source DIR]

Each study is 20 variants (overhead.py's DAG benchmark: the six kinds of the default study,
round robin) x N/20 seeds on the small synthetic source, one comparison of the first variant
with the others: with evaluation, saliency maps and the aggregates about 2.1 jobs per
training job. The time is the whole command, as a user waits for it: interpreter start,
parsing, config validation, code digests, the DAG and the dry run's job list. Prints the
median of ``--reps`` runs per size and the job counts; the target (issue 24) is under 10 s
for 1,000 training jobs.

``--profile N`` also runs the 1,000-job dry run once under cProfile (``python -m cProfile``)
and prints its top N entries by cumulative and by own time. ``--source`` copies another
working tree (e.g. a checkout of an older commit, to compare); default: this one.
"""

from __future__ import annotations

import argparse
import io
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: repo_copy
sys.path.insert(0, str(Path(__file__).resolve().parent))  # overhead.py
import repo_copy  # noqa: E402
from overhead import dag_config, job_counts, smk  # noqa: E402

VARIANTS = 20
TARGET_JOBS, TARGET_SECONDS = 1000, 10.0


def planning_config(train_jobs: int) -> dict[str, Any]:
    """A study of :data:`VARIANTS` variants x ``train_jobs / VARIANTS`` seeds."""
    cfg = dag_config(VARIANTS, max(1, train_jobs // VARIANTS))
    cfg["name"] = f"bench_plan{train_jobs}"
    cfg["replace_defaults"] = ["variants", "comparisons"]  # config.yaml's are not merged in
    return cfg


def child_cpu() -> float:
    """User and system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run(repo: Path, config: str, reps: int) -> dict[str, Any]:
    """Wall seconds of ``snakemake -n`` (median of ``reps``), its CPU seconds (less sensitive
    to other load on a shared machine) and the job counts."""
    times, cpu, counts = [], [], {}
    for _ in range(reps):
        before = child_cpu()
        seconds, proc = smk(repo, "-n", "--cores", "2", "--configfile", config)
        times.append(seconds)
        cpu.append(child_cpu() - before)
        counts = job_counts(proc.stdout + proc.stderr)
    return {
        "train_jobs": counts.get("train"),
        "total_jobs": counts.get("total"),
        "seconds": sorted(times)[len(times) // 2],
        "all_seconds": times,
        "cpu_seconds": sorted(cpu)[len(cpu) // 2],
    }


def profile(repo: Path, config: str, top: int) -> str:
    """The dry run under cProfile: its top ``top`` entries by cumulative and by own time."""
    out = repo / "planning.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "snakemake"]
    subprocess.run(
        [*cmd, "-n", "--cores", "2", "--configfile", config],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text).strip_dirs()
    for key in ("cumulative", "tottime"):
        text.write(f"\n--- top {top} by {key} ---\n")
        stats.sort_stats(key).print_stats(top)
    return text.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="training jobs per study")
    parser.add_argument("--reps", type=int, default=1, help="dry runs per size (median)")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of cProfile")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--source", type=Path, default=None, help="working tree to copy")
    args = parser.parse_args()
    if args.source is not None:
        repo_copy.ROOT = args.source.resolve()
    work = args.work or Path(tempfile.mkdtemp(prefix="planning_"))
    repo = repo_copy.copy_repo(work / "repo")
    configs = {}
    for size in (int(s) for s in args.sizes.split(",")):
        configs[size] = f"bench_plan{size}.yaml"
        (repo / configs[size]).write_text(yaml.safe_dump(planning_config(size), sort_keys=False))
    for size, config in configs.items():
        t0 = time.perf_counter()
        got = dry_run(repo, config, args.reps)
        runs = ", ".join(f"{t:.2f}" for t in got["all_seconds"])
        print(
            f"{got['train_jobs']} training jobs, {got['total_jobs']} in all: dry run "
            f"{got['seconds']:.2f} s, {got['cpu_seconds']:.2f} s CPU (runs: {runs}; "
            f"{time.perf_counter() - t0:.0f} s here)",
            flush=True,
        )
        if size == TARGET_JOBS:
            verdict = "PASS" if got["seconds"] < TARGET_SECONDS else "FAIL"
            print(f"Target: {TARGET_JOBS} training jobs under {TARGET_SECONDS:.0f} s: {verdict}")
    if args.profile:
        size = TARGET_JOBS if TARGET_JOBS in configs else next(iter(configs))
        config = configs[size]
        print(f"cProfile of the dry run of {size} training jobs:")
        print(profile(repo, config, args.profile))


if __name__ == "__main__":
    main()
