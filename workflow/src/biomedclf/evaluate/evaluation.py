"""Evaluate one trained run on the test split: ``metrics.json`` and ``predictions.csv``.

Entry point: :func:`run_evaluation` (called by the workflow's evaluate adapter). It reads the
training job's ``scores.csv`` (the saved model's class probabilities on the validation and
test splits, ``split,path,label,prob_0,...,prob_{K-1}``, see
:func:`biomedclf.train.loop.run_training`) and its ``train.json``; it does not load torch or the
model, so an evaluation job costs a fraction of a second instead of a torch start-up.
:func:`biomedclf.train.inference.predict_probabilities` reproduces the scores from ``model.pt``
alone.

Every study gets the multi-class metrics of :mod:`biomedclf.evaluate.multiclass` (for two classes
too); a two-class study also gets the binary metrics of :mod:`biomedclf.evaluate.metrics` at
threshold 0.5 and at the threshold that maximises Youden's J on the *validation* split (never on
the test split). A multi-label run (train.json ``task: multilabel``) gets the per-label and
mean metrics of :mod:`biomedclf.evaluate.multilabel_evaluation` instead. The formats are in
workflow/CONTRACTS.md.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.metrics import binary_metrics
from biomedclf.evaluate.multiclass import multiclass_metrics, predict_classes
from biomedclf.evaluate.multilabel_evaluation import evaluate_multilabel
from biomedclf.io import atomic_path, write_json
from biomedclf.train.scores import SplitScores, read_scores
from biomedclf.train.threshold import youden_threshold

log = logging.getLogger(__name__)

#: Columns of ``predictions.csv`` before the probability columns (``prob_<class name>``).
PREDICTION_LEAD = ("path", "label", "predicted")


def write_predictions(
    path: Path,
    paths: list[str],
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str],
) -> None:
    """``predictions.csv``: ``path,label,predicted,prob_<class name>...`` (exact ``repr``)."""
    predicted = predict_classes(probabilities)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow([*PREDICTION_LEAD, *(f"prob_{name}" for name in class_names)])
        for row_path, label, call, row in zip(
            paths, labels.tolist(), predicted.tolist(), probabilities.tolist(), strict=True
        ):
            writer.writerow([row_path, int(label), int(call), *(repr(float(q)) for q in row)])


def class_names_of(info: dict[str, Any], where: Path) -> list[str]:
    """Class names of train.json; ``n_classes``, when present, must agree with them."""
    names = [str(c) for c in info.get("class_names") or []]
    k = info.get("n_classes", len(names) or 2)
    if not names:
        names = [str(c) for c in range(k)]
    if len(names) != k or k < 2:
        raise ValueError(f"{where}: n_classes {k} but class_names {names}; rerun the training job")
    return names


def evaluation_metrics(
    info: dict[str, Any],
    class_names: list[str],
    val: SplitScores,
    test: SplitScores,
    ordinal: bool,
) -> dict[str, Any]:
    """The metrics.json dict of one run (``workflow/CONTRACTS.md``)."""
    k = len(class_names)
    metrics: dict[str, Any] = {
        "variant": info.get("variant"),
        "seed": info.get("seed"),
        "n_test": int(test.labels.shape[0]),
        "n_classes": k,
        "class_names": class_names,
        "ordinal": bool(ordinal),
        "positive_class": class_names[1] if k == 2 else None,
    }
    if k == 2:
        threshold = youden_threshold(val.labels, val.positive)
        metrics["threshold_0.5"] = binary_metrics(test.labels, test.positive, 0.5)
        metrics["threshold_youden"] = binary_metrics(test.labels, test.positive, threshold)
    metrics["multiclass"] = multiclass_metrics(
        test.labels, test.probabilities, class_names, ordinal
    )
    return metrics


def _log_summary(metrics: dict[str, Any]) -> None:
    """One log line with the headline numbers."""
    mc = metrics["multiclass"]
    auc = mc["macro_auroc"]
    if metrics["n_classes"] == 2:
        my = metrics["threshold_youden"]
        extra = f", {my['accuracy']:.3f} at the Youden threshold {my['threshold']:.3f} (from val)"
    else:
        extra = f", kappa ({mc['kappa_weights']} weights) {mc['kappa']}"
    log.info(
        "%s seed %s on %d test images, %d classes: accuracy %.3f, balanced accuracy %s, "
        "macro AUROC %s%s",
        metrics["variant"],
        metrics["seed"],
        metrics["n_test"],
        metrics["n_classes"],
        mc["accuracy"],
        mc["balanced_accuracy"],
        "n/a" if auc is None else f"{auc:.3f}",
        extra,
    )


def run_evaluation(
    scores: Path | str,
    info: Path | str,
    metrics: Path | str,
    predictions: Path | str,
    ordinal: bool,
) -> dict[str, Any]:
    """Metrics of one run from its ``scores.csv``; write them to ``metrics`` (metrics.json)
    and its test predictions to ``predictions`` (predictions.csv).

    ``info`` is the run's ``train.json`` (variant, seed, class names and number of classes);
    ``ordinal`` (``data.ordinal``) makes Cohen's kappa quadratic-weighted (single-label runs
    only). Returns the metrics.json dict (``workflow/CONTRACTS.md``).
    """
    info_path = Path(info)
    record = json.loads(info_path.read_text())
    if record.get("task") == "multilabel":  # several findings per image
        return evaluate_multilabel(
            record, info_path, Path(scores), Path(metrics), Path(predictions)
        )
    class_names = class_names_of(record, info_path)
    split_scores = read_scores(Path(scores), len(class_names))
    test = split_scores["test"]
    result = evaluation_metrics(record, class_names, split_scores["val"], test, ordinal)
    write_predictions(Path(predictions), test.paths, test.labels, test.probabilities, class_names)
    write_json(Path(metrics), result)
    _log_summary(result)
    return result
