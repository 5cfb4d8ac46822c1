"""Saliency of a multi-label study (several findings per image): which label each map
explains, which test images the figures show and which ones a seed ensemble gets most wrong.

* :func:`explained_labels`: the label a map explains (``explain.label``): a label name gives
  that label for every image; ``None`` gives each image's *most probable positive label*, the
  label the model calls positive (its probability at or above the label's threshold, chosen on
  validation and kept in model.pt) with the highest probability, else the label of the highest
  probability. Ties go to the earlier label.
* :func:`select_multilabel`: the comparison's images, chosen from its baseline's
  ``predictions.csv``, only images with at least one positive (kept) target, spread over the
  labels: per label its positives the baseline detects (called positive, the most probable
  first) and those it misses (called negative, the least probable first); rank by rank, first
  a detected image of every label, then a missed one of every label (label order), an image
  already taken passed over, until ``n_images`` are chosen or none is left. Ties go to the
  smaller path.
* :func:`multilabel_errors`: the error gallery's images: the seed ensemble (probabilities
  averaged in seed order; an entry called positive when at least half of the seeds call it
  positive, each at its own threshold) against the kept targets; images with a wrong entry,
  the most wrong entries first, then the largest probability gap of a wrong entry (``|p -
  target|``), then the path.

Only numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomedclf.evaluate.multilabel_predictions import (
    MultilabelPredictions,
    read_multilabel_predictions,
)
from biomedclf.explain.selection import OUTCOMES, Pick

#: The config key of the explained label.
LABEL_KEY = "explain.label"

#: A target the maps.npz and errors.npz of a multi-label study hold where the entry is ignored.
IGNORED = -1


def check_label(label: str | None, names: Sequence[str], multilabel: bool) -> None:
    """ValueError naming ``explain.label`` when it names no label of the study, or is set
    for a single-label study."""
    if label is None:
        return
    if not multilabel:
        raise ValueError(
            f"{LABEL_KEY}: {label!r} is for multi-label studies (data.task: multilabel); a "
            "single-label study's maps explain each image's true class, remove the key"
        )
    if label not in names:
        raise ValueError(
            f"{LABEL_KEY}: unknown label {label!r}; the study's labels are {list(names)} "
            "(or null: each image's most probable positive label)"
        )


def target_text(label: str | None) -> str:
    """What a multi-label study's maps explain (maps.npz's ``target``)."""
    return "most probable positive label" if label is None else f"label {label}"


def explained_labels(
    probabilities: np.ndarray,
    thresholds: Sequence[float],
    names: Sequence[str],
    label: str | None,
) -> np.ndarray:
    """The label each image's map explains (int64, one per row of ``probabilities``, n x L)
    under ``explain.label`` (module docstring)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(names) or len(thresholds) != len(names):
        raise ValueError(
            f"{probs.shape} probabilities and {len(thresholds)} thresholds for "
            f"{len(names)} labels; retrain the variant on the current data cache"
        )
    check_label(label, names, multilabel=True)
    if label is not None:
        return np.full(probs.shape[0], list(names).index(label), dtype=np.int64)
    called = probs >= np.asarray(thresholds, dtype=np.float64)[None, :]
    # called labels rank above every label not called; argmax keeps the first of ties
    key = np.where(called, probs + 2.0, probs)
    return np.argmax(key, axis=1).astype(np.int64)


def _cell(pred: MultilabelPredictions, label: int, outcome: str) -> list[int]:
    """Rows whose target ``label`` is a kept positive with this outcome, in selection order."""
    positive = pred.mask[:, label] & (pred.labels[:, label] == 1)
    detected = pred.calls[:, label] == 1
    rows = np.flatnonzero(positive & (detected if outcome == "correct" else ~detected))
    sign = -1.0 if outcome == "correct" else 1.0
    p = pred.probabilities[:, label]
    return sorted(rows.tolist(), key=lambda i: (sign * p[i], pred.paths[i]))


