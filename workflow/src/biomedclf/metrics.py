"""Binary classification metrics at a threshold, and Youden's threshold, via scikit-learn.

Label 1 is the positive class; an image is called positive when its probability is
``>= threshold`` (the convention of :func:`sklearn.metrics.roc_curve`). Values that a split
cannot define (AUROC when it holds one class only, sensitivity without positives, precision
without positive calls, ...) are ``None`` (JSON ``null``) and a warning is logged; they never
raise.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

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


def _arrays(
    labels: Sequence[int] | np.ndarray, probabilities: Sequence[float] | np.ndarray
):
    y = np.asarray(labels).astype(np.int64).ravel()
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(
            f"labels ({y.size}) and probabilities ({p.size}) differ in length"
        )
    if y.size == 0:
        raise ValueError("no samples to compute metrics on")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got values {sorted(set(y.tolist()))}")
    if not np.isfinite(p).all():
        raise ValueError("probabilities contain NaN or infinity; the model diverged")
    return y, p


def _clean(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


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
    from sklearn.metrics import roc_curve

    y, p = _arrays(labels, probabilities)
    if np.unique(y).size < 2:
        log.warning("Youden threshold: only one class in the labels; using 0.5")
        return 0.5
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    j = tpr - fpr
    best = int(
        np.flatnonzero(j >= j.max() - 1e-12)[0]
    )  # ties within rounding: first one
    if j[best] <= 0 or not np.isfinite(thresholds[best]):
        log.warning(
            "Youden threshold: no threshold separates the classes (J <= 0); using 0.5"
        )
        return 0.5
    if best + 1 < thresholds.size:
        return float((thresholds[best] + thresholds[best + 1]) / 2)
    return float(thresholds[best])


def binary_metrics(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Metrics of calling ``probability >= threshold`` positive (keys: :data:`METRIC_KEYS`).

    ``confusion_matrix`` is ``[[tn, fp], [fn, tp]]``; ``sensitivity`` is the recall of class 1,
    ``specificity`` that of class 0; ``brier`` the mean squared error of the probabilities.
    """
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        balanced_accuracy_score,
        brier_score_loss,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y, p = _arrays(labels, probabilities)
    pred = (p >= threshold).astype(np.int64)
    single_class = np.unique(y).size < 2
    if single_class:
        log.warning(
            "metrics: the labels hold only class %d (%d samples); AUROC, average precision "
            "and the rate of the missing class are undefined (null)",
            int(y[0]),
            y.size,
        )
    nan = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined values are reported as None instead
        sensitivity = recall_score(y, pred, pos_label=1, zero_division=nan)
        specificity = recall_score(y, pred, pos_label=0, zero_division=nan)
        precision = precision_score(y, pred, pos_label=1, zero_division=nan)
        f1 = f1_score(y, pred, pos_label=1, zero_division=nan)
        auroc = nan if single_class else roc_auc_score(y, p)
        ap = nan if single_class else average_precision_score(y, p)
        brier = brier_score_loss(y, p, labels=[0, 1])
        balanced = nan if single_class else balanced_accuracy_score(y, pred)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, pred, labels=[0, 1]).ravel())
    if not single_class and tp + fp == 0:
        log.warning(
            "metrics: no positive calls at threshold %.4g; precision is undefined",
            threshold,
        )
    return {
        "threshold": float(threshold),
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": _clean(balanced),
        "sensitivity": _clean(sensitivity),
        "specificity": _clean(specificity),
        "precision": _clean(precision),
        "f1": _clean(f1),
        "auroc": _clean(auroc),
        "average_precision": _clean(ap),
        "brier": float(brier),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }
