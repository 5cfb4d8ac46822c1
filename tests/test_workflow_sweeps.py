"""Sweeps end to end on a tiny synthetic study: the selection job's inputs hold no test file
(fixed split and folds, from dry runs), the chosen point becomes the variant l2.selected
(copied for a seed the points trained with, trained for another), reordering a grid's values
reruns nothing, adding a value trains exactly the new point, and an edit to a sweep script
reruns its rule and what reads it, never training."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import edited, job_inputs, planned_jobs, snakemake

pytestmark = pytest.mark.workflow

CONFIG = "sweep_study.yaml"

#: Two seeds for the study, one for the points: seed 1 of l2.selected is trained afresh.
STUDY = {
    "name": "sweep_study",
    "replace_defaults": ["variants", "comparisons"],
    "data": {
        "source": "synthetic",
        "image_size": 16,
        "split": {"val": 0.25, "test": 0.25, "seed": 0},
        "synthetic": {"n_per_class": 24, "difficulty": 0.3, "seed": 0},
    },
    "training": {"epochs": 1, "batch_size": 16, "seeds": [0, 1], "device": "cpu"},
    "variants": {"cnn": {"model": "conv"}},
    "sweeps": {
        "l2": {"base": "cnn", "grid": {"weight_decay": [0.01, 0]}, "sweep_seeds": [0]},
    },
    "comparisons": {"l2": {"baseline": "cnn", "variants": ["l2.selected"]}},
    "statistics": {"n_bootstrap": 200},
    "resources": {"prepare_threads": 1},
}

#: What a selection job may read: the training runs' files that hold no test number, and
#: scores.csv, whose test rows it skips unread (tests/test_sweeps_select.py).
ALLOWED = {"scores.csv", "history.csv", "train.json"}


def _write(repo: Path, config: dict) -> None:
    (repo / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def sweep_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository in which the tiny sweep study has run."""
    repo = copy_repo(tmp_path_factory.mktemp("sweeps") / "repo")
    _write(repo, STUDY)
    snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo


@pytest.mark.parametrize("folds", [None, 3])
def test_the_selection_job_reads_no_test_file(tmp_path: Path, folds: int | None) -> None:
    repo = copy_repo(tmp_path / "repo")
    config = json.loads(json.dumps(STUDY))
    config["data"]["split"]["folds"] = folds
    config["sweeps"]["l2"]["grid"]["weight_decay"] = [0, 0.001, 0.01]
    _write(repo, config)
    proc = snakemake(repo, "--dry-run", "--cores", "2", "--configfile", CONFIG)
    (inputs,) = job_inputs(proc.stdout + proc.stderr, "sweep_select")
    assert len(inputs) == 3 * 1 * (folds or 1) * len(ALLOWED)  # points x seeds x folds x files
    assert {Path(f).name for f in inputs} == ALLOWED
    assert all("/train/l2[weight_decay=" in f for f in inputs), inputs
    if folds:  # each fold's own run (its inner validation part), never the combined run
        assert all(re.search(r"/fold\d+/seed0/", f) for f in inputs), inputs


def test_the_sweep_and_its_chosen_point(sweep_repo: Path) -> None:
    study = sweep_repo / "results" / "sweep_study"
    with (study / "sweeps" / "l2.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["point"] for r in rows] == ["l2[weight_decay=0]", "l2[weight_decay=0.01]"]
    assert [r["chosen"] for r in rows].count("yes") == 1
    chosen = json.loads((study / "sweeps" / "l2.json").read_text())["selected"]
    copied = json.loads((study / "train" / "l2.selected" / "seed0" / "train.json").read_text())
    trained = json.loads((study / "train" / "l2.selected" / "seed1" / "train.json").read_text())
    assert copied["variant"] == trained["variant"] == "l2.selected"
    assert copied["sweep_point"] == chosen and "sweep_point" not in trained
    assert (study / "figures" / "sweep_l2.png").stat().st_size > 10_000
    summary = (study / "summary.md").read_text()
    assert "### Sweep `l2`: weight_decay of `cnn`" in summary and "Final estimate" in summary
    assert "l2.selected vs cnn" in summary
    assert not (study / "eval" / "l2[weight_decay=0]").exists()  # points need no evaluation


def test_reordering_values_reruns_nothing(sweep_repo: Path) -> None:
    config = json.loads(json.dumps(STUDY))
    config["sweeps"]["l2"]["grid"]["weight_decay"] = [0.0, 1e-2]
    with edited(sweep_repo / CONFIG, yaml.safe_dump(config)):
        assert not planned_jobs(sweep_repo, CONFIG)


def test_adding_a_value_trains_only_the_new_point(sweep_repo: Path) -> None:
    config = json.loads(json.dumps(STUDY))
    config["sweeps"]["l2"]["grid"]["weight_decay"] = [0.01, 0, 0.001]
    with edited(sweep_repo / CONFIG, yaml.safe_dump(config)):
        jobs = planned_jobs(sweep_repo, CONFIG)
    trained = {w for rule, w in jobs if rule == "train"}
    assert trained == {"variant=l2[weight_decay=0.001], seed=0"}


#: Each sweep script, the rules that must rerun when it changes and those that must not.
SWEEP_SCRIPTS = {
    "sweep_select.py": ({"sweep_select", "sweep_selected", "sweep_report", "summary"}, set()),
    "sweep_selected.py": ({"sweep_selected", "evaluate", "stats", "summary"}, {"sweep_select"}),
    "sweep_report.py": ({"sweep_report"}, {"sweep_select", "sweep_selected", "summary"}),
}


@pytest.mark.parametrize("script", sorted(SWEEP_SCRIPTS))
def test_a_sweep_script_edit_reruns_its_rule_and_what_reads_it(
    sweep_repo: Path, script: str
) -> None:
    path = sweep_repo / "workflow" / "scripts" / script
    stat = path.stat()
    with edited(path, path.read_text() + "\n# edited\n"):
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        planned = {rule for rule, _ in planned_jobs(sweep_repo, CONFIG)}
    rerun, kept = SWEEP_SCRIPTS[script]
    assert rerun <= planned, f"missing: {rerun - planned}"
    assert not planned & (kept | {"train", "prepare", "synthesize"}), planned
