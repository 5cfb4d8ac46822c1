"""``scores.csv``: the saved model's class probabilities on the validation, held-out (a fold
of a cross-validation) and test splits, as the training job writes them and the evaluation and
cross-validation jobs read them (without torch: an evaluation job then starts in a fraction of
a second). Format: workflow/CONTRACTS.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomedclf.io import atomic_path


def score_columns(n_classes: int) -> list[str]:
    """Header of ``scores.csv``: ``split,path,label,prob_0,...,prob_{K-1}`` (class index order).

    Written by the training job, read by the evaluation job (which must not import torch)."""
    return ["split", "path", "label", *(f"prob_{k}" for k in range(n_classes))]


def write_scores(
    path: Path, splits: dict[str, tuple[list[str], list[int], list[list[float]]]]
) -> None:
    """``split,path,label,prob_0,...,prob_{K-1}`` rows (cache order) for each split; the
    probabilities are float32 sigmoids (two classes: ``prob_1``, and ``prob_0 = 1 - prob_1``)
    or softmaxes of float32 logits (no autocast), written exactly (``repr``)."""
    n_classes = len(next(iter(splits.values()))[2][0])
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(score_columns(n_classes))
        for split, (paths, labels, probs) in splits.items():
            for row_path, label, row in zip(paths, labels, probs, strict=True):
                writer.writerow([split, row_path, int(label), *(repr(float(q)) for q in row)])


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
