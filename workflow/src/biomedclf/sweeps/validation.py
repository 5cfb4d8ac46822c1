"""What a sweep's choice reads of one run: validation numbers only.

From a run's ``scores.csv`` only the rows of the validation split (with cross-validation, the
fold's inner validation part) are parsed; the rows of the held-out fold and of the test
split are skipped unread. ``history.csv`` gives the train-validation accuracy gap at the saved
epoch and ``train.json`` the saved epoch and the training time. Formats:
workflow/CONTRACTS.md.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomedclf.evaluate.multiclass import multiclass_metrics
from biomedclf.io import read_json
from biomedclf.train.history import read_history
from biomedclf.train.scores import score_columns

#: The key of each ``statistics.primary`` metric in the multi-class block of metrics.json
#: (for two classes the macro AUROC is the AUROC of class 1).
METRIC_KEYS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "auroc": "macro_auroc",
}

#: The split of scores.csv a sweep's choice reads.
VALIDATION = "val"


@dataclass(frozen=True)
class RunValidation:
    """One training run (one fold of it, with cross-validation) of a sweep's point."""

    point: str
    seed: int
    fold: int | None
    metric: float  # statistics.primary on the validation split, of the saved model
    n_classes: int
    gap: float  # training minus validation accuracy at the saved epoch
    train_seconds: float


def validation_scores(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Labels (n,) and class probabilities (n, K) of the validation rows of ``scores.csv``;
    no other row's numbers are read. ValueError naming the file when it has none."""
    path = Path(path)
    labels, probs = [], []
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        k = sum(1 for c in header if c.startswith("prob_"))
        if header != score_columns(max(k, 2)):
            raise ValueError(
                f"{path}: columns {header}, expected {score_columns(max(k, 2))}; "
                "rerun the training job"
            )
        for row in reader:
            if row and row[0] == VALIDATION:
                labels.append(int(row[2]))
                probs.append([float(x) for x in row[3:]])
    if not labels:
        raise ValueError(f"{path}: no validation rows; rerun the training job")
    return np.asarray(labels, dtype=np.int64), np.asarray(probs, dtype=np.float64)


def validation_metric(path: Path | str, primary: str) -> tuple[float, int]:
    """``primary`` (accuracy, balanced_accuracy, auroc) of the validation rows of
    ``scores.csv``, and the number of classes; ValueError naming the file when the split
    cannot define the metric."""
    labels, probs = validation_scores(path)
    value = multiclass_metrics(labels, probs, None, ordinal=False)[METRIC_KEYS[primary]]
    if value is None or not math.isfinite(value):
        raise ValueError(
            f"{path}: validation {primary} undefined (a class without validation "
            "images); choose statistics.primary accuracy"
        )
    return float(value), int(probs.shape[1])


def accuracy_gap(history: Path | str, epoch: int) -> float:
    """Training minus validation accuracy at ``epoch`` of ``history.csv`` (the training
    accuracy as the loop measured it while training, dropout and augmentation active)."""
    table = read_history(history)
    rows = np.flatnonzero(table["epoch"] == epoch)
    if rows.size == 0:
        raise ValueError(f"{history}: no epoch {epoch} (the saved epoch); rerun the training job")
    i = int(rows[0])
    return float(table["train_accuracy"][i] - table["val_accuracy"][i])


def run_validation(
    point: str,
    seed: int,
    fold: int | None,
    files: dict[str, Path | str],
    primary: str,
) -> RunValidation:
    """The validation numbers of one run from its ``scores``, ``history`` and ``info``
    (train.json) files."""
    info = read_json(files["info"])
    metric, n_classes = validation_metric(files["scores"], primary)
    return RunValidation(
        point=point,
        seed=int(seed),
        fold=fold,
        metric=metric,
        n_classes=n_classes,
        gap=accuracy_gap(files["history"], int(info["best_epoch"])),
        train_seconds=float(info["train_seconds"]),
    )
