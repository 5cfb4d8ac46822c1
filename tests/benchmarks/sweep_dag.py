"""Dry-run time of a 200-point sweep with 3 seeds: ``snakemake -n`` of 600 training jobs.

    python tests/benchmarks/sweep_dag.py [--reps 3] [--work DIR]

One sweep of 20 weight decays x 10 dropout rates on a plain CNN, 3 seeds, a comparison of the
chosen point with the CNN, on the small synthetic source of overhead.py's DAG benchmark. The
time is the whole command, as a user waits for it: interpreter start, parsing, config
validation, the sweep's expansion, code digests, DAG and job list. Prints the median of
``--reps`` runs and the job counts. Target (issue 25): under 10 s.
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

WEIGHT_DECAYS = [0, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
WEIGHT_DECAYS += [0.03, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
DROPOUTS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SEEDS = [0, 1, 2]


def sweep_config() -> dict[str, Any]:
    cfg = dag_config(1, len(SEEDS))
    cfg["name"] = "bench_sweep"
    cfg["replace_defaults"] = ["variants", "comparisons", "sweeps"]
    cfg["variants"] = {"cnn": {"model": "conv"}}
    grid = {"weight_decay": WEIGHT_DECAYS, "dropout": DROPOUTS}
    cfg["sweeps"] = {"reg": {"base": "cnn", "grid": grid}}
    cfg["comparisons"] = {"reg": {"baseline": "cnn", "variants": ["reg.selected"]}}
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sweepdag_"))
    repo = copy_repo(work / "repo")
    (repo / "bench_sweep.yaml").write_text(yaml.safe_dump(sweep_config(), sort_keys=False))
    times, counts = [], {}
    for _ in range(args.reps):
        seconds, proc = smk(repo, "-n", "--cores", "2", "--configfile", "bench_sweep.yaml")
        times.append(seconds)
        counts = job_counts(proc.stdout + proc.stderr)
    median = sorted(times)[len(times) // 2]
    print(
        f"{len(WEIGHT_DECAYS) * len(DROPOUTS)} points x {len(SEEDS)} seeds: "
        f"{counts.get('train')} training jobs, {counts.get('total')} in all; dry run "
        f"{median:.2f} s (median of {', '.join(f'{t:.2f}' for t in times)})"
    )
    print(f"Target: under 10 s: {'PASS' if median < 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
