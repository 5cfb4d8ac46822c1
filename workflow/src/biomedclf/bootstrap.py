"""Percentile-bootstrap intervals over test images, for one model or a paired difference.

A test set of a few hundred images leaves a wide margin of error on an accuracy. The bootstrap
here resamples test images with replacement: :func:`bootstrap_ci` gives the interval of one
model's accuracy or AUROC, :func:`paired_bootstrap_diff` the interval of the difference between
two models evaluated on the same images (each resample applied to both, so the pairing is kept).
Scores with one row per seed are averaged over seeds inside each resample.

The bootstrap is vectorised: a block of resamples is a matrix of image indices, turned into a
matrix of multiplicities (how often each image is drawn), so a statistic over all resamples is
a matrix product (accuracy) or a weighted rank statistic (AUROC, :func:`weighted_auroc`).
Seeds for the resampling come from :func:`derive_seed`, stable across processes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from biomedclf.descriptive import finite_or_none

#: Metrics that the bootstrap, the paired comparisons and the verdicts cover.
BOOTSTRAP_METRICS = ("accuracy", "auroc")

#: Upper bound on the number of matrix cells one block of resamples may hold.
_MAX_CELLS = 4_000_000

Scores = Sequence[float] | np.ndarray
Seed = int | np.random.Generator | None


def _rng(seed: Seed) -> np.random.Generator:
    """``seed`` itself when it is a generator, else a new generator seeded with it."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def derive_seed(seed: int, *keys: object) -> int:
    """A stable seed for one bootstrap, from the study seed and names (``variant``, ...).

    Uses CRC32 of the names, so it is the same across processes and Python versions.
    """
    text = "\x1f".join(str(k) for k in keys)
    return int(np.random.SeedSequence([int(seed), zlib.crc32(text.encode())]).generate_state(1)[0])


def check_confidence(confidence: float) -> None:
    """Raise ``ValueError`` unless ``0 < confidence < 1``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence}: must lie strictly between 0 and 1")


def bootstrap_weights(n: int, n_bootstrap: int, seed: Seed = 0) -> Iterable[np.ndarray]:
    """Yield blocks of resample multiplicities, each of shape (block, n), rows summing to n.

    Each block comes from a matrix of indices drawn uniformly with replacement; row ``b``,
    column ``i`` counts how often image ``i`` was drawn in resample ``b``. Blocks keep memory
    bounded for large test sets; the sequence is fully determined by ``seed``.
    """
    if n < 1:
        raise ValueError("bootstrap needs at least one test image")
    rng = _rng(seed)
    block = max(1, min(n_bootstrap, _MAX_CELLS // n))
    done = 0
    while done < n_bootstrap:
        size = min(block, n_bootstrap - done)
        idx = rng.integers(0, n, size=(size, n))
        offsets = idx + (np.arange(size) * n)[:, None]
        yield np.bincount(offsets.ravel(), minlength=size * n).reshape(size, n)
        done += size


def weighted_auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of ``scores`` for each row of multiplicities ``weights`` (shape (B, n)).

    The Mann-Whitney statistic with ties counted one half, the same value as
    ``sklearn.metrics.roc_auc_score`` on the resampled data. Rows without both classes give NaN.
    Also accepts ``scores`` of shape (S, n) (one row per seed), returning shape (S, B).
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.atleast_2d(np.asarray(weights))
    if scores.ndim == 2:
        return np.stack([weighted_auroc(labels, s, weights) for s in scores])
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    pos = labels[order]
    # group = run of tied scores; ends[g] = index of the last item of group g
    new_group = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    group = np.cumsum(new_group) - 1
    ends = np.r_[np.flatnonzero(new_group)[1:] - 1, scores.size - 1]
    w = weights[:, order]
    cum_neg = np.cumsum(np.where(pos, 0, w), axis=1)[:, ends]  # negatives up to group end
    tied_neg = np.diff(cum_neg, axis=1, prepend=0)
    below_neg = cum_neg - tied_neg
    g_pos = group[pos]
    w_pos = w[:, pos]
    u = np.sum(w_pos * (below_neg[:, g_pos] + 0.5 * tied_neg[:, g_pos]), axis=1)
    denom = w_pos.sum(axis=1) * cum_neg[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, u / np.where(denom > 0, denom, 1), np.nan)


def _statistic(
    metric: str, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float
) -> np.ndarray:
    """``metric`` of scores (n,) or (S, n) under multiplicities (B, n): shape (B,) or (S, B)."""
    if metric == "accuracy":
        correct = ((np.asarray(scores) >= threshold).astype(int) == labels).astype(float)
        return correct @ weights.T / weights.shape[1]
    if metric == "auroc":
        return weighted_auroc(labels, scores, weights)
    raise ValueError(f"metric {metric!r}: unknown; use one of {BOOTSTRAP_METRICS}")


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None, int]:
    """Percentile interval of the finite ``values`` and how many there were."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None, 0
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high), int(finite.size)


