"""Calibration of predicted probabilities: reliability-diagram data and the expected
calibration error (ECE), with equal-width bins over [0, 1].

A model is calibrated when, among the images it gives probability ``p``, a fraction ``p`` is
positive. :func:`reliability_curve` bins the probabilities and reports per bin the mean
probability against the observed fraction of positives; :func:`expected_calibration_error`
averages their gap, weighted by the bins' sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _bin_index(probabilities: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each probability: ``floor(p * n_bins)``, with 1.0 in the last bin."""
    if n_bins < 1:
        raise ValueError(f"calibration bins {n_bins}: need at least 1")
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    return np.minimum((p * n_bins).astype(int), n_bins - 1)


def reliability_curve(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    n_bins: int = 10,
) -> list[dict[str, Any]]:
    """Reliability-diagram data over ``n_bins`` equal-width bins of [0, 1].

    One dict per bin: ``lower``, ``upper``, ``count``, ``mean_probability`` (mean predicted
    probability in the bin) and ``observed_frequency`` (fraction of positives); the last two
    are ``None`` for empty bins. The last bin includes 1.0.
    """
    labels = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    idx = _bin_index(p, n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=labels, minlength=n_bins)
    bins = []
    for k in range(n_bins):
        c = int(counts[k])
        bins.append(
            {
                "lower": k / n_bins,
                "upper": (k + 1) / n_bins,
                "count": c,
                "mean_probability": float(sum_p[k] / c) if c else None,
                "observed_frequency": float(sum_y[k] / c) if c else None,
            }
        )
    return bins


def expected_calibration_error(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    n_bins: int = 10,
) -> float:
    """Expected calibration error with equal-width bins.

    ``sum_k (n_k / N) * |mean probability_k - fraction of positives_k|``, over the
    positive-class probability (the reliability diagram's quantity); NaN without images.
    """
    bins = reliability_curve(labels, probabilities, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return float("nan")
    return float(
        sum(
            b["count"] / total * abs(b["mean_probability"] - b["observed_frequency"])
            for b in bins
            if b["count"]
        )
    )
