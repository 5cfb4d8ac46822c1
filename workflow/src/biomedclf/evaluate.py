"""Evaluate one trained run on the test split: ``metrics.json`` and ``predictions.csv``.

Entry point: :func:`run_evaluation` (called by the workflow's evaluate adapter). It reads the
training job's ``scores.csv`` (the saved model's positive-class probabilities on the
validation and test splits, see :func:`biomedclf.train.run_training`) and its
``train.json``; it does not load torch or the model, so an evaluation job costs a fraction of
a second instead of a torch start-up. :func:`biomedclf.train.predict_probabilities`
reproduces the scores from ``model.pt`` alone.

Metrics (:mod:`biomedclf.metrics`) are reported at threshold 0.5 and at the threshold that
maximises Youden's J on the *validation* split (never on the test split).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import SCORE_COLUMNS, atomic_path, write_json
from biomedclf.metrics import binary_metrics, youden_threshold
from biomedclf.runs import EVAL_FILES

log = logging.getLogger(__name__)

@dataclass
class SplitScores:
    """One split's rows of ``scores.csv``, in cache order."""

    paths: list[str]
    labels: np.ndarray  # int64
    probabilities: np.ndarray  # float64


def read_scores(path: Path | str) -> dict[str, SplitScores]:
    """``scores.csv`` as ``{"val": SplitScores, "test": SplitScores}``.

    Raises ValueError naming the file when a column, a split or a value is wrong.
    """
    path = Path(path)
    rows: dict[str, tuple[list[str], list[int], list[float]]] = {
        "val": ([], [], []),
        "test": ([], [], []),
    }
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != list(SCORE_COLUMNS):
            raise ValueError(
                f"{path}: columns {reader.fieldnames}, expected {list(SCORE_COLUMNS)}; "
                "rerun the training job that writes it"
            )
        for line, row in enumerate(reader, start=2):
            if row["split"] not in rows:
                raise ValueError(
                    f"{path}, line {line}: split {row['split']!r}, expected val or test"
                )
            try:
                label, prob = int(row["label"]), float(row["probability"])
            except ValueError as err:
                raise ValueError(f"{path}, line {line}: {err}") from None
            if label not in (0, 1) or not 0.0 <= prob <= 1.0:
                raise ValueError(
                    f"{path}, line {line}: label {label} / probability {prob} out of range "
                    "(labels 0/1, probabilities in [0, 1])"
                )
            paths, labels, probs = rows[row["split"]]
            paths.append(row["path"])
            labels.append(label)
            probs.append(prob)
    for split, (paths, _, _) in rows.items():
        if not paths:
            raise ValueError(f"{path}: no {split} rows; rerun the training job")
    return {
        split: SplitScores(
            paths, np.asarray(labels, dtype=np.int64), np.asarray(probs, dtype=np.float64)
        )
        for split, (paths, labels, probs) in rows.items()
    }


def run_evaluation(
    scores_path: Path | str,
    train_info_path: Path | str,
    out_dir: Path | str,
) -> dict[str, Any]:
    """Metrics of one run from its ``scores.csv``; write metrics.json and predictions.csv.

    ``train_info_path`` is the run's ``train.json`` (variant, seed and class names). Returns
    the metrics.json dict (``workflow/CONTRACTS.md``).
    """
    scores_path, out_dir = Path(scores_path), Path(out_dir)
    info = json.loads(Path(train_info_path).read_text())
    scores = read_scores(scores_path)
    val, test = scores["val"], scores["test"]
    class_names = list(info.get("class_names") or ["0", "1"])

    threshold = youden_threshold(val.labels, val.probabilities)
    metrics = {
        "variant": info.get("variant"),
        "seed": info.get("seed"),
        "n_test": int(test.labels.shape[0]),
        "positive_class": class_names[1] if len(class_names) > 1 else None,
        "threshold_0.5": binary_metrics(test.labels, test.probabilities, 0.5),
        "threshold_youden": binary_metrics(test.labels, test.probabilities, threshold),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(out_dir / EVAL_FILES["predictions"]) as tmp,
        tmp.open("w", newline="") as f,
    ):
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "label", "probability"])
        for path, label, prob in zip(
            test.paths, test.labels.tolist(), test.probabilities.tolist(), strict=True
        ):
            writer.writerow([path, int(label), repr(float(prob))])
    write_json(out_dir / EVAL_FILES["metrics"], metrics)
    m05, my = metrics["threshold_0.5"], metrics["threshold_youden"]
    log.info(
        "%s seed %s on %d test images: accuracy %.3f at 0.5, %.3f at Youden threshold %.3f "
        "(from val), AUROC %s",
        metrics["variant"], metrics["seed"], metrics["n_test"], m05["accuracy"], my["accuracy"],
        threshold, "n/a" if m05["auroc"] is None else f"{m05['auroc']:.3f}",
    )  # fmt: skip
    return metrics