def bootstrap_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Scores,
    metric: str = "accuracy",
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Percentile-bootstrap interval of ``metric`` (``accuracy`` or ``auroc``), resampling images.

    ``scores`` are positive-class probabilities, shape (n,) or (S, n); with several rows
    (seeds) the statistic is the mean over rows, computed inside each resample.
    Returns ``{"estimate", "low", "high", "n_bootstrap", "n_valid", "confidence"}``; the
    estimate is the statistic on the full test set. ``n_valid`` counts resamples where the
    statistic was defined (AUROC needs both classes).
    """
    check_confidence(confidence)
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    n = labels.shape[0]
    full = _statistic(metric, labels, scores, np.ones((1, n)), threshold)
    estimate = float(np.mean(full)) if np.all(np.isfinite(full)) else float("nan")
    draws = []
    for w in bootstrap_weights(n, n_bootstrap, seed):
        stat = _statistic(metric, labels, scores, w, threshold)
        draws.append(stat.mean(axis=0) if stat.ndim == 2 else stat)
    low, high, n_valid = _interval(np.concatenate(draws), confidence)
    return {
        "estimate": finite_or_none(estimate),
        "low": low,
        "high": high,
        "n_bootstrap": int(n_bootstrap),
        "n_valid": n_valid,
        "confidence": float(confidence),
    }


def paired_bootstrap_diff(
    labels: Sequence[int] | np.ndarray,
    baseline_scores: Scores,
    variant_scores: Scores,
    metric: str = "accuracy",
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: Seed = 0,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Paired-bootstrap interval of ``metric(variant) - metric(baseline)`` on the same images.

    Both score arrays have shape (n,) (one seed) or (S, n) (row ``s`` of the variant paired
    with row ``s`` of the baseline). Each resample draws test images once and applies them to
    both models, so the pairing is kept; with several seeds the difference is averaged over
    seeds inside each resample (the *pooled* difference).
    Returns ``{"difference", "low", "high", "n_bootstrap", "n_valid", "confidence"}``.
    """
    check_confidence(confidence)
    labels = np.asarray(labels, dtype=int)
    base = np.asarray(baseline_scores, dtype=float)
    var = np.asarray(variant_scores, dtype=float)
    if base.shape != var.shape:
        raise ValueError(
            f"paired scores differ in shape ({base.shape} vs {var.shape}); pair the same "
            "seeds and the same test images"
        )
    n = labels.shape[0]

    def diff(w: np.ndarray) -> np.ndarray:
        """Variant minus baseline under multiplicities ``w``, averaged over seeds."""
        d = _statistic(metric, labels, var, w, threshold) - _statistic(
            metric, labels, base, w, threshold
        )
        return d.mean(axis=0) if d.ndim == 2 else d

    full = diff(np.ones((1, n)))[0]
    draws = np.concatenate([diff(w) for w in bootstrap_weights(n, n_bootstrap, seed)])
    low, high, n_valid = _interval(draws, confidence)
    return {
        "difference": finite_or_none(float(full)),
        "low": low,
        "high": high,
        "n_bootstrap": int(n_bootstrap),
        "n_valid": n_valid,
        "confidence": float(confidence),
    }
