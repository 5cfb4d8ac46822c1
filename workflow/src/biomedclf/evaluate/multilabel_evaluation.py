"""Evaluate one multi-label run (train.json ``task: multilabel``) on the test split.

:func:`biomedclf.evaluate.evaluation.run_evaluation` hands a multi-label run to
:func:`evaluate_multilabel`. It reads the test rows of ``scores.csv`` (per label the 1/0
target, empty where the cache's mask ignores the entry, and the probability) and the per-label
thresholds the training job chose on the validation split (train.json ``thresholds``), and
writes

- ``metrics.json``: ``variant``, ``seed``, ``task``, ``n_test``, ``n_classes`` (the labels),
  ``class_names`` (label names in column order) and ``multilabel``, the block of
  :func:`biomedclf.evaluate.multilabel.multilabel_metrics` (``mean_auroc`` the headline);
- ``predictions.csv``: ``path``, then per label ``label_<name>`` (1, 0, or empty where
  ignored), then ``prob_<name>`` (as in scores.csv), then ``call_<name>`` (1 when the
  probability is at least the label's threshold, else 0).

No confusion matrix or calibration: those are single-label blocks.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.multilabel import multilabel_metrics
from biomedclf.io import atomic_path, write_json
from biomedclf.train.scores import SplitScores, read_scores

log = logging.getLogger(__name__)


def multilabel_settings(info: dict[str, Any], where: Path) -> tuple[list[str], np.ndarray]:
    """Label names and per-label thresholds of a multi-label train.json; ValueError naming the
    file when they are missing or disagree."""
    names = [str(c) for c in info.get("class_names") or []]
    thresholds = np.asarray(info.get("thresholds") or [], dtype=np.float64)
    if (
        not names
        or info.get("n_classes", len(names)) != len(names)
        or thresholds.shape != (len(names),)
    ):
        raise ValueError(
            f"{where}: a multi-label run needs one threshold per label (class_names {names}, "
            f"n_classes {info.get('n_classes')}, thresholds {thresholds.tolist()}); rerun the "
            "training job"
        )
    return names, thresholds


def prediction_columns(names: list[str]) -> list[str]:
    """Header of a multi-label ``predictions.csv``."""
    return [
        "path",
        *(f"label_{n}" for n in names),
        *(f"prob_{n}" for n in names),
        *(f"call_{n}" for n in names),
    ]


def write_multilabel_predictions(
    path: Path, test: SplitScores, names: list[str], thresholds: np.ndarray
) -> None:
    """``predictions.csv`` of a multi-label run (:func:`prediction_columns`), cache order;
    ``thresholds`` per label (L,), or per image and label (n, L): the out-of-fold predictions
    of a cross-validation call each image at its own fold model's thresholds."""
    thr = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), test.probabilities.shape)
    calls = (test.probabilities >= thr).astype(np.int64)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(prediction_columns(names))
        for i, row_path in enumerate(test.paths):
            labels = [str(int(y)) if k else "" for y, k in zip(test.labels[i], test.mask[i])]
            probs = [repr(float(q)) for q in test.probabilities[i]]
            writer.writerow([row_path, *labels, *probs, *calls[i].tolist()])


def _log_summary(metrics: dict[str, Any]) -> None:
    """The headline and one line per label."""
    block = metrics["multilabel"]

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    log.info(
        "%s seed %s on %d test images, %d labels: mean AUROC %s, macro F1 %s, micro AUROC %s",
        metrics["variant"],
        metrics["seed"],
        metrics["n_test"],
        metrics["n_classes"],
        fmt(block["mean_auroc"]),
        fmt(block["macro_f1"]),
        fmt(block["micro_auroc"]),
    )
    for row in block["per_label"]:
        log.info(
            "  %-20s n %5d  positives %5d  AUROC %s  AP %s  F1 %s at threshold %.3f",
            row["label"],
            row["n"],
            row["positives"],
            fmt(row["auroc"]),
            fmt(row["average_precision"]),
            fmt(row["f1"]),
            row["threshold"],
        )


def evaluate_multilabel(
    record: dict[str, Any], info: Path, scores: Path, metrics: Path, predictions: Path
) -> dict[str, Any]:
    """metrics.json and predictions.csv of a multi-label run (train.json ``record`` read from
    ``info``); returns the metrics.json dict."""
    names, thresholds = multilabel_settings(record, info)
    test = read_scores(scores, len(names))["test"]
    if not test.multilabel:
        raise ValueError(
            f"{scores}: single-label scores for the multi-label run of {info}; rerun the "
            "training job"
        )
    result = {
        "variant": record.get("variant"),
        "seed": record.get("seed"),
        "task": "multilabel",
        "n_test": len(test.paths),
        "n_classes": len(names),
        "class_names": names,
        "multilabel": multilabel_metrics(
            test.labels, test.probabilities, thresholds, names, test.mask
        ),
    }
    write_multilabel_predictions(predictions, test, names, thresholds)
    write_json(metrics, result)
    _log_summary(result)
    return result
