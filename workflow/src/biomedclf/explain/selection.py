"""Which test images the saliency figures show, and which ones each model gets wrong.

* :func:`select_images`: the comparison's fixed set of images, chosen from its baseline's
  test predictions (``predictions.csv``) alone, so that the baseline and every variant of the
  comparison are shown on the same images. Per class the most confident correct and the most
  confident wrong predictions: rank by rank, first the correct one of every class, then the
  wrong one of every class (classes in class order), until ``n_images`` are chosen or none
  is left. Confidence is the probability of the predicted class; ties go to the smaller
  image path, so the selection is a function of the file's content alone.
* :func:`selection_union`: the images one explain job computes maps for, the union of the
  selections of the baselines of the comparisons its variant belongs to.
* :func:`ensemble_errors`: the error gallery's images, those that the seed ensemble (the
  probabilities of each seed's ``predictions.csv`` averaged in seed order) of a model gets wrong,
  most confident first (the explain job stores the first :data:`GALLERY_MAX` with their pixels).

Only numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.evaluate.run_results import Predictions, align_predictions, load_predictions

#: The two kinds of selected predictions, in the order they are taken within a rank.
OUTCOMES = ("correct", "wrong")

#: Most errors of a model shown in the error gallery (the most confident ones).
GALLERY_MAX = 24


@dataclass(frozen=True)
class Pick:
    """One selected test image: its row in ``predictions.csv`` and why it was chosen."""

    index: int  # row in the baseline's predictions.csv
    path: str
    label: int
    predicted: int
    confidence: float  # probability of the predicted class
    outcome: str  # "correct" | "wrong"
    rank: int  # 0: the most confident of its class and outcome


def _ranked(
    pred: Predictions, called: np.ndarray, confidence: np.ndarray, label: int, outcome: str
) -> list[Pick]:
    """The images of class ``label`` with this outcome, most confident first."""
    right = called == pred.labels
    mask = (pred.labels == label) & (right if outcome == "correct" else ~right)
    rows = sorted(np.flatnonzero(mask).tolist(), key=lambda i: (-confidence[i], pred.paths[i]))
    return [
        Pick(i, pred.paths[i], label, int(called[i]), float(confidence[i]), outcome, rank)
        for rank, i in enumerate(rows)
    ]


def select_images(pred: Predictions, n_images: int) -> list[Pick]:
    """The selection of the module docstring, in display order (class, correct before wrong,
    rank). Fewer than ``n_images`` when the test split has fewer images."""
    if n_images < 1:
        raise ValueError(f"explain.n_images: must be at least 1, got {n_images}")
    called = predict_classes(pred.probs)
    confidence = np.take_along_axis(pred.probs, called[:, None], axis=1)[:, 0]
    k = len(pred.class_names)
    cells = {(c, o): _ranked(pred, called, confidence, c, o) for c in range(k) for o in OUTCOMES}
    chosen: list[Pick] = []
    for rank in range(max(len(cell) for cell in cells.values())):
        for outcome in OUTCOMES:
            for c in range(k):
                if len(chosen) < n_images and rank < len(cells[(c, outcome)]):
                    chosen.append(cells[(c, outcome)][rank])
    return sorted(chosen, key=lambda p: (p.label, OUTCOMES.index(p.outcome), p.rank))


def selection_union(selections: dict[str, Sequence[Pick]]) -> list[str]:
    """Image paths of all selections, each once: baselines in name order, each selection in
    its display order."""
    paths: list[str] = []
    seen: set[str] = set()
    for baseline in sorted(selections):
        for pick in selections[baseline]:
            if pick.path not in seen:
                seen.add(pick.path)
                paths.append(pick.path)
    return paths


@dataclass(frozen=True)
class Errors:
    """The test images a model's seed ensemble gets wrong, most confident first."""

    variant: str
    seeds: list[int]  # the seeds of the ensemble, ascending
    n_test: int
    class_names: list[str]
    paths: list[str]
    labels: np.ndarray  # true class
    predicted: np.ndarray  # the class they were mistaken for
    confidence: np.ndarray  # ensemble probability of the predicted class

    @property
    def n_seeds(self) -> int:
        """How many seeds the ensemble averages."""
        return len(self.seeds)

    def confusions(self) -> list[tuple[int, int, int]]:
        """(true, predicted, count) of the errors, most frequent first (then class order)."""
        counts = Counter(zip(self.labels.tolist(), self.predicted.tolist()))
        return sorted(
            ((t, p, n) for (t, p), n in counts.items()), key=lambda x: (-x[2], x[0], x[1])
        )


def _loaded(predictions: Path | str | Predictions) -> Predictions:
    return predictions if isinstance(predictions, Predictions) else load_predictions(predictions)


def ensemble_errors(predictions: Mapping[int, Path | str | Predictions], variant: str) -> Errors:
    """The errors of ``variant``'s seed ensemble. ``predictions`` maps each of its seeds to
    that run's test predictions (a ``predictions.csv`` path, or read); their probabilities
    are averaged in seed order, rows paired by image path (the smallest seed's order)."""
    if not predictions:
        raise ValueError(
            f"variant {variant}: no predictions given; list it in the study's variants"
        )
    seeds = sorted(int(s) for s in predictions)
    by_seed = {int(s): p for s, p in predictions.items()}
    preds = [_loaded(by_seed[s]) for s in seeds]
    ref = preds[0]
    probs = np.mean([ref.probs] + [align_predictions(ref, p).probs for p in preds[1:]], axis=0)
    called = predict_classes(probs)
    confidence = np.take_along_axis(probs, called[:, None], axis=1)[:, 0]
    wrong = sorted(
        np.flatnonzero(called != ref.labels).tolist(), key=lambda i: (-confidence[i], ref.paths[i])
    )
    return Errors(
        variant=variant,
        seeds=seeds,
        n_test=len(ref.paths),
        class_names=list(ref.class_names),
        paths=[ref.paths[i] for i in wrong],
        labels=ref.labels[wrong],
        predicted=called[wrong],
        confidence=confidence[wrong],
    )
