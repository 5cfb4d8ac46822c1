"""A K-class study end to end: configs/multiclass.yaml at test scale, and the class checks
that stop a run before any job."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import edit_yaml, snakemake

pytestmark = pytest.mark.workflow

CONFIG = "configs/multiclass.yaml"


def at_test_scale(config: dict) -> None:
    """The preset with fewer images, epochs and seeds (its classes and variants unchanged)."""
    config["data"]["image_size"] = 16
    config["data"]["synthetic"]["n_per_class"] = 30
    config["training"].update(epochs=2, seeds=[0, 1], device="cpu")
    config["statistics"] = {"n_bootstrap": 200}
    config["resources"] = {"prepare_threads": 1}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("mc") / "repo")
    edit_yaml(repo / CONFIG, at_test_scale)
    snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo


def test_four_classes_run_end_to_end(study: Path) -> None:
    out = study / "results" / "multiclass"
    data = json.loads((out / "data" / "summary.json").read_text())
    assert data["n_classes"] == 4 and data["positive_class"] is None
    classes = data["class_names"]
    assert classes == sorted(classes) and "normal" in classes
    variants = yaml.safe_load((study / "config.yaml").read_text())["variants"]
    for v in variants:
        for s in (0, 1):
            info = json.loads((out / "train" / v / f"seed{s}" / "train.json").read_text())
            assert info["n_classes"] == 4 and info["class_names"] == classes
            metrics = json.loads((out / "eval" / v / f"seed{s}" / "metrics.json").read_text())
            assert "threshold_0.5" not in metrics
            assert len(metrics["multiclass"]["confusion_matrix"]) == 4
            with (out / "eval" / v / f"seed{s}" / "predictions.csv").open() as fh:
                header = next(csv.reader(fh))
            assert header == ["path", "label", "predicted", *(f"prob_{c}" for c in classes)]
    per_class = (out / "tables" / "per_class.md").read_text()
    assert all(c in per_class for c in classes)
    architecture = (out / "tables" / "architecture.md").read_text()
    assert "[-1, 4]" in architecture  # four logits
    for comp in ("dropout", "ann_vs_cnn"):
        assert (out / "figures" / f"confusion_{comp}.png").stat().st_size > 0
    summary = (out / "summary.md").read_text()
    assert all(c in summary for c in classes)


def test_report_of_a_k_class_study(study: Path) -> None:
    snakemake(study, "--report", "results/multiclass/report.html", "--configfile", CONFIG)
    html = (study / "results" / "multiclass" / "report.html").read_text()
    assert "per_class.md" in html and "confusion_dropout.png" in html


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["data"].update(classes=["normal", "tumour"]), "data.classes"),
        (lambda c: c["data"].update(positive_class="normal"), "data.positive_class"),
    ],
    ids=["absent-class", "positive-class-with-four"],
)
def test_class_errors_stop_the_dry_run(tmp_path: Path, change, message: str) -> None:
    repo = copy_repo(tmp_path / "repo")
    edit_yaml(repo / CONFIG, change)
    proc = snakemake(repo, "--dry-run", "--cores", "1", "--configfile", CONFIG, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out
    assert "normal" in out  # the classes found are named
