"""A run's files from the one file an aggregate rule names per run (its metrics.json):
:meth:`biomedclf.layout.RunFiles.from_metrics` finds the same files as
:meth:`~biomedclf.layout.RunFiles.of`, in the study folder the path is in."""

from __future__ import annotations

from pathlib import Path

import pytest

from biomedclf import layout
from biomedclf.layout import RunFiles


@pytest.mark.parametrize("study", ["results/smoke", "/abs/results/other study", "."])
def test_from_metrics_finds_the_runs_files_in_the_study_of_the_path(study: str) -> None:
    keys = [["cnn", 0], ["cnn", 1], ["l2.selected", "2"], ["l2[weight_decay=0.01]", 0]]
    metrics = [str(layout.eval_files(study, v, s)["metrics"]) for v, s in keys]
    runs = RunFiles.from_metrics(keys, metrics)
    assert runs == [RunFiles.of(study, v, s) for v, s in keys]
    first = runs[0]
    assert first.seed == 0 and runs[2].seed == 2  # seeds as numbers
    root = Path(study)
    assert first.history == root / "train" / "cnn" / "seed0" / "history.csv"
    assert first.train_json == root / "train" / "cnn" / "seed0" / "train.json"
    assert first.metrics == root / "eval" / "cnn" / "seed0" / "metrics.json"
    assert first.predictions == root / "eval" / "cnn" / "seed0" / "predictions.csv"


def test_from_metrics_takes_each_runs_study_folder() -> None:
    """Paths are taken as given: two runs in two folders stay apart."""
    keys = [["cnn", 0], ["cnn", 0]]
    metrics = [layout.eval_files(s, "cnn", 0)["metrics"] for s in ("a", "b")]
    runs = RunFiles.from_metrics(keys, metrics)
    assert [r.history.parts[0] for r in runs] == ["a", "b"]


@pytest.mark.parametrize(
    "path",
    [
        "results/smoke/eval/cnn/seed1/metrics.json",  # another seed's
        "results/smoke/eval/gap/seed0/metrics.json",  # another variant's
        "results/smoke/train/cnn/seed0/metrics.json",  # not the evaluation folder
        "results/smoke/eval/cnn/seed0/predictions.csv",  # not metrics.json
    ],
)
def test_from_metrics_refuses_a_path_of_another_run(path: str) -> None:
    with pytest.raises(ValueError, match=r"not the metrics file of run cnn seed 0"):
        RunFiles.from_metrics([["cnn", 0]], [path])


def test_from_metrics_needs_one_file_per_run() -> None:
    metrics = [layout.eval_files("s", "cnn", 0)["metrics"]]
    with pytest.raises(ValueError, match="2 runs but 1 metrics files"):
        RunFiles.from_metrics([["cnn", 0], ["cnn", 1]], metrics)


def test_missing_run_files_names_what_a_finished_run_lacks(tmp_path: Path) -> None:
    runs = [RunFiles.of(tmp_path, "cnn", s) for s in (0, 1, 2)]
    for run in runs[:2]:  # finished runs; seed 2 has not run (no metrics.json)
        for path in (run.history, run.train_json, run.metrics, run.predictions):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    assert layout.missing_run_files(runs) == []
    runs[1].history.unlink()
    runs[1].predictions.unlink()
    assert layout.missing_run_files(runs) == [runs[1].history, runs[1].predictions]
