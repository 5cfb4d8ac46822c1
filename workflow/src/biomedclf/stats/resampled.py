"""Metrics of class probabilities under many bootstrap resamples at once.

A resample of the test images is a row of multiplicities (how often each image was drawn,
:func:`biomedclf.stats.bootstrap.bootstrap_weights`); a block of resamples is a matrix of
them, shape (B, n). :class:`ResampledScores` holds one model's probabilities (one row per
seed, S x n x K) and computes a metric for every seed and resample of a block in a few array
operations:

* ``accuracy``: correct calls weighted by multiplicity (a matrix product);
* ``balanced_accuracy``: the mean over classes drawn of the weighted recall (two matrix
  products), as ``sklearn.metrics.balanced_accuracy_score`` on the resampled images;
* ``auroc``: for two classes the AUROC of class 1's probability; for K > 2 the mean over the
  classes of the test split of the one-vs-rest AUROCs, undefined (NaN) in a resample that
  lacks a class's images or all others (``roc_auc_score(multi_class="ovr")`` refuses it too).

The weighted AUROC is the Mann-Whitney statistic with ties counted one half. The negatives are
sorted once per seed and class and cut into the segments that lie between the positives'
scores (:class:`RankPlan`), so a block needs the sum of the negatives' multiplicities per
segment (one ``reduceat``) and a cumulative sum over the few segments; every sum is an exact
integer, so the value equals ``roc_auc_score`` on the resampled data to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biomedclf.evaluate.multiclass import check_class_probabilities

#: Metrics :meth:`ResampledScores.statistic` computes.
RESAMPLED_METRICS = ("accuracy", "balanced_accuracy", "auroc")


@dataclass(frozen=True)
class RankPlan:
    """One score vector ranked against one-vs-rest labels, for :func:`plan_auroc`.

    The negatives in ascending score order are cut into segments at ``starts``; for each
    positive, ``lo`` and ``hi`` index the cumulative segment sums that count the negatives
    scoring strictly below it and at or below it.
    """

    neg: np.ndarray  # indices of the negatives, ascending score (stable)
    pos: np.ndarray  # indices of the positives
    starts: np.ndarray  # first sorted negative of each segment
    lo: np.ndarray  # per positive: segments wholly below it
    hi: np.ndarray  # per positive: segments at or below it


def rank_plan(positive: np.ndarray, scores: np.ndarray) -> RankPlan:
    """The :class:`RankPlan` of ``scores`` (n,) for the boolean labels ``positive`` (n,)."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    neg = np.flatnonzero(~positive)
    neg = neg[np.argsort(scores[neg], kind="mergesort")]
    pos = np.flatnonzero(positive)
    sorted_neg = scores[neg]
    below = np.searchsorted(sorted_neg, scores[pos], side="left")
    at_or_below = np.searchsorted(sorted_neg, scores[pos], side="right")
    cuts = np.unique(np.concatenate([[0], below, at_or_below]))
    starts = cuts[cuts < neg.size]
    lo, hi = np.searchsorted(starts, below), np.searchsorted(starts, at_or_below)
    return RankPlan(neg=neg, pos=pos, starts=starts, lo=lo, hi=hi)


def _sum_types(weights: np.ndarray) -> tuple[type, type]:
    """Types of the segment sums and of the final sums for ``weights``: exact integers
    (32 bits while they cannot overflow), float64 for float weights."""
    if weights.dtype.kind not in "iu":
        return np.float64, np.float64
    small = weights.dtype.itemsize <= 2 and weights.shape[1] < 2**16
    return (np.int32 if small else np.int64), np.int64


def plan_auroc(plan: RankPlan, weights: np.ndarray) -> np.ndarray:
    """AUROC for each row of multiplicities ``weights`` (B, n); NaN without both classes.

    ``U = sum over positives of w_i * (negative weight below + half the tied negative weight)``
    divided by (positive weight x negative weight).
    """
    w = np.atleast_2d(weights)
    if plan.neg.size == 0 or plan.pos.size == 0:
        return np.full(w.shape[0], np.nan)
    seg_type, big = _sum_types(w)
    seg = np.add.reduceat(np.take(w, plan.neg, axis=1), plan.starts, axis=1, dtype=seg_type)
    cum = np.zeros((w.shape[0], seg.shape[1] + 1), dtype=big)
    np.cumsum(seg, axis=1, dtype=big, out=cum[:, 1:])
    w_pos = np.take(w, plan.pos, axis=1).astype(big)
    twice_u = np.einsum("bi,bi->b", w_pos, cum[:, plan.lo] + cum[:, plan.hi])
    denom = w_pos.sum(axis=1) * cum[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (twice_u / 2) / np.where(denom > 0, denom, 1), np.nan)


