"""A cross-validated multi-label study end to end (``data.task: multilabel`` with
``data.split.folds``): grouped folds stratified on the label sets, one training job per
variant x fold, out-of-fold predictions in the multi-label format that the multi-label
statistics and report read, and the summary."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import snakemake

from biomedclf import layout
from biomedclf.evaluate.multilabel_predictions import read_multilabel_predictions

pytestmark = pytest.mark.workflow

CONFIG = "configs/ml_cv_test.yaml"
FOLDS = 3
STUDY = {
    "name": "mlcv",
    "replace_defaults": ["variants", "comparisons"],
    "data": {
        "source": "synthetic",
        "task": "multilabel",
        "image_size": 16,
        "channels": 1,
        "split": {"val": 0.2, "test": 0.25, "seed": 0, "folds": FOLDS},
        "synthetic": {"n_classes": 2, "n_per_class": 40, "prevalence": 0.35, "seed": 0},
    },
    "training": {"epochs": 2, "batch_size": 16, "seeds": [0], "device": "cpu"},
    "variants": {"ann": {"model": "linear"}, "cnn": {"model": "conv"}},
    "comparisons": {"ann_vs_cnn": {"baseline": "ann", "variants": ["cnn"]}},
    "statistics": {"n_bootstrap": 100},
    "resources": {"prepare_threads": 1},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("mlcv") / "repo")
    (repo / CONFIG).write_text(yaml.safe_dump(STUDY, sort_keys=False))
    snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo / "results" / "mlcv"


def test_the_study_finishes_on_out_of_fold_predictions_of_grouped_folds(study: Path) -> None:
    with (study / "data" / "manifest.csv").open(newline="") as fh:
        manifest = list(csv.DictReader(fh))
    pool = [r for r in manifest if r["split"] == "cv"]
    test = [r for r in manifest if r["split"] == "test"]
    data = json.loads((study / "data" / "summary.json").read_text())
    labels = data["class_names"]
    for f, info in enumerate(data["folds"]["folds"]):
        assert all(info["heldout"]["positives"][n] > 0 for n in labels), f"fold {f}"
    for v in STUDY["variants"]:
        for f in range(FOLDS):
            info = json.loads(
                (study / "train" / v / f"fold{f}" / "seed0" / "train.json").read_text()
            )
            assert info["task"] == "multilabel" and info["fold"] == f
        files = layout.crossval_files(study, v, 0)
        oof = read_multilabel_predictions(files["predictions"])
        assert oof.names == labels
        assert sorted(oof.paths) == sorted(r["path"] for r in pool)  # each pool image once
        want = {r["path"]: [int(r[n]) for n in labels] for r in pool}
        assert [want[p] for p in oof.paths] == oof.labels.tolist()
        ens = read_multilabel_predictions(files["test_predictions"])
        assert sorted(ens.paths) == sorted(r["path"] for r in test)
        assert json.loads(files["metrics"].read_text())["evaluated_on"] == "out-of-fold"
    stats = json.loads((study / "stats" / "multilabel.json").read_text())
    assert stats["evaluated_on"] == "out-of-fold" and set(stats["variants"]) == {"ann", "cnn"}
    summary = (study / "summary.md").read_text()
    assert "out-of-fold predictions of the cross-validation" in summary
    assert "| label | cv | test |" in summary
