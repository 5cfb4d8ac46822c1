"""A multi-label study end to end: configs/multilabel.yaml at test scale, with a known answer
(the visible findings are found, the noise label is not) and every output of the study."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import edit_yaml, snakemake

from biomedclf import layout

pytestmark = pytest.mark.workflow

CONFIG = "configs/multilabel.yaml"
VARIANTS = ("ann", "cnn")


def at_test_scale(config: dict) -> None:
    """The preset with two variants, two seeds and fewer epochs (its labels unchanged)."""
    config["data"]["synthetic"]["n_per_class"] = 200
    config["training"].update(epochs=12, seeds=[0, 1], device="cpu")
    config["variants"] = {"ann": {"model": "linear"}, "cnn": {"model": "conv"}}
    config["comparisons"] = {"ann_vs_cnn": {"baseline": "ann", "variants": ["cnn"]}}
    config["statistics"] = {"n_bootstrap": 300}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("ml") / "repo")
    edit_yaml(repo / CONFIG, at_test_scale)
    snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo


def _study_dir(repo: Path) -> Path:
    return repo / "results" / yaml.safe_load((repo / CONFIG).read_text())["name"]


def test_every_output_is_written_and_nothing_is_left_to_run(study: Path) -> None:
    out = _study_dir(study)
    for name in layout.MULTILABEL_TABLES:
        assert all(p.stat().st_size for p in layout.table_files(out, name).values()), name
    for name in layout.MULTILABEL_FIGURES:
        assert layout.figure_file(out, name).stat().st_size > 5000, name
    assert layout.table_files(out, "label_comparison", "ann_vs_cnn")["md"].is_file()
    dry = snakemake(study, "-n", "--cores", "2", "--configfile", CONFIG)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_runs_record_one_output_per_label(study: Path) -> None:
    out = _study_dir(study)
    data = json.loads((out / "data" / "summary.json").read_text())
    labels = data["class_names"]
    assert labels == ["nodule", "effusion", "cardiomegaly", "noise"]
    assert data["task"] == "multilabel" and set(data["prevalence"]) == {
        "train",
        "val",
        "test",
        "all",
    }
    for v in VARIANTS:
        for s in (0, 1):
            info = json.loads((out / "train" / v / f"seed{s}" / "train.json").read_text())
            assert info["task"] == "multilabel" and len(info["thresholds"]) == len(labels)
            metrics = json.loads((out / "eval" / v / f"seed{s}" / "metrics.json").read_text())
            assert [r["label"] for r in metrics["multilabel"]["per_label"]] == labels
            with (out / "eval" / v / f"seed{s}" / "predictions.csv").open() as fh:
                header = next(csv.reader(fh))
            assert header == ["path"] + [
                f"{k}_{n}" for k in ("label", "prob", "call") for n in labels
            ]


def test_known_answer_visible_findings_found_and_noise_at_chance(study: Path) -> None:
    stats = json.loads(layout.stats_file(_study_dir(study), "multilabel").read_text())
    for v in VARIANTS:
        rows = {r["label"]: r for r in stats["variants"][v]["ensemble"]["per_label"]}
        for finding in ("nodule", "effusion", "cardiomegaly"):
            assert rows[finding]["auroc"] > 0.85, (v, finding, rows[finding])
        assert 0.3 < rows["noise"]["auroc"] < 0.7, (v, rows["noise"])
        assert rows["noise"]["low"] < 0.5 < rows["noise"]["high"]
    compared = stats["comparisons"]["ann_vs_cnn"]["results"]["cnn"]
    noise = next(r for r in compared["per_label"] if r["label"] == "noise")
    assert noise["p_holm"] >= noise["p_value"]
    summary = (_study_dir(study) / "summary.md").read_text()
    assert "mean AUROC" in summary and compared["verdict"]["text"] in summary


def test_a_chestmnist_file_runs_as_a_medmnist_source(tmp_path: Path) -> None:
    """A ChestMNIST-format .npz (14 columns of 0/1 per split) through the whole workflow: its
    own splits, the set's label names, one output per label."""
    import numpy as np

    rng = np.random.default_rng(5)
    arrays = {}
    for split, n in (("train", 120), ("val", 40), ("test", 60)):
        labels = (rng.random((n, 14)) < 0.4).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        images[:, 4:12, 4:12] += (200 * labels[:, :1, None]).astype(np.uint8)  # atelectasis
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
    np.savez(tmp_path / "chestmnist.npz", **arrays)
    repo = copy_repo(tmp_path / "repo")
    config = {
        "name": "chestmnist",
        "replace_defaults": ["variants", "comparisons"],
        "data": {
            "source": "medmnist",
            "path": str(tmp_path / "chestmnist.npz"),
            "task": "multilabel",
            "image_size": 28,
            "split": {"min_val": 20},
        },
        "training": {"epochs": 2, "seeds": [0], "device": "cpu"},
        "variants": {"cnn": {"model": "conv"}},
        "statistics": {"n_bootstrap": 100},
    }
    (repo / "chestmnist.yaml").write_text(yaml.safe_dump(config))
    snakemake(repo, "--cores", "2", "--configfile", "chestmnist.yaml")
    out = repo / "results" / "chestmnist"
    data = json.loads((out / "data" / "summary.json").read_text())
    assert data["split"]["given"] and data["counts"]["test"]["images"] == 60
    metrics = json.loads((out / "eval" / "cnn" / "seed0" / "metrics.json").read_text())
    rows = metrics["multilabel"]["per_label"]
    assert [r["label"] for r in rows][:2] == ["atelectasis", "cardiomegaly"] and len(rows) == 14
    assert (out / "summary.md").read_text().startswith("# chestmnist: multi-label study")
