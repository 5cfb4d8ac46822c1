"""Tracking end to end: the smoke study with MLflow (a real server on localhost) and
TensorBoard, read back with their own readers, against the session's untracked smoke study.

- turning tracking on in a finished study reruns nothing;
- a tracked study's per-run results are those of the untracked one (history.csv but its
  seconds column, metrics.json, predictions.csv, scores.csv), and MLflow holds one parent
  run with one child per training job: params, every epoch, test metrics, model.pt and
  history.csv, and stats.json, summary.md and every figure on the parent;
- a rerun of a training job replaces its run;
- with the server down, every rerun job logs one tracking warning, the study finishes and
  its results are still the untracked ones.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml
from mlflow_server import closed_port, mlflow_server
from repo_copy import copy_repo
from workflow_helpers import SMOKE, jobs_of, smoke_config, snakemake

pytestmark = pytest.mark.workflow

EXPERIMENT = "smoke-tracking"
TRACKING_FILE = "tracking.yaml"


def with_tracking(repo: Path, uri: str) -> None:
    """Write the config file that turns MLflow (at ``uri``) and TensorBoard on."""
    tracking = {"mlflow": {"uri": uri, "experiment": EXPERIMENT}, "tensorboard": True}
    (repo / TRACKING_FILE).write_text(yaml.safe_dump({"tracking": tracking}))


def run_tracked(repo: Path, *args: str) -> None:
    snakemake(repo, *args, "--cores", "2", "--configfile", SMOKE, TRACKING_FILE)


def results(repo: Path) -> dict[str, object]:
    """Every run's results: history.csv without its seconds, and the other files' bytes."""
    study = repo / "results" / "smoke"
    found: dict[str, object] = {}
    for path in sorted(study.glob("train/*/seed*/history.csv")):
        with path.open() as fh:
            rows = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]
        found[str(path.relative_to(study))] = rows
    for pattern in ("eval/*/seed*/*.json", "eval/*/seed*/*.csv", "train/*/seed*/scores.csv"):
        for path in sorted(study.glob(pattern)):
            found[str(path.relative_to(study))] = path.read_bytes()
    return found


def tracking_warnings(repo: Path) -> dict[str, int]:
    """Per job log: how many tracking warnings it holds."""
    logs = sorted((repo / "logs" / "smoke").rglob("*.log"))
    pattern = re.compile(r" WARNING biomedclf\.tracking: ")
    return {str(p.relative_to(repo)): len(pattern.findall(p.read_text())) for p in logs}


def runs_by_job(uri: str) -> dict[str, object]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.study = 'smoke'")
    keys = [r.data.tags["biomedclf.job"] for r in runs]
    assert len(keys) == len(set(keys)), f"a job has two runs: {sorted(keys)}"
    return {r.data.tags["biomedclf.job"]: r for r in runs}


def test_turning_tracking_on_reruns_nothing(smoke_study: Path) -> None:
    with_tracking(smoke_study, closed_port())
    try:
        args = ("--dry-run", "--cores", "2", "--configfile", SMOKE, TRACKING_FILE)
        proc = snakemake(smoke_study, *args)
    finally:
        (smoke_study / TRACKING_FILE).unlink()
    assert not jobs_of(proc.stdout + proc.stderr)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_tracked_study_reports_every_run_and_changes_no_result(
    smoke_study: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    untracked = results(smoke_study)
    repo = copy_repo(tmp_path / "repo")
    cfg = smoke_config(repo)
    variants, seeds = list(cfg["variants"]), cfg["training"]["seeds"]
    epochs = cfg["training"]["epochs"]
    with mlflow_server(tmp_path / "mlflow") as uri:
        with_tracking(repo, uri)
        run_tracked(repo)
        assert results(repo) == untracked
        assert not any(tracking_warnings(repo).values())
        runs = runs_by_job(uri)
        expected = {f"train/{v}/seed{s}" for v in variants for s in seeds}
        assert set(runs) == expected | {"study"}
        parent = runs["study"].info.run_id
        client = MlflowClient(uri)
        for key in expected:
            run = runs[key]
            assert run.data.tags["mlflow.parentRunId"] == parent
            assert run.data.params["study"] == "smoke" and run.data.params["code"]
            assert "test/multiclass/accuracy" in run.data.metrics
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
            assert sorted(steps) == list(range(1, epochs + 1)), key
            assert {a.path for a in client.list_artifacts(run.info.run_id)} == {
                "model.pt", "history.csv"
            }  # fmt: skip
        figures = {p.name for p in (repo / "results" / "smoke" / "figures").glob("*.png")}
        attached = {a.path for a in client.list_artifacts(parent, "figures")}
        assert attached == {f"figures/{f}" for f in figures}
        assert {a.path for a in client.list_artifacts(parent)} >= {"summary.md", "stats"}
        events = EventAccumulator(str(repo / "results" / "smoke" / "tensorboard" / "cnn" / "seed1"))
        events.Reload()
        assert [e.step for e in events.Scalars("val_accuracy")] == list(range(1, epochs + 1))

        # a rerun of one training job replaces its run (and its evaluation adds to the new one)
        before = runs["train/cnn/seed0"].info.run_id
        run_tracked(repo, "--forcerun", "results/smoke/train/cnn/seed0/model.pt")
        after = runs_by_job(uri)
        assert set(after) == set(runs)
        assert after["train/cnn/seed0"].info.run_id != before
        assert "test/multiclass/accuracy" in after["train/cnn/seed0"].data.metrics

    # the server is gone: a rerun of one training job and everything after it logs one
    # tracking warning per job, the study finishes, and the results are the untracked ones
    with_tracking(repo, closed_port())
    run_tracked(repo, "--forcerun", "results/smoke/train/cnn/seed1/model.pt")
    assert results(repo) == untracked
    warned = tracking_warnings(repo)
    rerun = ["train/cnn/seed1", "eval/cnn/seed1", "stats", "summary", "figures/study"]
    assert all(warned[f"logs/smoke/{job}.log"] == 1 for job in rerun), warned
    assert all(n <= 1 for n in warned.values()), warned