def select_multilabel(pred: MultilabelPredictions, n_images: int) -> list[Pick]:
    """The selection of the module docstring, in display order (label, detected before
    missed, rank). ``Pick.label`` is the label an image was chosen for, ``predicted`` the
    baseline's call of it (1/0), ``confidence`` its probability; outcome ``correct``:
    detected, ``wrong``: missed."""
    if n_images < 1:
        raise ValueError(f"explain.n_images: must be at least 1, got {n_images}")
    n_labels = len(pred.names)
    cells = {(k, o): _cell(pred, k, o) for k in range(n_labels) for o in OUTCOMES}
    place = dict.fromkeys(cells, 0)
    taken: set[int] = set()
    chosen: list[Pick] = []
    for rank in range(max([len(c) for c in cells.values()], default=0)):
        for outcome in OUTCOMES:
            for k in range(n_labels):
                rows = cells[(k, outcome)]
                while place[(k, outcome)] < len(rows) and rows[place[(k, outcome)]] in taken:
                    place[(k, outcome)] += 1
                if len(chosen) >= n_images or place[(k, outcome)] >= len(rows):
                    continue
                i = rows[place[(k, outcome)]]
                taken.add(i)
                p = float(pred.probabilities[i, k])
                chosen.append(Pick(i, pred.paths[i], k, int(pred.calls[i, k]), p, outcome, rank))
    return sorted(chosen, key=lambda p: (p.label, OUTCOMES.index(p.outcome), p.rank))


def targets(pred: MultilabelPredictions) -> np.ndarray:
    """int64 n x L: 1 or 0 where the entry is kept, :data:`IGNORED` where it is not."""
    return np.where(pred.mask, pred.labels, IGNORED).astype(np.int64)


@dataclass(frozen=True)
class MultilabelErrors:
    """The test images a multi-label model's seed ensemble gets wrong, the most wrong first."""

    variant: str
    seeds: list[int]
    n_test: int
    names: list[str]
    paths: list[str]
    labels: np.ndarray  # int64 e x L: targets, IGNORED where ignored
    calls: np.ndarray  # int64 e x L: the ensemble's calls
    probabilities: np.ndarray  # float64 e x L: the ensemble's probabilities

    def confusions(self) -> list[tuple[int, int, int]]:
        """(label, target, count) of the wrong entries (target 1: a missed finding, 0: one
        called that is absent), most frequent first (then label, a missed finding first)."""
        wrong = (self.labels != IGNORED) & (self.calls != self.labels)
        counts = Counter(
            (int(k), int(self.labels[i, k])) for i, k in zip(*np.nonzero(wrong), strict=True)
        )
        return sorted(
            ((k, t, n) for (k, t), n in counts.items()), key=lambda x: (-x[2], x[0], -x[1])
        )


def _read(predictions: Path | str | MultilabelPredictions) -> MultilabelPredictions:
    if isinstance(predictions, MultilabelPredictions):
        return predictions
    return read_multilabel_predictions(predictions)


def _aligned(ref: MultilabelPredictions, other: MultilabelPredictions) -> MultilabelPredictions:
    """``other``'s rows in ``ref``'s path order; ValueError when the images differ."""
    if other.names != ref.names or sorted(other.paths) != sorted(ref.paths):
        raise ValueError(
            "the seeds' predictions.csv hold other labels or test images; rerun the "
            "evaluation of every seed on the current data cache"
        )
    row = {p: i for i, p in enumerate(other.paths)}
    order = [row[p] for p in ref.paths]
    return MultilabelPredictions(
        other.names,
        list(ref.paths),
        other.labels[order],
        other.mask[order],
        other.probabilities[order],
        other.calls[order],
    )


def multilabel_errors(
    predictions: Mapping[int, Path | str | MultilabelPredictions], variant: str
) -> MultilabelErrors:
    """The errors of ``variant``'s seed ensemble (module docstring); ``predictions`` maps
    each seed to that run's multi-label predictions.csv (a path, or read)."""
    if not predictions:
        raise ValueError(
            f"variant {variant}: no predictions given; list it in the study's variants"
        )
    seeds = sorted(int(s) for s in predictions)
    by_seed = {int(s): p for s, p in predictions.items()}
    ref = _read(by_seed[seeds[0]])
    runs = [ref] + [_aligned(ref, _read(by_seed[s])) for s in seeds[1:]]
    probs = np.mean([r.probabilities for r in runs], axis=0)
    calls = (2 * np.sum([r.calls for r in runs], axis=0) >= len(runs)).astype(np.int64)
    y = targets(ref)
    wrong = (y != IGNORED) & (calls != y)
    gap = np.where(wrong, np.abs(probs - y), 0.0).max(axis=1, initial=0.0)
    count = wrong.sum(axis=1)
    rows = sorted(np.flatnonzero(count).tolist(), key=lambda i: (-count[i], -gap[i], ref.paths[i]))
    return MultilabelErrors(
        variant=variant,
        seeds=seeds,
        n_test=len(ref.paths),
        names=list(ref.names),
        paths=[ref.paths[i] for i in rows],
        labels=y[rows],
        calls=calls[rows],
        probabilities=probs[rows],
    )
