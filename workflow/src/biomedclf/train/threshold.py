"""The decision thresholds of a model, chosen on its validation scores.

A trained two-class model keeps, in ``model.pt``, the threshold on the probability of class 1
that maximises Youden's J on the validation split (:func:`youden_threshold`); the evaluation
reports the test metrics at it, and ``biomedclf predict`` applies it. A multi-label model keeps
one such threshold per label (:func:`choose_thresholds`), each chosen on the label's kept
validation entries. The ROC curve it is read
from is scikit-learn's (``sklearn.metrics.roc_curve(..., drop_intermediate=False)``, checked in
the tests), computed with numpy: importing ``sklearn.metrics`` would cost seconds of start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def binary_arrays(
    labels: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels and finite probabilities as flat arrays of one length; ValueError otherwise."""
    y = np.asarray(labels).astype(np.int64).ravel()
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and probabilities ({p.size}) differ in length")
    if y.size == 0:
        raise ValueError("no samples to compute metrics on")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got values {sorted(set(y.tolist()))}")
    if not np.isfinite(p).all():
        raise ValueError("probabilities contain NaN or infinity; the model diverged")
    return y, p


def roc_curve(
    labels: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fpr, tpr, thresholds`` at every distinct score, highest first, after a leading
    ``(0, 0, inf)``: ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``."""
    y, p = binary_arrays(labels, probabilities)
    fps, tps, thresholds = counts_by_threshold(y, p)
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    with np.errstate(invalid="ignore", divide="ignore"):
        return fps / fps[-1], tps / tps[-1], np.r_[np.inf, thresholds]


def counts_by_threshold(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positives when calling ``p >= t`` positive, for each distinct score
    ``t`` from the highest down (scikit-learn's ``_binary_clf_curve``)."""
    order = np.argsort(p, kind="mergesort")[::-1]
    p, y = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(p)), y.size - 1]
    tps = np.cumsum(y, dtype=np.float64)[last]
    return 1.0 + last - tps, tps, p[last]


def youden_threshold(
    labels: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
) -> float:
    """The threshold maximising Youden's J = sensitivity + specificity - 1 on these data.

    The first maximum along sklearn's ROC curve (highest score ``t*`` reaching the best J) is
    taken; every threshold between the next lower observed score and ``t*`` classifies these
    data identically, so the midpoint of that gap is returned (as pROC does), which keeps a
    margin on both sides instead of sitting on a training score. With a single class, or when
    no threshold beats J = 0, 0.5 is returned and a warning logged.
    """
    y, p = binary_arrays(labels, probabilities)
    if np.unique(y).size < 2:
        log.warning("Youden threshold: only one class in the labels; using 0.5")
        return 0.5
    fpr, tpr, thresholds = roc_curve(y, p)
    j = tpr - fpr
    best = int(np.flatnonzero(j >= j.max() - 1e-12)[0])  # ties within rounding: first one
    if j[best] <= 0 or not np.isfinite(thresholds[best]):
        log.warning("Youden threshold: no threshold separates the classes (J <= 0); using 0.5")
        return 0.5
    if best + 1 < thresholds.size:
        return float((thresholds[best] + thresholds[best + 1]) / 2)
    return float(thresholds[best])


def check_multilabel(
    labels: Any, probabilities: Any, mask: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``labels`` (n, L) int64 0/1 where kept, ``probabilities`` (n, L) float64 and the mask
    (n, L) bool (all True when None); ValueError on other shapes or values."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    kept = np.ones(p.shape, bool) if mask is None else np.asarray(mask, dtype=bool)
    if p.ndim != 2 or y.shape != p.shape or kept.shape != p.shape:
        raise ValueError(
            f"labels {y.shape}, probabilities {p.shape} and mask {kept.shape} must all be "
            "(images, labels)"
        )
    y = np.where(kept, y, 0).astype(np.int64)
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0/1 where kept, got {sorted(set(y.ravel().tolist()))}")
    if not np.isfinite(p[kept]).all():
        raise ValueError("probabilities contain NaN or infinity; the model diverged")
    return y, p, kept


def choose_thresholds(labels: Any, probabilities: Any, mask: Any = None) -> np.ndarray:
    """One threshold per label (float64, L) from validation scores: Youden's J on the label's
    kept entries (0.5, logged, when they hold one class or none)."""
    y, p, kept = check_multilabel(labels, probabilities, mask)
    out = np.full(p.shape[1], 0.5)
    for j in range(p.shape[1]):
        rows = kept[:, j]
        if rows.any():
            out[j] = youden_threshold(y[rows, j], p[rows, j])
        else:
            log.warning("thresholds: label column %d keeps no validation entry; using 0.5", j)
    return out
