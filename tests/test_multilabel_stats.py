"""Statistics of a multi-label study: per-label AUROCs of the seed ensembles against
scikit-learn, paired bootstrap verdicts on the mean AUROC, Holm across labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from biomedclf.evaluate.multilabel import multilabel_metrics
from biomedclf.evaluate.multilabel_evaluation import write_multilabel_predictions
from biomedclf.evaluate.multilabel_predictions import read_multilabel_predictions
from biomedclf.io import write_json
from biomedclf.layout import RunFiles
from biomedclf.stats.multilabel import multilabel_statistics
from biomedclf.stats.ranking import holm
from biomedclf.train.scores import SplitScores

NAMES = ["nodule", "effusion", "noise"]
STATISTICS = {
    "n_bootstrap": 300,
    "confidence": 0.95,
    "seed": 0,
    "calibration_bins": 10,
    "primary": "auroc",
}


def _truth(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, len(NAMES))) < 0.35).astype(np.int64)
    mask = rng.random((n, len(NAMES))) > 0.1
    return labels * mask, mask


def _run(tmp: Path, variant: str, seed: int, probs: np.ndarray, truth: tuple) -> RunFiles:
    labels, mask = truth
    paths = [f"img{i}.png" for i in range(len(labels))]
    run = RunFiles.of(tmp, variant, seed)
    thresholds = np.full(len(NAMES), 0.5)
    run.predictions.parent.mkdir(parents=True, exist_ok=True)
    test = SplitScores(paths, labels, probs, mask)
    write_multilabel_predictions(run.predictions, test, NAMES, thresholds)
    block = multilabel_metrics(labels, probs, thresholds, NAMES, mask)
    write_json(run.metrics, {"task": "multilabel", "seed": seed, "multilabel": block})
    return run


def _probs(truth: tuple, signal: float, seed: int) -> np.ndarray:
    """Probabilities that see the two findings with strength ``signal``, never the noise."""
    labels, _ = truth
    rng = np.random.default_rng(seed)
    z = rng.normal(size=labels.shape)
    z[:, :2] += signal * labels[:, :2]
    return 1 / (1 + np.exp(-z))


@pytest.fixture
def study(tmp_path: Path) -> tuple[list[RunFiles], tuple]:
    truth = _truth()
    runs = [_run(tmp_path, "weak", s, _probs(truth, 0.5, s), truth) for s in (0, 1)]
    runs += [_run(tmp_path, "strong", s, _probs(truth, 3.0, 10 + s), truth) for s in (0, 1)]
    return runs, truth


def test_predictions_round_trip(study: tuple) -> None:
    runs, (labels, mask) = study
    back = read_multilabel_predictions(runs[0].predictions)
    assert back.names == NAMES and np.array_equal(back.mask, mask)
    assert np.array_equal(back.labels, labels)


def test_ensemble_aurocs_equal_sklearn_on_kept_entries(study: tuple) -> None:
    runs, (labels, mask) = study
    result = multilabel_statistics(runs, {}, STATISTICS)
    probs = np.mean([read_multilabel_predictions(r.predictions).probabilities for r in runs[2:]], 0)
    rows = result["variants"]["strong"]["ensemble"]["per_label"]
    for j, row in enumerate(rows):
        kept = mask[:, j]
        assert row["auroc"] == pytest.approx(roc_auc_score(labels[kept, j], probs[kept, j]))
        assert row["low"] <= row["auroc"] <= row["high"]
    mean = result["variants"]["strong"]["ensemble"]["mean_auroc"]
    assert mean == pytest.approx(np.mean([r["auroc"] for r in rows]))
    seeds = result["variants"]["strong"]["over_seeds"]["mean_auroc"]
    per_seed = [
        np.mean([roc_auc_score(labels[mask[:, j], j], p[mask[:, j], j]) for j in range(3)])
        for p in (read_multilabel_predictions(r.predictions).probabilities for r in runs[2:])
    ]
    assert seeds["values"] == pytest.approx(per_seed)


def test_paired_verdicts_and_holm_across_labels(study: tuple) -> None:
    runs, _ = study
    comparisons = {"c": {"baseline": "weak", "variants": ["strong", "weak"]}}
    result = multilabel_statistics(runs, comparisons, STATISTICS)
    strong = result["comparisons"]["c"]["results"]["strong"]
    assert strong["verdict"]["verdict"] == "better" and "mean AUROC" in strong["verdict"]["text"]
    assert strong["mean_auroc"]["low"] > 0
    rows = strong["per_label"]
    assert rows[0]["p_value"] < 0.05 and rows[1]["p_value"] < 0.05  # the visible findings
    assert rows[2]["low"] < 0 < rows[2]["high"]  # the noise label: no real difference
    assert [r["p_holm"] for r in rows] == pytest.approx(holm([r["p_value"] for r in rows]))
    same = result["comparisons"]["c"]["results"]["weak"]  # a variant against itself
    assert same["mean_auroc"]["difference"] == 0 and same["mean_auroc"]["p_value"] == 1.0
    assert same["verdict"]["verdict"] == "no detectable difference"
    again = multilabel_statistics(runs, comparisons, STATISTICS)
    assert again == result  # the same resamples every time


def test_a_comparison_without_runs_names_the_key(study: tuple) -> None:
    runs, _ = study
    with pytest.raises(ValueError, match="comparisons.c: no runs of other"):
        multilabel_statistics(runs, {"c": {"baseline": "weak", "variants": ["other"]}}, STATISTICS)
