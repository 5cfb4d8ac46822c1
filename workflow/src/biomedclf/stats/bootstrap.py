"""Percentile-bootstrap intervals over test images, for one model or a paired difference.

A test set of a few hundred images leaves a wide margin of error on an accuracy. The bootstrap
here resamples test images with replacement: :func:`bootstrap_intervals` gives the intervals of
one model's metrics, :func:`paired_bootstrap_diffs` those of the differences between two models
evaluated on the same images (each resample applied to both, so the pairing is kept).
Probabilities with one row per seed are averaged over seeds inside each resample. The metrics
(:data:`BOOTSTRAP_METRICS`) are accuracy, balanced accuracy and AUROC (macro one-vs-rest for
more than two classes), computed by :class:`biomedclf.stats.resampled.ResampledScores`;
:func:`bootstrap_ci` and :func:`paired_bootstrap_diff` take two-class scores (the probability
of class 1) and one metric.

The bootstrap is vectorised: a block of resamples is a matrix of image indices, turned into a
matrix of multiplicities (how often each image is drawn), so a statistic over all resamples is
a matrix product (accuracy) or a weighted rank statistic (AUROC, :func:`weighted_auroc`).
Metrics of one :data:`RESAMPLE_GROUPS` entry share their resamples. Seeds for the resampling
come from :func:`derive_seed`, stable across processes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from biomedclf.stats.descriptive import finite_or_none
from biomedclf.stats.resampled import RESAMPLED_METRICS, ResampledScores, plan_auroc, rank_plan

#: Metrics that the bootstrap and the paired comparisons cover (verdicts: accuracy).
BOOTSTRAP_METRICS = RESAMPLED_METRICS

#: Metrics computed from the same resamples, by the name that seeds them (derive_seed).
RESAMPLE_GROUPS = {"accuracy": ("accuracy", "balanced_accuracy"), "auroc": ("auroc",)}

#: Test sets at least this large count multiplicities row by row (faster than one bincount).
_ROWWISE_FROM = 512

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


def _multiplicities(idx: np.ndarray, n: int) -> np.ndarray:
    """Counts of each image in each row of ``idx`` (block, n), as small integers."""
    dtype = np.int16 if n < 2**15 else np.int32
    if n >= _ROWWISE_FROM:
        out = np.empty(idx.shape, dtype=dtype)
        for b, row in enumerate(idx):
            out[b] = np.bincount(row, minlength=n)
        return out
    offsets = idx + (np.arange(idx.shape[0]) * n)[:, None]
    counts = np.bincount(offsets.ravel(), minlength=idx.size)
    return counts.reshape(idx.shape).astype(dtype)


def bootstrap_weights(n: int, n_bootstrap: int, seed: Seed) -> Iterable[np.ndarray]:
    """Yield blocks of resample multiplicities, each of shape (block, n), rows summing to n.

    Each block comes from a matrix of indices drawn uniformly with replacement; row ``b``,
    column ``i`` counts how often image ``i`` was drawn in resample ``b`` (int16, or int32 from
    32,768 images). Blocks keep memory bounded for large test sets; the sequence is fully
    determined by ``seed``.
    """
    if n < 1:
        raise ValueError("bootstrap needs at least one test image")
    rng = _rng(seed)
    block = max(1, min(n_bootstrap, _MAX_CELLS // n))
    done = 0
    while done < n_bootstrap:
        size = min(block, n_bootstrap - done)
        yield _multiplicities(rng.integers(0, n, size=(size, n)), n)
        done += size


def weighted_auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of ``scores`` for each row of multiplicities ``weights`` (shape (B, n)).

    The Mann-Whitney statistic with ties counted one half, the same value as
    ``sklearn.metrics.roc_auc_score`` on the resampled data. Rows without both classes give NaN.
    Also accepts ``scores`` of shape (S, n) (one row per seed), returning shape (S, B).
    """
    positive = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.atleast_2d(np.asarray(weights))
    if scores.ndim == 2:
        return np.stack([weighted_auroc(positive, s, weights) for s in scores])
    return plan_auroc(rank_plan(positive, scores), weights)


