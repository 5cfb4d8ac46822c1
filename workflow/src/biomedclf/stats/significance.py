"""Is a paired difference real? McNemar's exact test, the verdict in words, the effect size.

Two models evaluated on the same test images are compared on those images:
:func:`mcnemar_exact` tests the images only one of them got right; :func:`verdict` turns a
paired difference and its bootstrap interval (:mod:`biomedclf.stats.bootstrap`) into ``better``,
``worse`` or ``no detectable difference``, with the effect size as
:func:`format_difference` writes it (percentage points for accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Human-readable metric names.
METRIC_LABELS = {
    "accuracy": "test accuracy",
    "auroc": "AUROC",
    "balanced_accuracy": "balanced accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "precision": "precision",
    "f1": "F1",
    "average_precision": "average precision",
    "brier": "Brier score",
}

#: Metrics whose differences are written in their own units (3 decimals), not in pp.
UNIT_METRICS = ("auroc", "average_precision", "brier")

#: Fewer seeds than this make a comparison (and a variant) carry a warning.
MIN_SEEDS = 3

#: The verdicts :func:`verdict` gives.
VERDICTS = ("better", "worse", "no detectable difference", "undetermined")


def mcnemar_exact(
    baseline_correct: Sequence[bool] | np.ndarray, variant_correct: Sequence[bool] | np.ndarray
) -> dict[str, Any]:
    """McNemar's exact test on paired correct/incorrect outcomes.

    ``baseline_only`` counts images the baseline got right and the variant wrong,
    ``variant_only`` the reverse. Under the null hypothesis of equal error rates the
    discordant pairs split 50:50; the two-sided p-value is
    ``scipy.stats.binomtest(variant_only, baseline_only + variant_only, 0.5)`` (1.0 when there
    is no discordant pair). Returns ``{"baseline_only", "variant_only", "discordant", "n",
    "p_value"}``.
    """
    from scipy.stats import binomtest

    b = np.asarray(baseline_correct, dtype=bool)
    v = np.asarray(variant_correct, dtype=bool)
    if b.shape != v.shape:
        raise ValueError(f"paired outcomes differ in length ({b.shape} vs {v.shape})")
    baseline_only = int(np.sum(b & ~v))
    variant_only = int(np.sum(~b & v))
    discordant = baseline_only + variant_only
    p = 1.0 if discordant == 0 else float(binomtest(variant_only, discordant, 0.5).pvalue)
    return {
        "baseline_only": baseline_only,
        "variant_only": variant_only,
        "discordant": discordant,
        "n": int(b.size),
        "p_value": min(1.0, p),
    }


def format_difference(
    difference: float | None,
    low: float | None,
    high: float | None,
    metric: str = "accuracy",
    confidence: float | None = None,
) -> str:
    """``+5.0 pp (95% CI +1.2 to +8.8)`` for accuracy; ``+0.031 (95% CI ...)`` for AUROC.

    ``n/a`` without a difference; the interval is left out when either end is ``None``.
    ``confidence`` is the interval's level (``statistics.confidence``), needed to print one.
    """
    if difference is None:
        return "n/a"
    if low is not None and high is not None and confidence is None:
        raise ValueError("format_difference: an interval needs its confidence level")
    pct = f"{confidence * 100:g}%" if confidence is not None else ""
    if metric in UNIT_METRICS:
        fmt = "{:+.3f}"
        unit = ""
    else:
        fmt = "{:+.1f}"
        unit = " pp"
        difference, low, high = (None if x is None else 100 * x for x in (difference, low, high))
    text = fmt.format(difference) + unit
    if low is not None and high is not None:
        text += f" ({pct} CI {fmt.format(low)} to {fmt.format(high)})"
    return text


def verdict(
    difference: float | None,
    low: float | None,
    high: float | None,
    metric: str = "accuracy",
    baseline: str = "baseline",
    variant: str = "variant",
    confidence: float | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Turn a paired difference (variant minus baseline) and its interval into words.

    ``better`` when the whole interval lies above zero, ``worse`` when below, otherwise
    ``no detectable difference``; ``undetermined`` without a difference or interval. The text
    carries the effect size: the difference in percentage points for accuracy, in AUROC units
    for AUROC, with the interval at level ``confidence`` (required with an interval);
    ``label`` names the metric in the text (default :data:`METRIC_LABELS`). Returns
    ``{"verdict", "metric", "text"}``.
    """
    if difference is None or low is None or high is None:
        return {
            "verdict": "undetermined",
            "metric": metric,
            "text": f"{variant} vs {baseline}: {metric} difference could not be computed",
        }
    if low > 0:
        word = "better"
    elif high < 0:
        word = "worse"
    else:
        word = "no detectable difference"
    effect = format_difference(difference, low, high, metric, confidence)
    label = label or METRIC_LABELS.get(metric, metric)
    if word == "no detectable difference":
        text = f"no detectable difference between {variant} and {baseline} in {label}: {effect}"
    else:
        text = f"{variant} is {word} than {baseline} in {label}: {effect}"
    return {"verdict": word, "metric": metric, "text": text}
