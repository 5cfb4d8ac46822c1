"""Reading the files one run leaves behind, for the aggregate steps.

A run (:class:`biomedclf.runs.RunFiles`) writes ``history.csv`` and ``train.json`` when it
trains and ``metrics.json`` and ``predictions.csv`` when it is evaluated (their formats are in
workflow/CONTRACTS.md). The statistics, the figures and the summary read them through these
functions, which check what they read and name the file and the fix when something is off.
:func:`align_predictions` pairs the test predictions of two runs by image path.

Only numpy is imported: the table and summary jobs start fast.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import read_json
from biomedclf.runs import RunFiles

#: Columns every ``history.csv`` must have.
HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")

#: Columns every ``predictions.csv`` must have.
PREDICTION_COLUMNS = ("path", "label", "probability")


@dataclass(frozen=True)
class Predictions:
    """The test predictions of one run (``predictions.csv``)."""

    paths: list[str]
    labels: np.ndarray  # int 0/1, shape (n,)
    probabilities: np.ndarray  # float, shape (n,), probability of the positive class
    source: Path


def _require(path: Path, what: str) -> Path:
    """``path`` if it is a file; otherwise ``FileNotFoundError`` naming it and the fix."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing {what}; run the step that writes it (train/evaluate) first"
        )
    return path


def _read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header, as dicts."""
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def load_history(run: RunFiles) -> dict[str, np.ndarray]:
    """Read ``history.csv`` of ``run`` into column arrays (``epoch`` as int, others float).

    Empty cells become NaN. Raises ``ValueError`` naming the file when it holds no epoch or
    lacks one of :data:`HISTORY_COLUMNS`.
    """
    path = _require(run.history, "training history")
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: no epochs recorded; rerun the training job")
    missing = [c for c in HISTORY_COLUMNS if c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; rerun the training job")
    out: dict[str, np.ndarray] = {}
    for col in rows[0]:
        values = [r[col] for r in rows]
        if col == "epoch":
            out[col] = np.array([int(float(v)) for v in values], dtype=int)
        else:
            out[col] = np.array([float(v) if v not in ("", None) else np.nan for v in values])
    return out


def load_train_info(run: RunFiles) -> dict[str, Any]:
    """Read ``train.json`` of ``run``."""
    return read_json(_require(run.train_json, "training record (train.json)"))


def load_metrics(run: RunFiles) -> dict[str, Any]:
    """Read ``metrics.json`` of ``run``."""
    return read_json(_require(run.metrics, "test metrics (metrics.json)"))


def load_predictions(run: RunFiles) -> Predictions:
    """Read ``predictions.csv`` of ``run``; image paths must be unique."""
    path = _require(run.predictions, "test predictions (predictions.csv)")
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: no predictions; rerun the evaluation job")
    for col in PREDICTION_COLUMNS:
        if col not in rows[0]:
            raise ValueError(f"{path}: missing column '{col}'; rerun the evaluation job")
    paths = [r["path"] for r in rows]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{path}: duplicate image paths; rerun the evaluation job")
    labels = np.array([int(float(r["label"])) for r in rows], dtype=int)
    probs = np.array([float(r["probability"]) for r in rows], dtype=float)
    return Predictions(paths=paths, labels=labels, probabilities=probs, source=path)


def _order_by_path(reference: Predictions, other: Predictions) -> np.ndarray:
    """Indices that put ``other``'s rows in ``reference``'s image order."""
    if other.paths == reference.paths:
        return np.arange(len(other.paths))
    if set(other.paths) != set(reference.paths):
        only_ref = sorted(set(reference.paths) - set(other.paths))[:3]
        only_other = sorted(set(other.paths) - set(reference.paths))[:3]
        raise ValueError(
            f"{other.source} and {reference.source}: the test images differ "
            f"(e.g. only in the first: {only_other}, only in the second: {only_ref}); "
            "both runs must be evaluated on the same test split - rerun the evaluation "
            "of the study with one data cache"
        )
    index = {p: i for i, p in enumerate(other.paths)}
    return np.array([index[p] for p in reference.paths], dtype=int)


def align_predictions(reference: Predictions, other: Predictions) -> Predictions:
    """Reorder ``other`` to the image order of ``reference`` (pairing by path).

    Raises ``ValueError`` naming both files when the two test sets differ or a label disagrees.
    """
    order = _order_by_path(reference, other)
    labels = other.labels[order]
    if not np.array_equal(labels, reference.labels):
        bad = reference.paths[int(np.flatnonzero(labels != reference.labels)[0])]
        raise ValueError(
            f"{other.source} and {reference.source}: image {bad!r} has different labels; "
            "both runs must use the same data cache - rerun the evaluation"
        )
    return Predictions(
        paths=list(reference.paths),
        labels=labels,
        probabilities=other.probabilities[order],
        source=other.source,
    )


@dataclass
class VariantData:
    """The test predictions of one variant's runs, paired image by image across the study."""

    name: str
    seeds: list[int]  # ascending
    runs: list[RunFiles]  # in seed order
    labels: np.ndarray  # (n,), in the study's reference image order
    probs: np.ndarray  # (S, n): row s is seed ``seeds[s]``, aligned to ``labels``
    sources: list[Path]  # the predictions.csv files, in seed order


def group_runs(runs: Sequence[RunFiles]) -> dict[str, list[RunFiles]]:
    """Runs by variant (in first-seen order), each list sorted by seed; no seed twice."""
    grouped: dict[str, list[RunFiles]] = {}
    for run in runs:
        grouped.setdefault(run.variant, []).append(run)
    for variant, rs in grouped.items():
        seeds = [r.seed for r in rs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"variant {variant}: seed listed twice in {seeds}")
        rs.sort(key=lambda r: r.seed)
    return grouped


def load_variant_predictions(
    grouped: dict[str, list[RunFiles]],
) -> tuple[Predictions, dict[str, VariantData]]:
    """Every run's test predictions, paired by path to the first run's image order."""
    reference: Predictions | None = None
    out: dict[str, VariantData] = {}
    for variant, rs in grouped.items():
        probs = []
        sources = []
        for run in rs:
            pred = load_predictions(run)
            if reference is None:
                reference = pred
            else:
                pred = align_predictions(reference, pred)
            probs.append(pred.probabilities)
            sources.append(pred.source)
        assert reference is not None
        out[variant] = VariantData(
            name=variant,
            seeds=[r.seed for r in rs],
            runs=rs,
            labels=reference.labels,
            probs=np.vstack(probs),
            sources=sources,
        )
    if reference is None:
        raise ValueError("no runs given; the study lists no variants or seeds")
    return reference, out
