"""Metrics of K-class predictions (K >= 2) from class probabilities, in numpy.

The definitions are scikit-learn's (``accuracy_score``, ``balanced_accuracy_score``,
``f1_score``, ``cohen_kappa_score``, ``confusion_matrix``, ``precision_recall_fscore_support``,
one-vs-rest ``roc_auc_score`` and ``average_precision_score`` per class; the tests check each
value against them on data with ties, for 2, 3 and 9 classes), computed with numpy because
importing ``sklearn.metrics`` costs seconds per job.

The predicted class (:func:`predict_classes`) is the argmax of the probabilities for K > 2 (the
first class on a tie) and, for K = 2, class 1 when its probability is ``>= 0.5``, the call of
:func:`biomedclf.evaluate.metrics.binary_metrics`. Per class: precision, recall (sensitivity),
specificity and F1 of the one-vs-rest calls, support, and the one-vs-rest AUROC and average
precision of that class's probability. Macro averages are means over the classes whose value is
defined. The multi-class Brier score is the mean over images of the sum over classes of the
squared error; ECE is the top-label expected calibration error (confidence: the probability of the
predicted class). Cohen's kappa is unweighted, or quadratic-weighted for ordered classes.
Undefined values (the recall of a class without test images, the precision of a class never
predicted, ...) are ``None`` and logged; they never raise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biomedclf.evaluate.calibration import expected_calibration_error
from biomedclf.evaluate.metrics import auroc, average_precision

log = logging.getLogger(__name__)

#: Scalar metrics of a multi-class block, in the order metrics.json lists them.
MULTICLASS_KEYS = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "weighted_f1",
    "kappa",
    "brier",
    "ece",
    "macro_precision",
    "macro_recall",
    "macro_specificity",
    "macro_auroc",
    "macro_average_precision",
)

#: Metrics of one class (``support`` is a count).
PER_CLASS_KEYS = (
    "precision",
    "recall",
    "specificity",
    "f1",
    "support",
    "auroc",
    "average_precision",
)

#: Per-class metrics averaged into the ``macro_*`` keys.
MACRO_OF = ("precision", "recall", "specificity", "auroc", "average_precision")

#: Equal-width confidence bins of the top-label ECE.
ECE_BINS = 10

#: How the predicted class is chosen, by number of classes (metrics.json ``prediction``).
PREDICTION_RULES = {2: "class 1 when its probability >= 0.5", "k": "argmax (first on ties)"}

Labels = Sequence[int] | np.ndarray


def check_class_probabilities(labels: Labels, probabilities: Any) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` (n,) as int64 and ``probabilities`` (n, K) as float64, checked.

    Raises ``ValueError`` when the shapes disagree, K < 2, a label is outside 0..K-1 or a
    probability is not finite.
    """
    y = np.asarray(labels).astype(np.int64).ravel()
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != y.size:
        raise ValueError(
            f"probabilities of shape {p.shape} for {y.size} labels; expected (images, classes)"
        )
    if y.size == 0:
        raise ValueError("no samples to compute metrics on")
    if p.shape[1] < 2:
        raise ValueError(f"{p.shape[1]} class column(s); a classifier has at least two")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(
            f"labels must lie in 0..{p.shape[1] - 1}, got values {sorted(set(y.tolist()))}"
        )
    if not np.isfinite(p).all():
        raise ValueError("probabilities contain NaN or infinity; the model diverged")
    return y, p


def predict_classes(probabilities: np.ndarray) -> np.ndarray:
    """Predicted class per row of ``probabilities`` (..., K): class 1 when its probability is
    ``>= 0.5`` for K = 2, else the argmax (the first class on a tie)."""
    p = np.asarray(probabilities)
    if p.shape[-1] == 2:
        return (p[..., 1] >= 0.5).astype(np.int64)
    return np.argmax(p, axis=-1).astype(np.int64)