def percentile_interval(
    values: np.ndarray, confidence: float
) -> tuple[float | None, float | None, int]:
    """Percentile interval at level ``confidence`` of the finite ``values`` and how many there
    were (``None`` ends without any)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None, 0
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high), int(finite.size)


def _binary(scores: Scores) -> np.ndarray:
    """Two-class probabilities ``[1 - p, p]`` (last axis) of class-1 scores (n,) or (S, n)."""
    p = np.asarray(scores, dtype=float)
    return np.stack([1.0 - p, p], axis=-1)


def _check_metrics(metrics: Sequence[str]) -> None:
    """Raise ``ValueError`` for a metric the bootstrap does not cover."""
    for m in metrics:
        if m not in BOOTSTRAP_METRICS:
            raise ValueError(f"metric {m!r}: unknown; use one of {BOOTSTRAP_METRICS}")


def _result(
    value: float, draws: list[np.ndarray], confidence: float, n_bootstrap: int, key: str
) -> dict[str, Any]:
    """``{key: value, "low", "high", "n_bootstrap", "n_valid", "confidence"}``."""
    low, high, n_valid = percentile_interval(np.concatenate(draws), confidence)
    return {
        key: finite_or_none(value),
        "low": low,
        "high": high,
        "n_bootstrap": int(n_bootstrap),
        "n_valid": n_valid,
        "confidence": float(confidence),
    }


def bootstrap_intervals(
    labels: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: Seed,
    threshold: float = 0.5,
) -> dict[str, dict[str, Any]]:
    """Percentile-bootstrap intervals of ``metrics`` of one model, from the same resamples.

    ``probabilities`` are class probabilities, shape (n, K) or (S, n, K); with several rows
    (seeds) each statistic is the mean over rows, computed inside each resample. Returns per
    metric ``{"estimate", "low", "high", "n_bootstrap", "n_valid", "confidence"}``; the
    estimate is the statistic on the full test set, ``n_valid`` counts the resamples where it
    was defined (AUROC needs both classes, or every class for K > 2).
    """
    check_confidence(confidence)
    _check_metrics(metrics)
    scores = ResampledScores(np.asarray(labels), probabilities, threshold)
    ones = np.ones((1, scores.n), dtype=np.int16)
    draws: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for w in bootstrap_weights(scores.n, n_bootstrap, seed):
        for m in metrics:
            draws[m].append(scores.statistic(m, w).mean(axis=0))
    out = {}
    for m in metrics:
        full = scores.statistic(m, ones)
        estimate = float(np.mean(full)) if np.all(np.isfinite(full)) else float("nan")
        out[m] = _result(estimate, draws[m], confidence, n_bootstrap, "estimate")
    return out


def paired_bootstrap_diffs(
    labels: Sequence[int] | np.ndarray,
    baseline_probabilities: np.ndarray,
    variant_probabilities: np.ndarray,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: Seed,
    threshold: float = 0.5,
) -> dict[str, dict[str, Any]]:
    """Paired-bootstrap intervals of ``metric(variant) - metric(baseline)`` on the same images.

    Both probability arrays have shape (n, K) (one seed) or (S, n, K) (row ``s`` of the
    variant paired with row ``s`` of the baseline). Each resample draws test images once and
    applies them to both models, so the pairing is kept; with several seeds the difference is
    averaged over seeds inside each resample (the *pooled* difference). Returns per metric
    ``{"difference", "low", "high", "n_bootstrap", "n_valid", "confidence"}``.
    """
    check_confidence(confidence)
    _check_metrics(metrics)
    base_p, var_p = np.asarray(baseline_probabilities), np.asarray(variant_probabilities)
    if base_p.shape != var_p.shape:
        raise ValueError(
            f"paired scores differ in shape ({base_p.shape} vs {var_p.shape}); pair the same "
            "seeds and the same test images"
        )
    base = ResampledScores(np.asarray(labels), base_p, threshold)
    var = ResampledScores(np.asarray(labels), var_p, threshold)

    def diff(metric: str, w: np.ndarray) -> np.ndarray:
        """Variant minus baseline under multiplicities ``w``, averaged over seeds."""
        return (var.statistic(metric, w) - base.statistic(metric, w)).mean(axis=0)

    draws: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for w in bootstrap_weights(base.n, n_bootstrap, seed):
        for m in metrics:
            draws[m].append(diff(m, w))
    ones = np.ones((1, base.n), dtype=np.int16)
    return {
        m: _result(float(diff(m, ones)[0]), draws[m], confidence, n_bootstrap, "difference")
        for m in metrics
    }


def bootstrap_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Scores,
    metric: str = "accuracy",
    *,
    n_bootstrap: int,
    confidence: float,
    seed: Seed,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Percentile-bootstrap interval of one ``metric`` of two-class ``scores`` (class-1
    probabilities, shape (n,) or (S, n)): :func:`bootstrap_intervals` of that metric."""
    _check_metrics([metric])
    return bootstrap_intervals(
        labels,
        _binary(scores),
        [metric],
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        threshold=threshold,
    )[metric]


def paired_bootstrap_diff(
    labels: Sequence[int] | np.ndarray,
    baseline_scores: Scores,
    variant_scores: Scores,
    metric: str = "accuracy",
    *,
    n_bootstrap: int,
    confidence: float,
    seed: Seed,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Paired-bootstrap interval of one ``metric`` difference of two-class scores (class-1
    probabilities, shape (n,) or (S, n)): :func:`paired_bootstrap_diffs` of that metric."""
    _check_metrics([metric])
    return paired_bootstrap_diffs(
        labels,
        _binary(baseline_scores),
        _binary(variant_scores),
        [metric],
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        seed=seed,
        threshold=threshold,
    )[metric]
