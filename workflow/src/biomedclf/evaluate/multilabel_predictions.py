"""Read a multi-label run's ``predictions.csv`` back (the format of
:func:`biomedclf.evaluate.multilabel_evaluation.write_multilabel_predictions`)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MultilabelPredictions:
    """The test images of one run: targets, mask, probabilities and calls (n x L each)."""

    names: list[str]
    paths: list[str]
    labels: np.ndarray  # int64 n x L, 1 or 0 (0 where ignored)
    mask: np.ndarray  # bool n x L, False where the entry is ignored
    probabilities: np.ndarray  # float64 n x L
    calls: np.ndarray  # int64 n x L, 1 when the probability reaches the label's threshold


def _names(header: list[str], path: Path) -> list[str]:
    """The label names of a predictions.csv header; ValueError naming the file otherwise."""
    names = [c[len("label_") :] for c in header if c.startswith("label_")]
    want = ["path", *(f"{k}_{n}" for k in ("label", "prob", "call") for n in names)]
    if not names or header != want:
        raise ValueError(
            f"{path}: not a multi-label predictions.csv (header {header[:6]}...); expected "
            "path, label_<name>..., prob_<name>..., call_<name>...; rerun the evaluation"
        )
    return names


def read_multilabel_predictions(path: Path | str) -> MultilabelPredictions:
    """A multi-label ``predictions.csv``; raises ``ValueError`` naming the file and line of a
    malformed row."""
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        names = _names(next(reader, []), path)
        rows = list(reader)
    n_labels = len(names)
    paths, cells = [row[0] for row in rows], [row[1:] for row in rows]
    try:
        labels = np.array([[c or "0" for c in r[:n_labels]] for r in cells], dtype=np.int64)
        mask = np.array([[c != "" for c in r[:n_labels]] for r in cells], dtype=bool)
        probs = np.array([r[n_labels : 2 * n_labels] for r in cells], dtype=np.float64)
        calls = np.array([r[2 * n_labels :] for r in cells], dtype=np.int64)
    except ValueError as exc:
        raise ValueError(f"{path}: a row that is not labels, probabilities, calls ({exc})") from exc
    shape = (len(rows), n_labels)
    if any(a.reshape(shape).shape != shape for a in (labels, mask, probs, calls)):
        raise ValueError(f"{path}: rows of another width than the header; rerun the evaluation")
    return MultilabelPredictions(
        names,
        paths,
        labels.reshape(shape),
        mask.reshape(shape),
        probs.reshape(shape),
        calls.reshape(shape),
    )
