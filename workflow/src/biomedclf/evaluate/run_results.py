"""Reading the files one run leaves behind, for the aggregate steps.

A run (:class:`biomedclf.layout.RunFiles`) writes ``history.csv`` and ``train.json`` when it
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

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.io import read_json
from biomedclf.layout import RunFiles
from biomedclf.train.history import read_history

#: Columns of ``predictions.csv`` before its ``prob_<class name>`` columns.
PREDICTION_LEAD = ("path", "label", "predicted")


@dataclass(frozen=True)
class Predictions:
    """The test predictions of one run (``predictions.csv``)."""

    paths: list[str]
    labels: np.ndarray  # int 0..K-1, shape (n,)
    probs: np.ndarray  # float, shape (n, K), class index order
    class_names: list[str]
    source: Path

    @property
    def probabilities(self) -> np.ndarray:
        """The probability of class 1, shape (n,): the positive class of a two-class study."""
        return self.probs[:, 1]


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


def load_history(path: Path | str) -> dict[str, np.ndarray]:
    """A run's ``history.csv`` as column arrays (:func:`biomedclf.train.history.read_history`)."""
    return read_history(_require(Path(path), "training history"))


def load_train_info(path: Path | str) -> dict[str, Any]:
    """Read a run's ``train.json``."""
    return read_json(_require(Path(path), "training record (train.json)"))


def load_metrics(path: Path | str) -> dict[str, Any]:
    """Read a run's ``metrics.json``."""
    return read_json(_require(Path(path), "test metrics (metrics.json)"))


def _prediction_classes(path: Path, header: list[str]) -> list[str]:
    """Class names from the ``prob_<name>`` columns; ValueError naming the file otherwise."""
    names = [c[len("prob_") :] for c in header[len(PREDICTION_LEAD) :]]
    if (
        tuple(header[: len(PREDICTION_LEAD)]) != PREDICTION_LEAD
        or len(names) < 2
        or not all(c.startswith("prob_") for c in header[len(PREDICTION_LEAD) :])
    ):
        raise ValueError(
            f"{path}: columns {header}, expected path,label,predicted,prob_<class>... (one "
            "per class); rerun the evaluation job"
        )
    return names


def load_predictions(path: Path | str) -> Predictions:
    """Read a run's ``predictions.csv``; image paths must be unique and the ``predicted``
    column must be the call its probabilities make
    (:func:`biomedclf.evaluate.multiclass.predict_classes`)."""
    path = _require(Path(path), "test predictions (predictions.csv)")
    with path.open(newline="") as fh:
        reader = csv.reader(fh)
        names = _prediction_classes(path, next(reader, []))
        rows = [r for r in reader if r]
    if not rows:
        raise ValueError(f"{path}: no predictions; rerun the evaluation job")
    paths = [r[0] for r in rows]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{path}: duplicate image paths; rerun the evaluation job")
    try:
        labels = np.array([int(r[1]) for r in rows], dtype=int)
        called = np.array([int(r[2]) for r in rows], dtype=int)
        probs = np.array([[float(x) for x in r[3:]] for r in rows], dtype=float)
    except ValueError as err:
        raise ValueError(f"{path}: {err}; rerun the evaluation job") from None
    if probs.shape != (len(rows), len(names)) or not np.array_equal(called, predict_classes(probs)):
        raise ValueError(
            f"{path}: the predicted column or a probability row does not match the "
            f"{len(names)} classes of the header; rerun the evaluation job"
        )
    return Predictions(paths=paths, labels=labels, probs=probs, class_names=names, source=path)


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
    if other.class_names != reference.class_names:
        raise ValueError(
            f"{other.source} and {reference.source}: classes {other.class_names} and "
            f"{reference.class_names} differ; both runs must use the same data cache - rerun "
            "the evaluation"
        )
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
        probs=other.probs[order],
        class_names=list(other.class_names),
        source=other.source,
    )


@dataclass
class VariantData:
    """The test predictions of one variant's runs, paired image by image across the study."""

    name: str
    seeds: list[int]  # ascending
    runs: list[RunFiles]  # in seed order
    labels: np.ndarray  # (n,), in the study's reference image order
    probs: np.ndarray  # (S, n, K): row s is seed ``seeds[s]``, aligned to ``labels``
    sources: list[Path]  # the predictions.csv files, in seed order
    class_names: list[str]

    @property
    def n_classes(self) -> int:
        """The number of classes K."""
        return len(self.class_names)

    @property
    def positive(self) -> np.ndarray:
        """The probability of class 1 per seed, (S, n): a two-class study's scores."""
        return self.probs[..., 1]


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
            pred = load_predictions(run.predictions)
            if reference is None:
                reference = pred
            else:
                pred = align_predictions(reference, pred)
            probs.append(pred.probs)
            sources.append(pred.source)
        assert reference is not None
        out[variant] = VariantData(
            name=variant,
            seeds=[r.seed for r in rs],
            runs=rs,
            labels=reference.labels,
            probs=np.stack(probs),
            sources=sources,
            class_names=list(reference.class_names),
        )
    if reference is None:
        raise ValueError("no runs given; the study lists no variants or seeds")
    return reference, out


def runs_of(runs: Sequence[RunFiles], variant: str) -> list[RunFiles]:
    """The runs of ``variant`` in seed order."""
    return sorted((r for r in runs if r.variant == variant), key=lambda r: r.seed)


def comparison_members(comp_name: str, comparison: dict, runs: Sequence[RunFiles]) -> list[str]:
    """Baseline and variants of the comparison; each must have runs."""
    members = [comparison["baseline"], *comparison["variants"]]
    have = {r.variant for r in runs}
    missing = [v for v in members if v not in have]
    if missing:
        raise ValueError(
            f"comparisons.{comp_name}: no runs for {missing}; the runs cover {sorted(have)}"
        )
    return members


def ensembled(runs: Sequence[RunFiles], variant: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels, seed-averaged class probabilities (n, K; paired by path) and the number of
    seeds of ``variant``."""
    preds = [load_predictions(r.predictions) for r in runs_of(runs, variant)]
    ref = preds[0]
    probs = np.stack([ref.probs] + [align_predictions(ref, p).probs for p in preds[1:]])
    return ref.labels, probs.mean(axis=0), len(preds)
