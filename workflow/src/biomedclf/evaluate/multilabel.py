"""Metrics of multi-label predictions (one probability per image and label), in numpy.

Each label is a two-class problem on the entries its mask keeps (ignored entries, uncertain or
unknown labels under ``ignore``, count nowhere). Per label: AUROC and average precision of its
probability, and F1, sensitivity, specificity and precision of calling ``p >= threshold``
positive, with a threshold per label chosen on validation by :func:`choose_thresholds` (of
:mod:`biomedclf.train.threshold`: the training job chooses and stores them):
Youden's J (sensitivity + specificity - 1) maximised on the label's kept validation entries,
as :func:`biomedclf.train.threshold.youden_threshold` chooses a two-class model's (0.5 when the
label's validation entries hold one class). The definitions are scikit-learn's (per label
``roc_auc_score``, ``average_precision_score``, ``f1_score``, ``recall_score``; the tests check
each value, and the macro and micro means, against scikit-learn with and without masks),
computed with :mod:`biomedclf.evaluate.metrics` because importing ``sklearn.metrics`` costs
seconds per job.

Macro means average the labels whose value is defined; micro means pool every kept entry of
every label (the calls at each label's own threshold; AUROC and average precision of the pooled
scores, scikit-learn's ``average="micro"``). The headline, ``mean_auroc``, is the macro AUROC
(CheXNet's mean AUROC over the findings). A label whose kept test entries hold one class gets
``None`` for AUROC and average precision and a note in ``per_label``; it never raises.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from biomedclf.evaluate.metrics import auroc, average_precision, binary_metrics
from biomedclf.train.threshold import check_multilabel
from biomedclf.train.threshold import choose_thresholds as choose_thresholds  # re-exported

log = logging.getLogger(__name__)

#: How :func:`choose_thresholds` picks each label's threshold (metrics.json ``threshold_rule``).
THRESHOLD_RULE = "per label, Youden's J maximised on the validation split's kept entries"
#: Metrics per label (``n`` kept entries, ``positives`` among them).
PER_LABEL_KEYS = (
    "n",
    "positives",
    "threshold",
    "auroc",
    "average_precision",
    "f1",
    "sensitivity",
    "specificity",
    "precision",
)
#: Per-label metrics that have ``macro_*`` and ``micro_*`` means.
MEAN_OF = ("auroc", "average_precision", "f1", "sensitivity", "specificity", "precision")


def _clean(value: float) -> float | None:
    """``value`` as a float, or ``None`` when it is NaN."""
    value = float(value)
    return None if math.isnan(value) else value


def label_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """:data:`PER_LABEL_KEYS` and a ``note`` for one label's kept entries ``y``, ``p``."""
    out: dict[str, Any] = {"n": int(y.size), "positives": int(y.sum()), "threshold": threshold}
    if y.size == 0:
        out.update({key: None for key in MEAN_OF})
        return {**out, "note": "no kept entry: every metric undefined"}
    m = binary_metrics(y, p, threshold)
    out.update({key: m[key] for key in MEAN_OF})
    note = None
    if np.unique(y).size < 2:
        which = "positives" if y[0] == 1 else "negatives"
        note = (
            f"only {which} among the {y.size} kept entries: AUROC and average precision undefined"
        )
    return {**out, "note": note}


def _pooled(y: np.ndarray, p: np.ndarray, called: np.ndarray) -> dict[str, float]:
    """The micro means over pooled entries (flat arrays)."""
    tp = float(np.sum(called & (y == 1)))
    fp = float(np.sum(called & (y == 0)))
    fn = float(np.sum(~called & (y == 1)))
    tn = float(y.size - tp - fp - fn)
    nan = float("nan")
    both = y.size > 0 and 0 < y.sum() < y.size
    return {
        "auroc": auroc(y, p) if both else nan,
        "average_precision": average_precision(y, p) if both else nan,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else nan,
        "sensitivity": tp / (tp + fn) if tp + fn else nan,
        "specificity": tn / (tn + fp) if tn + fp else nan,
        "precision": tp / (tp + fp) if tp + fp else nan,
    }


def _macro(per_label: list[dict[str, Any]], key: str) -> float:
    """Mean of a per-label metric over the labels where it is defined (NaN without any)."""
    values = [row[key] for row in per_label if row[key] is not None]
    return float(np.mean(values)) if values else float("nan")


def multilabel_metrics(
    labels: Any,
    probabilities: Any,
    thresholds: Sequence[float] | np.ndarray,
    names: Sequence[str],
    mask: Any = None,
) -> dict[str, Any]:
    """The multi-label block of metrics.json for ``probabilities`` (n, L), 0/1 ``labels`` and
    the ``mask`` of kept entries, calling each label at its own threshold.

    Keys: ``threshold_rule``, ``labels``, ``mean_auroc`` (the headline, = ``macro_auroc``),
    ``n_labels_auroc`` (labels with a defined AUROC), ``macro_*`` and ``micro_*`` of
    :data:`MEAN_OF`, and ``per_label`` (per label ``label``, ``index``, :data:`PER_LABEL_KEYS`
    and ``note``). Undefined values are ``None``.
    """
    y, p, kept = check_multilabel(labels, probabilities, mask)
    thr = np.asarray(thresholds, dtype=np.float64).ravel()
    if len(names) != p.shape[1] or thr.size != p.shape[1]:
        raise ValueError(f"{len(names)} names and {thr.size} thresholds for {p.shape[1]} labels")
    per_label = []
    for j, name in enumerate(names):
        rows = kept[:, j]
        block = label_metrics(y[rows, j], p[rows, j], float(thr[j]))
        if block["note"]:
            log.warning("metrics: label %r: %s", name, block["note"])
        per_label.append({"label": str(name), "index": j, **block})
    macro = {f"macro_{key}": _clean(_macro(per_label, key)) for key in MEAN_OF}
    pooled = _pooled(y[kept], p[kept], (p >= thr[None, :])[kept])
    return {
        "threshold_rule": THRESHOLD_RULE,
        "labels": [str(n) for n in names],
        "mean_auroc": macro["macro_auroc"],
        "n_labels_auroc": sum(row["auroc"] is not None for row in per_label),
        **macro,
        **{f"micro_{key}": _clean(value) for key, value in pooled.items()},
        "per_label": per_label,
    }
