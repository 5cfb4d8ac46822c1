"""Planning cost (issue 24): every aggregate job names one file per run, the run's metrics.json
(from dry runs of fixed-split, cross-validated, swept and multi-label studies), and the run's
other files it reads still rerun it: a missing history.csv, train.json or predictions.csv
reruns the run's chain down to the aggregates (in the finished smoke study)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import SMOKE, job_inputs, jobs_of, snakemake

pytestmark = pytest.mark.workflow

CONFIG = "planning_study.yaml"

#: The rules of the aggregate jobs, which read the files of every run (of a comparison).
AGGREGATES = {"stats", "study_tables", "study_figures", "summary"}
COMPARISON_AGGREGATES = {"comparison_tables", "comparison_figures"}
MULTILABEL_AGGREGATES = {"multilabel_stats", "multilabel_report"}

#: The smoke study plus a sweep, whose chosen point is the study variant l2.selected.
SWEEP = {"l2": {"base": "cnn", "grid": {"weight_decay": [0.01, 0]}, "sweep_seeds": [0]}}


def _study(repo: Path, kind: str) -> dict:
    """The config of ``kind``: the smoke study with a sweep (``fixed``), with three folds
    (``folds``), or the multi-label preset with the smoke study's sizes (``multilabel``)."""
    smoke = yaml.safe_load((repo / SMOKE).read_text())
    if kind == "multilabel":
        config = yaml.safe_load((repo / "configs" / "multilabel.yaml").read_text())
        config["data"]["synthetic"]["n_per_class"] = 40
        config["training"].update(epochs=1, seeds=[0, 1], device="cpu")
        return config
    smoke["sweeps"] = json.loads(json.dumps(SWEEP))
    if kind == "folds":
        smoke["data"]["split"]["folds"] = 3
    return smoke


def _run_files(inputs: list[str], study: str) -> list[str]:
    """The inputs that are a run's files (in the study's train/ or eval/ folders)."""
    return [f for f in inputs if f.startswith((f"{study}/train/", f"{study}/eval/"))]


def _metrics(study: str, variants: list[str], seeds: list[int]) -> list[str]:
    return [f"{study}/eval/{v}/seed{s}/metrics.json" for v in variants for s in seeds]


@pytest.mark.parametrize("kind", ["fixed", "folds", "multilabel"])
def test_aggregates_name_each_runs_metrics_alone(tmp_path: Path, kind: str) -> None:
    repo = copy_repo(tmp_path / "repo")
    config = _study(repo, kind)
    (repo / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    out = snakemake(repo, "--dry-run", "--cores", "2", "--configfile", CONFIG)
    listing = out.stdout + out.stderr
    study = f"results/{config['name']}"
    variants = [*config["variants"], *(f"{s}.selected" for s in config.get("sweeps", {}))]
    seeds = config["training"]["seeds"]
    rules = MULTILABEL_AGGREGATES if kind == "multilabel" else AGGREGATES
    for rule in rules:
        (inputs,) = job_inputs(listing, rule)
        assert _run_files(inputs, study) == _metrics(study, variants, seeds), rule
    members = {
        tuple(_metrics(study, [c["baseline"], *c["variants"]], seeds))
        for c in config["comparisons"].values()
    }
    for rule in () if kind == "multilabel" else COMPARISON_AGGREGATES:
        jobs = job_inputs(listing, rule)
        assert {tuple(_run_files(inputs, study)) for inputs in jobs} == members, rule


@pytest.mark.parametrize(
    ("folder", "name", "retrained"),
    [
        ("train", "history.csv", True),
        ("train", "train.json", True),
        ("eval", "predictions.csv", False),
    ],
)
def test_a_missing_run_file_is_named_with_the_command_that_reruns_its_chain(
    smoke_study: Path, folder: str, name: str, retrained: bool
) -> None:
    """No aggregate names history.csv or predictions.csv (train.json: the evaluation job
    does), so Snakemake would not see them deleted: the dry run warns and gives the command,
    which reruns the run's jobs and every aggregate (each reads stats.json), and no other
    run."""
    relative = Path("results") / "smoke" / folder / "gap" / "seed1" / name
    path = smoke_study / relative
    aside = path.with_name(name + ".aside")
    os.rename(path, aside)  # rename keeps the modification time
    try:
        warned = snakemake(smoke_study, "--dry-run", "--cores", "2", "--configfile", SMOKE)
        forced = snakemake(
            smoke_study,
            "--dry-run",
            "--forcerun",
            str(relative),
            "--cores",
            "2",
            "--configfile",
            SMOKE,
        )
    finally:
        os.rename(aside, path)
    text = warned.stdout + warned.stderr
    assert f"{relative} is missing" in text and f"snakemake --forcerun {relative}" in text
    jobs = jobs_of(forced.stdout + forced.stderr)
    run = {("evaluate", "variant=gap, seed=1"), ("train", "variant=gap, seed=1")}
    runs = {(r, w) for r, w in jobs if r in ("train", "evaluate")}
    assert runs == (run if retrained else {("evaluate", "variant=gap, seed=1")})
    rules = {r for r, _ in jobs}
    assert rules >= AGGREGATES | COMPARISON_AGGREGATES, rules
