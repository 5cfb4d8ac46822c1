"""Evaluate one trained run on the test split: ``metrics.json`` and ``predictions.csv``.

Entry point: :func:`run_evaluation` (called by the workflow's evaluate adapter). It reads the
training job's ``scores.csv`` (the saved model's class probabilities on the validation and
test splits, ``split,path,label,prob_0,...,prob_{K-1}``, see :func:`biomedclf.train.run_training`)
and its ``train.json``; it does not load torch or the model, so an evaluation job costs a
fraction of a second instead of a torch start-up. :func:`biomedclf.predict.predict_probabilities`
reproduces the scores from ``model.pt`` alone.

Every study gets the multi-class metrics of :mod:`biomedclf.multiclass` (for two classes too);
a two-class study also gets the binary metrics of :mod:`biomedclf.metrics` at threshold 0.5
and at the threshold that maximises Youden's J on the *validation* split (never on the test
split). The formats are in workflow/CONTRACTS.md.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import atomic_path, score_columns, write_json
from biomedclf.metrics import binary_metrics, youden_threshold
from biomedclf.multiclass import multiclass_metrics, predict_classes
from biomedclf.runs import EVAL_FILES

log = logging.getLogger(__name__)

#: Columns of ``predictions.csv`` before the probability columns (``prob_<class name>``).
PREDICTION_LEAD = ("path", "label", "predicted")


@dataclass
class SplitScores:
    """One split's rows of ``scores.csv``, in cache order."""

    paths: list[str]
    labels: np.ndarray  # int64, 0..K-1
    probabilities: np.ndarray  # float64, (n, K), class index order

    @property
    def positive(self) -> np.ndarray:
        """The probability of class 1 (the positive class of a two-class study)."""
        return self.probabilities[:, 1]


def _score_header(path: Path, fieldnames: list[str] | None, n_classes: int | None) -> int:
    """The number of classes the header of ``scores.csv`` names; ValueError when it is wrong."""
    names = list(fieldnames or [])
    k = sum(1 for c in names if c.startswith("prob_"))
    expected = score_columns(n_classes if n_classes is not None else max(k, 2))
    if names != expected:
        raise ValueError(
            f"{path}: columns {names}, expected {expected}"
            + (f" ({n_classes} classes, train.json)" if n_classes is not None else "")
            + "; rerun the training job that writes it"
        )
    return len(expected) - 3


def _parse_row(path: Path, line: int, row: list[str], k: int) -> tuple[int, list[float]]:
    """Label and probabilities of one data row; ValueError naming the file and line."""
    try:
        label, probs = int(row[2]), [float(x) for x in row[3:]]
    except ValueError as err:
        raise ValueError(f"{path}, line {line}: {err}") from None
    if len(probs) != k:
        raise ValueError(f"{path}, line {line}: {len(probs)} probabilities, expected {k}")
    if not 0 <= label < k or not all(0.0 <= q <= 1.0 for q in probs):
        raise ValueError(
            f"{path}, line {line}: label {label} / probabilities {probs} out of range "
            f"(labels 0..{k - 1}, probabilities in [0, 1])"
        )
    return label, probs


def read_scores(path: Path | str, n_classes: int | None = None) -> dict[str, SplitScores]:
    """``scores.csv`` as ``{"val": SplitScores, "test": SplitScores}`` (and ``"heldout"``,
    the held-out fold, for a fold of a cross-validation).

    ``n_classes`` (from train.json), when given, must match the header's ``prob_*`` columns.
    Raises ValueError naming the file when a column, a split or a value is wrong.
    """
    path = Path(path)
    rows: dict[str, tuple[list[str], list[int], list[list[float]]]] = {
        "val": ([], [], []),
        "heldout": ([], [], []),
        "test": ([], [], []),
    }
    with path.open(newline="") as f:
        reader = csv.reader(f)
        k = _score_header(path, next(reader, None), n_classes)
        for line, row in enumerate(reader, start=2):
            if not row or row[0] not in rows:
                split = row[0] if row else ""
                raise ValueError(
                    f"{path}, line {line}: split {split!r}, expected val, heldout or test"
                )
            label, probs = _parse_row(path, line, row, k)
            paths, labels, values = rows[row[0]]
            paths.append(row[1])
            labels.append(label)
            values.append(probs)
    if not rows["heldout"][0]:
        del rows["heldout"]
    for split, (paths, _, _) in rows.items():
        if not paths:
            raise ValueError(f"{path}: no {split} rows; rerun the training job")
    return {
        split: SplitScores(
            paths,
            np.asarray(labels, dtype=np.int64),
            np.asarray(values, dtype=np.float64).reshape(len(paths), k),
        )
        for split, (paths, labels, values) in rows.items()
    }


def write_predictions(
    path: Path, paths: list[str], labels: np.ndarray, probabilities: np.ndarray,
    class_names: list[str],
) -> None:  # fmt: skip
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
    info: dict[str, Any], class_names: list[str], val: SplitScores, test: SplitScores,
    ordinal: bool = False,
) -> dict[str, Any]:  # fmt: skip
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
        metrics["variant"], metrics["seed"], metrics["n_test"], metrics["n_classes"],
        mc["accuracy"], mc["balanced_accuracy"], "n/a" if auc is None else f"{auc:.3f}", extra,
    )  # fmt: skip


def run_evaluation(
    scores_path: Path | str,
    train_info_path: Path | str,
    out_dir: Path | str,
    ordinal: bool = False,
) -> dict[str, Any]:
    """Metrics of one run from its ``scores.csv``; write metrics.json and predictions.csv.

    ``train_info_path`` is the run's ``train.json`` (variant, seed, class names and number of
    classes); ``ordinal`` (``data.ordinal``) makes Cohen's kappa quadratic-weighted. Returns
    the metrics.json dict (``workflow/CONTRACTS.md``).
    """
    scores_path, out_dir = Path(scores_path), Path(out_dir)
    info_path = Path(train_info_path)
    info = json.loads(info_path.read_text())
    class_names = class_names_of(info, info_path)
    scores = read_scores(scores_path, len(class_names))
    metrics = evaluation_metrics(info, class_names, scores["val"], scores["test"], ordinal)
    out_dir.mkdir(parents=True, exist_ok=True)
    test = scores["test"]
    write_predictions(
        out_dir / EVAL_FILES["predictions"], test.paths, test.labels, test.probabilities,
        class_names,
    )  # fmt: skip
    write_json(out_dir / EVAL_FILES["metrics"], metrics)
    _log_summary(metrics)
    return metrics
