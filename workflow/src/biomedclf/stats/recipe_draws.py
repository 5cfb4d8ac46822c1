"""Each recipe's metric per training run, on all test images and under image resamples.

A recipe (a training configuration) is trained on several seeds; every run is scored on the
same test images. :class:`RunDraws` holds, per run, the metric on all images and under the
bootstrap resamples of :func:`biomedclf.stats.bootstrap.bootstrap_weights`, computed once per
recipe: :func:`draw_recipes` for any vectorised statistic, :func:`score_draws` for the mean of
per-image scores, :func:`metric_draws` for accuracy, balanced accuracy, AUROC
(:class:`biomedclf.stats.resampled.ResampledScores`, vectorised) or any metric function of
labels and probabilities. Each draws several recipes from one pass over the resamples; recipes
drawn with the same ``image_seed`` and bootstrap size share their image resamples, so any two
of them pair image by image (:func:`biomedclf.stats.recipe.recipe_difference`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from biomedclf.stats.bootstrap import bootstrap_weights
from biomedclf.stats.resampled import RESAMPLED_METRICS, ResampledScores

#: A metric of class probabilities: ``fn(labels (m,), probabilities (m, K)) -> float``.
MetricFunction = Callable[[np.ndarray, np.ndarray], float]

#: A metric under image multiplicities: ``statistic(weights (B, n)) -> array (runs, B)``.
Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RunDraws:
    """One recipe's metric per training run, on all test images and under image resamples.

    ``full`` (S,): each run's value on all ``n_images``; ``draws`` (S, B): under resample ``b``
    of :func:`biomedclf.stats.bootstrap.bootstrap_weights` seeded with ``image_seed``, the same
    resample for every run; ``table`` (S, n): the per-image scores when the metric is their
    mean (accuracy), else ``None``.
    """

    full: np.ndarray
    draws: np.ndarray
    n_images: int
    image_seed: int
    table: np.ndarray | None = None

    @property
    def n_seeds(self) -> int:
        """Number of training runs."""
        return int(self.full.size)

    @property
    def n_bootstrap(self) -> int:
        """Number of image resamples."""
        return int(self.draws.shape[1])

    def select(self, rows: Sequence[int]) -> RunDraws:
        """These draws of the runs ``rows`` (indices) only, in that order."""
        idx = list(rows)
        table = None if self.table is None else self.table[idx]
        return RunDraws(self.full[idx], self.draws[idx], self.n_images, self.image_seed, table)


def draw_recipes(
    statistics: Sequence[Statistic],
    n_images: int,
    *,
    n_bootstrap: int,
    image_seed: int,
    tables: Sequence[np.ndarray | None] | None = None,
) -> list[RunDraws]:
    """:class:`RunDraws` of several recipes' ``statistics`` (multiplicities (B, n) -> values
    (runs, B)) on the same image resamples, drawn once; ``tables`` are their per-image scores
    where the metric is their mean."""
    ones = np.ones((1, n_images), dtype=np.int16)
    full = [np.asarray(f(ones), dtype=np.float64)[:, 0] for f in statistics]
    blocks: list[list[np.ndarray]] = [[] for _ in statistics]
    for w in bootstrap_weights(n_images, n_bootstrap, image_seed):
        for out, f in zip(blocks, statistics):
            out.append(np.asarray(f(w), dtype=np.float64))
    tables = list(tables) if tables is not None else [None] * len(statistics)
    return [
        RunDraws(f, np.concatenate(b, axis=1), int(n_images), int(image_seed), t)
        for f, b, t in zip(full, blocks, tables)
    ]


def _score_statistic(scores: np.ndarray) -> tuple[Statistic, np.ndarray]:
    """The mean of per-image ``scores`` (runs, images) under multiplicities, and the table."""
    table = np.asarray(scores, dtype=np.float64)
    table = table[None] if table.ndim == 1 else table
    if table.ndim != 2:
        raise ValueError(f"per-image scores of shape {table.shape}: expected (runs, images)")
    n = table.shape[1]
    return (lambda w: table @ w.T / n), table


def score_draws(
    scores: Sequence[np.ndarray], *, n_bootstrap: int, image_seed: int
) -> list[RunDraws]:
    """:class:`RunDraws` of the mean of per-image scores (runs, images) of each recipe in
    ``scores`` (e.g. correctness 0/1 for accuracy), on the same image resamples."""
    pairs = [_score_statistic(s) for s in scores]
    sizes = {t.shape[1] for _, t in pairs}
    if len(sizes) != 1:
        raise ValueError(f"per-image scores on {sorted(sizes)} images: score the same images")
    statistics, tables = zip(*pairs)
    n = sizes.pop()
    return draw_recipes(
        statistics, n, n_bootstrap=n_bootstrap, image_seed=image_seed, tables=tables
    )


def _function_statistic(fn: MetricFunction, labels: np.ndarray, probs: np.ndarray) -> Statistic:
    """``fn`` of each run (probs (S, n, K)) on each resample, the images repeated as drawn."""
    images = np.arange(labels.size)

    def statistic(weights: np.ndarray) -> np.ndarray:
        """(runs, B) values of ``fn``."""
        out = np.empty((probs.shape[0], weights.shape[0]))
        for b, row in enumerate(weights):
            idx = np.repeat(images, row)
            for s, p in enumerate(probs):
                out[s, b] = fn(labels[idx], p[idx])
        return out

    return statistic


def _metric_statistic(
    labels: np.ndarray, probabilities: np.ndarray, metric: str | MetricFunction, threshold: float
) -> tuple[Statistic, np.ndarray | None]:
    """``metric`` of one recipe's probabilities under multiplicities, and its per-image
    correctness when the metric is accuracy."""
    if callable(metric):
        probs = np.asarray(probabilities, dtype=np.float64)
        probs = probs[None] if probs.ndim == 2 else probs
        return _function_statistic(metric, labels, probs), None
    if metric not in RESAMPLED_METRICS:
        raise ValueError(f"metric {metric!r}: unknown; use one of {RESAMPLED_METRICS}")
    scores = ResampledScores(labels, probabilities, threshold)
    table = scores.correct if metric == "accuracy" else None
    return (lambda w: scores.statistic(metric, w)), table


def metric_draws(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[np.ndarray],
    metric: str | MetricFunction = "accuracy",
    *,
    n_bootstrap: int,
    image_seed: int,
    threshold: float = 0.5,
) -> list[RunDraws]:
    """:class:`RunDraws` of a metric of each recipe's class probabilities (runs, n, K) or
    (n, K) in ``probabilities``, on the same image resamples.

    ``metric`` is one of :data:`biomedclf.stats.resampled.RESAMPLED_METRICS` (vectorised;
    accuracy keeps its per-image correctness for the exact ANOVA components) or a function
    ``fn(labels, probabilities) -> float``, called once per run and resample (slow).
    ``threshold`` is the call of class 1 for two classes.
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    pairs = [_metric_statistic(labels, p, metric, threshold) for p in probabilities]
    statistics, tables = zip(*pairs)
    return draw_recipes(
        statistics, labels.size, n_bootstrap=n_bootstrap, image_seed=image_seed, tables=tables
    )