class ResampledScores:
    """One model's class probabilities, ready to be scored under blocks of multiplicities.

    ``probabilities`` has shape (n, K) or (S, n, K) (one row per seed); ``threshold`` is the
    call of class 1 for K = 2 (argmax for K > 2). :meth:`statistic` returns shape (S, B).
    """

    def __init__(
        self, labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
    ) -> None:
        probs = np.asarray(probabilities, dtype=np.float64)
        probs = probs[None] if probs.ndim == 2 else probs
        if probs.ndim != 3:
            raise ValueError(f"probabilities of shape {probs.shape}: expected (n, K) or (S, n, K)")
        self.labels = np.asarray(labels).astype(np.int64).ravel()
        for row in probs:
            check_class_probabilities(self.labels, row)
        self.probs = probs
        self.n_classes = probs.shape[2]
        if self.n_classes == 2:
            called = (probs[..., 1] >= threshold).astype(np.int64)
        else:
            called = np.argmax(probs, axis=2)
        self.correct = (called == self.labels).astype(np.float64)  # (S, n)
        self.onehot = np.eye(self.n_classes)[self.labels]  # (n, K)
        self._plans: list[list[RankPlan]] | None = None

    @property
    def n(self) -> int:
        """Number of test images."""
        return int(self.labels.size)

    def auroc_classes(self) -> list[int]:
        """Classes whose AUROC enters: class 1 for K = 2; else every class with test images
        and other images beside it."""
        if self.n_classes == 2:
            return [1]
        support = np.bincount(self.labels, minlength=self.n_classes)
        return [k for k in range(self.n_classes) if 0 < support[k] < self.n]

    def plans(self) -> list[list[RankPlan]]:
        """Per seed, the :class:`RankPlan` of each class of :meth:`auroc_classes` (cached)."""
        if self._plans is None:
            self._plans = [
                [rank_plan(self.labels == k, row[:, k]) for k in self.auroc_classes()]
                for row in self.probs
            ]
        return self._plans

    def statistic(self, metric: str, weights: np.ndarray) -> np.ndarray:
        """``metric`` for each seed and each row of ``weights`` (B, n): shape (S, B)."""
        if metric == "accuracy":
            return self.correct @ weights.T / weights.shape[1]
        if metric == "balanced_accuracy":
            return self._balanced_accuracy(weights)
        if metric == "auroc":
            return self._auroc(weights)
        raise ValueError(f"metric {metric!r}: unknown; use one of {RESAMPLED_METRICS}")

    def _balanced_accuracy(self, weights: np.ndarray) -> np.ndarray:
        """Mean over the classes drawn of the weighted recall, (S, B)."""
        s, k = self.correct.shape[0], self.n_classes
        support = weights @ self.onehot  # (B, K)
        hits = self.onehot[None] * self.correct[:, :, None]  # (S, n, K)
        hits = (weights @ hits.transpose(1, 0, 2).reshape(self.n, s * k)).reshape(-1, s, k)
        drawn = support > 0
        recall = np.divide(
            hits, support[:, None, :], out=np.zeros_like(hits), where=drawn[:, None, :]
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return (recall.sum(axis=2) / drawn.sum(axis=1)[:, None]).T

    def _auroc(self, weights: np.ndarray) -> np.ndarray:
        """AUROC of class 1 (K = 2) or the macro one-vs-rest AUROC (K > 2), (S, B)."""
        out = np.full((self.probs.shape[0], weights.shape[0]), np.nan)
        for i, plans in enumerate(self.plans()):
            if plans:
                out[i] = np.mean([plan_auroc(p, weights) for p in plans], axis=0)
        return out