def top_label(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: whether the predicted class is right (0/1) and its probability (the
    top-label confidence), for ``probabilities`` (n, K): the quantities of the top-label ECE."""
    p = np.asarray(probabilities, dtype=np.float64)
    pred = predict_classes(p)
    confidence = np.take_along_axis(p, pred[:, None], axis=1)[:, 0]
    return (pred == np.asarray(labels)).astype(np.float64), confidence


def prediction_rule(n_classes: int) -> str:
    """The rule :func:`predict_classes` applies for ``n_classes``, in words."""
    return PREDICTION_RULES[2] if n_classes == 2 else PREDICTION_RULES["k"]


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """K x K counts: row = true class, column = predicted class."""
    flat = np.asarray(labels, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def cohen_kappa(cm: np.ndarray, quadratic: bool = False) -> float:
    """Cohen's kappa of a confusion matrix; quadratic weights ``(i - j)^2`` for ordered classes.

    NaN when chance agreement leaves nothing to improve on (a single class called throughout).
    """
    cm = np.asarray(cm, dtype=np.float64)
    k = cm.shape[0]
    i, j = np.indices((k, k))
    w = (i - j) ** 2.0 if quadratic else (i != j).astype(np.float64)
    expected = np.outer(cm.sum(axis=1), cm.sum(axis=0)) / cm.sum()
    den = float(np.sum(w * expected))
    return 1.0 - float(np.sum(w * cm)) / den if den > 0 else float("nan")


def _clean(value: float) -> float | None:
    """``value`` as a float, or ``None`` when it is NaN."""
    value = float(value)
    return None if math.isnan(value) else value


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` elementwise, NaN where ``den`` is 0."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def _one_vs_rest(y: np.ndarray, p: np.ndarray, k: int) -> tuple[float, float]:
    """AUROC and average precision of class ``k``'s probability against the other classes."""
    is_k = (y == k).astype(np.int64)
    if is_k.min() == is_k.max():  # no image of class k, or only class k
        return float("nan"), float("nan")
    return auroc(is_k, p[:, k]), average_precision(is_k, p[:, k])


def per_class_arrays(y: np.ndarray, p: np.ndarray, cm: np.ndarray) -> dict[str, np.ndarray]:
    """Each of :data:`PER_CLASS_KEYS` as an array over classes (NaN where undefined)."""
    n, k = y.size, cm.shape[0]
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    called = cm.sum(axis=0)
    fp, fn = called - tp, support - tp
    tn = n - tp - fp - fn
    ovr = np.array([_one_vs_rest(y, p, c) for c in range(k)], dtype=np.float64).reshape(k, 2)
    return {
        "precision": _divide(tp, called),
        "recall": _divide(tp, support),
        "specificity": _divide(tn, tn + fp),
        "f1": _divide(2 * tp, support + called),
        "support": support,
        "auroc": ovr[:, 0],
        "average_precision": ovr[:, 1],
    }


def _nanmean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN without any."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _warn_undefined(per: dict[str, np.ndarray], names: Sequence[str]) -> None:
    """Log which classes leave which per-class metrics undefined."""
    for key in ("precision", "recall", "specificity", "auroc"):
        bad = [str(names[c]) for c in np.flatnonzero(np.isnan(per[key]))]
        if bad:
            log.warning(
                "metrics: %s undefined (null) for class(es) %s: %s",
                key,
                ", ".join(bad),
                "never predicted"
                if key == "precision"
                else "no test image of the class, or only that class",
            )


def summary_metrics(
    y: np.ndarray,
    p: np.ndarray,
    pred: np.ndarray,
    cm: np.ndarray,
    per: dict[str, np.ndarray],
    ordinal: bool,
    n_bins: int,
) -> dict[str, float]:
    """The scalar metrics (:data:`MULTICLASS_KEYS`) as floats, NaN where undefined."""
    support = per["support"]
    onehot = np.eye(p.shape[1])[y]
    correct, confidence = top_label(y, p)
    out = {
        "accuracy": float(np.mean(pred == y)),
        "balanced_accuracy": _nanmean(per["recall"]),
        "macro_f1": _nanmean(per["f1"]),
        "weighted_f1": float(np.nansum(per["f1"] * support) / y.size),
        "kappa": cohen_kappa(cm, quadratic=ordinal),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "ece": expected_calibration_error(correct, confidence, n_bins),
    }
    out.update({f"macro_{key}": _nanmean(per[key]) for key in MACRO_OF})
    return {key: out[key] for key in MULTICLASS_KEYS}


def multiclass_metrics(
    labels: Labels,
    probabilities: Any,
    class_names: Sequence[str] | None,
    ordinal: bool,
    n_bins: int = ECE_BINS,
) -> dict[str, Any]:
    """The multi-class block of metrics.json for ``probabilities`` (n, K) and ``labels``.

    Keys: ``prediction`` (the rule), ``kappa_weights`` (``quadratic`` when ``ordinal``, else
    ``none``), ``ece_bins``, the scalars of :data:`MULTICLASS_KEYS`, ``confusion_matrix``
    (K x K, rows true, columns predicted) and ``per_class`` (one dict per class in class
    order: ``class``, ``index`` and :data:`PER_CLASS_KEYS`). Undefined values are ``None``.
    """
    y, p = check_class_probabilities(labels, probabilities)
    k = p.shape[1]
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} probability columns")
    pred = predict_classes(p)
    cm = confusion_matrix(y, pred, k)
    per = per_class_arrays(y, p, cm)
    _warn_undefined(per, names)
    scalars = summary_metrics(y, p, pred, cm, per, ordinal, n_bins)
    if math.isnan(scalars["kappa"]):
        log.warning("metrics: Cohen's kappa undefined (null): chance agreement is total")
    per_class = [
        {
            "class": names[c],
            "index": c,
            **{
                key: int(per[key][c]) if key == "support" else _clean(per[key][c])
                for key in PER_CLASS_KEYS
            },
        }
        for c in range(k)
    ]
    return {
        "prediction": prediction_rule(k),
        "kappa_weights": "quadratic" if ordinal else "none",
        "ece_bins": int(n_bins),
        **{key: _clean(value) for key, value in scalars.items()},
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
    }
