"""``scores.csv``: the saved model's class probabilities on the validation, held-out (a fold
of a cross-validation) and test splits, as the training job writes them and the evaluation and
cross-validation jobs read them (without torch: an evaluation job then starts in a fraction of
a second). Format: workflow/CONTRACTS.md.

A multi-label run (several findings per image) writes ``split,path,y_0,...,y_{L-1},prob_0,...,
prob_{L-1}``: per label its 1/0 target, empty where the cache's mask ignores the entry, and the
sigmoid of its logit (:func:`write_multilabel_scores`); :func:`read_scores` reads both formats.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomedclf.io import atomic_path


def score_columns(n_classes: int) -> list[str]:
    """Header of ``scores.csv``: ``split,path,label,prob_0,...,prob_{K-1}`` (class index order).

    Written by the training job, read by the evaluation job (which must not import torch)."""
    return ["split", "path", "label", *(f"prob_{k}" for k in range(n_classes))]


def multilabel_score_columns(n_labels: int) -> list[str]:
    """Header of a multi-label ``scores.csv``: ``split,path,y_0,...,prob_0,...`` (label order)."""
    return [
        "split",
        "path",
        *(f"y_{j}" for j in range(n_labels)),
        *(f"prob_{j}" for j in range(n_labels)),
    ]


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


def write_multilabel_scores(
    path: Path,
    splits: dict[str, tuple[list[str], list[list[int]], list[list[float]], list[list[bool]]]],
) -> None:
    """Multi-label ``split,path,y_0..y_{L-1},prob_0..prob_{L-1}`` rows (cache order) for each
    split of ``splits`` (paths, labels, probabilities, mask): ``y_j`` is the 1/0 target, empty
    where the mask ignores the entry; the probabilities are float32 sigmoids, written exactly."""
    n_labels = len(next(iter(splits.values()))[2][0])
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(multilabel_score_columns(n_labels))
        for split, (paths, labels, probs, mask) in splits.items():
            for row_path, y, row, kept in zip(paths, labels, probs, mask, strict=True):
                targets = [str(int(v)) if k else "" for v, k in zip(y, kept, strict=True)]
                writer.writerow([split, row_path, *targets, *(repr(float(q)) for q in row)])


@dataclass
class SplitScores:
    """One split's rows of ``scores.csv``, in cache order. Multi-label: ``labels`` (n, L) 1/0
    (0 where ignored) and ``mask`` (n, L) bool, False where the entry is ignored."""

    paths: list[str]
    labels: np.ndarray  # int64, 0..K-1 (multi-label: n x L, 1/0)
    probabilities: np.ndarray  # float64, (n, K), class index order (multi-label: label order)
    mask: np.ndarray | None = None  # multi-label only

    @property
    def multilabel(self) -> bool:
        return self.mask is not None

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


def _bad_split(path: Path, line: int, row: list[str]) -> ValueError:
    split = row[0] if row else ""
    return ValueError(f"{path}, line {line}: split {split!r}, expected val, heldout or test")


def _parse_multilabel_row(
    path: Path, line: int, row: list[str], n: int
) -> tuple[list[int], list[float], list[bool]]:
    """Targets (0 where ignored), probabilities and mask of one multi-label data row."""
    if len(row) != 2 + 2 * n:
        raise ValueError(f"{path}, line {line}: {len(row) - 2} values, expected {2 * n}")
    cells, kept = row[2 : 2 + n], [c != "" for c in row[2 : 2 + n]]
    try:
        probs = [float(x) for x in row[2 + n :]]
    except ValueError as err:
        raise ValueError(f"{path}, line {line}: {err}") from None
    if any(c not in ("", "0", "1") for c in cells) or not all(0.0 <= q <= 1.0 for q in probs):
        raise ValueError(
            f"{path}, line {line}: targets {cells} / probabilities {probs} out of range "
            "(targets 1, 0 or empty for an ignored entry; probabilities in [0, 1])"
        )
    return [int(c) if c else 0 for c in cells], probs, kept


def _read_multilabel(
    path: Path, reader: Iterator[list[str]], header: list[str], n_labels: int | None
) -> dict[str, SplitScores]:
    """The data rows of a multi-label ``scores.csv`` whose header is ``header``."""
    n = (len(header) - 2) // 2
    expected = multilabel_score_columns(n if n_labels is None else n_labels)
    if header != expected:
        raise ValueError(
            f"{path}: columns {header}, expected {expected}; rerun the training job that writes it"
        )
    rows: dict[str, list[tuple]] = {"val": [], "heldout": [], "test": []}
    for line, row in enumerate(reader, start=2):
        if not row or row[0] not in rows:
            raise _bad_split(path, line, row)
        rows[row[0]].append((row[1], *_parse_multilabel_row(path, line, row, n)))
    _check_present(path, {split: [r[0] for r in got] for split, got in rows.items()})
    return {
        split: SplitScores(
            [r[0] for r in got],
            np.asarray([r[1] for r in got], dtype=np.int64).reshape(len(got), n),
            np.asarray([r[2] for r in got], dtype=np.float64).reshape(len(got), n),
            np.asarray([r[3] for r in got], dtype=bool).reshape(len(got), n),
        )
        for split, got in rows.items()
        if got
    }


def _check_present(path: Path, paths: dict[str, list[str]]) -> None:
    """ValueError unless the val and test splits have rows (heldout may have none)."""
    for split in ("val", "test"):
        if not paths[split]:
            raise ValueError(f"{path}: no {split} rows; rerun the training job")


def read_scores(path: Path | str, n_classes: int | None = None) -> dict[str, SplitScores]:
    """``scores.csv`` as ``{"val": SplitScores, "test": SplitScores}`` (and ``"heldout"``,
    the held-out fold, for a fold of a cross-validation); a multi-label file (``y_*``
    columns) gives labels and a mask of n x L each.

    ``n_classes`` (from train.json; multi-label: the labels), when given, must match the
    header's ``prob_*`` columns.
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
        header = next(reader, None)
        if header and len(header) > 2 and header[2].startswith("y_"):
            return _read_multilabel(path, reader, header, n_classes)
        k = _score_header(path, header, n_classes)
        for line, row in enumerate(reader, start=2):
            if not row or row[0] not in rows:
                raise _bad_split(path, line, row)
            label, probs = _parse_row(path, line, row, k)
            paths, labels, values = rows[row[0]]
            paths.append(row[1])
            labels.append(label)
            values.append(probs)
    if not rows["heldout"][0]:
        del rows["heldout"]
    _check_present(path, {split: got[0] for split, got in rows.items()})
    return {
        split: SplitScores(
            paths,
            np.asarray(labels, dtype=np.int64),
            np.asarray(values, dtype=np.float64).reshape(len(paths), k),
        )
        for split, (paths, labels, values) in rows.items()
    }
