"""Binary classification metrics at a threshold (the ROC curve and Youden's threshold are in
:mod:`biomedclf.train.threshold`, where training chooses its threshold).

The definitions are scikit-learn's (``roc_curve``, ``roc_auc_score``,
``average_precision_score``, ``recall_score``, ...; the tests check every value against
scikit-learn), computed here with numpy: importing ``sklearn.metrics`` costs about 2.8 s of
start-up on two cores, most of an evaluation job, and the bootstrap calls these functions
thousands of times.

Label 1 is the positive class; an image is called positive when its probability is
``>= threshold`` (the convention of :func:`sklearn.metrics.roc_curve`). Values that a split
cannot define (AUROC when it holds one class only, sensitivity without positives, precision
without positive calls, ...) are ``None`` (JSON ``null``) and a warning is logged; they never
raise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biomedclf.train.threshold import (
    binary_arrays,
    counts_by_threshold,
    roc_curve,
)

log = logging.getLogger(__name__)

METRIC_KEYS = (
    "threshold",
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "f1",
    "auroc",
    "average_precision",
    "brier",
    "confusion_matrix",
)


def _clean(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """AUROC of scores ``p`` for 0/1 labels ``y`` holding both classes (trapezoids under
    :func:`roc_curve`, ``sklearn.metrics.roc_auc_score``)."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Sum over thresholds of (recall gained) x precision, as scikit-learn defines it
    (``average_precision_score``); ``y`` must hold a positive."""
    fps, tps, _ = counts_by_threshold(y, p)
    recall = tps / tps[-1]
    precision = tps / (tps + fps)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def binary_metrics(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Metrics of calling ``probability >= threshold`` positive (keys: :data:`METRIC_KEYS`).

    ``confusion_matrix`` is ``[[tn, fp], [fn, tp]]``; ``sensitivity`` is the recall of class 1,
    ``specificity`` that of class 0; ``brier`` the mean squared error of the probabilities.
    """
    y, p = binary_arrays(labels, probabilities)
    pred = (p >= threshold).astype(np.int64)
    single_class = np.unique(y).size < 2
    if single_class:
        log.warning(
            "metrics: the labels hold only class %d (%d samples); AUROC, average precision "
            "and the rate of the missing class are undefined (null)",
            int(y[0]),
            y.size,
        )
    tp = int(np.sum((pred == 1) & (y == 1)))
    fp = int(np.sum((pred == 1) & (y == 0)))
    fn = int(np.sum((pred == 0) & (y == 1)))
    tn = int(y.size - tp - fp - fn)
    nan = float("nan")
    sensitivity = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    precision = _ratio(tp, tp + fp)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    auroc_value = nan if single_class else auroc(y, p)
    ap = nan if single_class else average_precision(y, p)
    brier = float(np.mean((p - y) ** 2))
    balanced = nan if single_class else (sensitivity + specificity) / 2

    if not single_class and tp + fp == 0:
        log.warning(
            "metrics: no positive calls at threshold %.4g; precision is undefined",
            threshold,
        )
    return {
        "threshold": float(threshold),
        "accuracy": (tp + tn) / y.size,
        "balanced_accuracy": _clean(balanced),
        "sensitivity": _clean(sensitivity),
        "specificity": _clean(specificity),
        "precision": _clean(precision),
        "f1": _clean(f1),
        "auroc": _clean(auroc_value),
        "average_precision": _clean(ap),
        "brier": float(brier),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
