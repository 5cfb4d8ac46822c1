"""Which variant is best, and is its lead real? The ``ranking`` entry of stats.json.

The variants are ranked by the study's primary metric (``statistics.primary``: accuracy,
balanced accuracy or AUROC, macro one-vs-rest for more than two classes), each with the
bootstrap interval of its mean over seeds. The best variant is then compared with every other
on the same test images and the paired seeds: the pooled paired-bootstrap difference (best
minus other) with its interval, and a two-sided bootstrap p-value, the smaller share of
resampled differences on either side of zero, doubled (``min(1, 2 min(P(d <= 0), P(d >= 0)))``).
With several variants behind the best one, several tests are made at once; the p-values are
therefore adjusted with Holm's step-down method (:func:`holm`), and the lead over a variant
counts as real when its adjusted p-value is below ``1 - confidence``. The result is a
:class:`biomedclf.stats.records.Ranking`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biomedclf.evaluate.run_results import VariantData
from biomedclf.stats.bootstrap import bootstrap_weights, derive_seed
from biomedclf.stats.descriptive import finite_or_none
from biomedclf.stats.records import Lead, RankedVariant, Ranking
from biomedclf.stats.resampled import ResampledScores
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.variant_records import VariantStats


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (family-wise error rate), in input order.

    The i-th smallest p-value is multiplied by ``m - i`` (i from 0), a running maximum keeps
    the adjusted values in the order of the raw ones, and values are capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return [float(x) for x in out]


def bootstrap_p_value(draws: np.ndarray) -> float | None:
    """Two-sided p-value of "no difference" from resampled differences (finite ones)."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None
    tail = min(np.mean(finite <= 0), np.mean(finite >= 0))
    return float(min(1.0, 2.0 * tail))


def paired_draws(
    labels: np.ndarray,
    best: np.ndarray,
    other: np.ndarray,
    metric: str,
    n_bootstrap: int,
    seed: int,
) -> tuple[float, np.ndarray]:
    """``metric(best) - metric(other)`` on the full test set and over the resamples, pooled
    over paired seeds (probabilities (S, n, K) each)."""
    a, b = ResampledScores(labels, best), ResampledScores(labels, other)
    ones = np.ones((1, a.n), dtype=np.int16)
    full = float((a.statistic(metric, ones) - b.statistic(metric, ones)).mean(axis=0)[0])
    draws = [
        (a.statistic(metric, w) - b.statistic(metric, w)).mean(axis=0)
        for w in bootstrap_weights(a.n, n_bootstrap, seed)
    ]
    return full, np.concatenate(draws)


def _order(variant_stats: dict[str, VariantStats], metric: str) -> list[RankedVariant]:
    """Variants by the seed-mean estimate of ``metric``, best first (ties: by name)."""
    rows = []
    for name, vs in variant_stats.items():
        ci = getattr(vs.bootstrap.seed_mean, metric)
        rows.append(RankedVariant(variant=name, estimate=ci.estimate, low=ci.low, high=ci.high))
    return sorted(
        rows, key=lambda r: (-(r.estimate if r.estimate is not None else -np.inf), r.variant)
    )


def _versus(
    best: VariantData, other: VariantData, metric: str, settings: StatisticsSettings
) -> dict[str, Any]:
    """Best minus ``other`` on their paired seeds: the fields of :class:`Lead` but the
    adjusted p-value and the decision (difference, interval, raw p-value)."""
    seeds = [s for s in best.seeds if s in other.seeds]
    if not seeds:
        raise ValueError(
            f"ranking: {best.name} (seeds {best.seeds}) and {other.name} (seeds {other.seeds}) "
            "share no seed to pair; run every variant with the same training.seeds"
        )
    bp = best.probs[[best.seeds.index(s) for s in seeds]]
    op = other.probs[[other.seeds.index(s) for s in seeds]]
    rng_seed = derive_seed(settings.seed, "ranking", other.name, metric)
    full, draws = paired_draws(best.labels, bp, op, metric, settings.n_bootstrap, rng_seed)
    finite = draws[np.isfinite(draws)]
    alpha = (1.0 - settings.confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1 - alpha]) if finite.size else (np.nan, np.nan)
    return {
        "variant": other.name,
        "seeds": seeds,
        "difference": finite_or_none(full),
        "low": finite_or_none(float(low)),
        "high": finite_or_none(float(high)),
        "p_value": bootstrap_p_value(draws),
    }


def ranking_statistics(
    data: dict[str, VariantData],
    variant_stats: dict[str, VariantStats],
    settings: StatisticsSettings,
) -> Ranking:
    """The ``ranking`` entry of stats.json (format in workflow/CONTRACTS.md): the variants
    ranked by ``settings.primary``, the best against each other with Holm-adjusted p-values."""
    metric = settings.primary
    order = _order(variant_stats, metric)
    best = order[0].variant
    versus = [_versus(data[best], data[row.variant], metric, settings) for row in order[1:]]
    adjusted = iter(holm([v["p_value"] for v in versus if v["p_value"] is not None]))
    alpha = 1.0 - settings.confidence
    leads = []
    for v in versus:
        p_holm = next(adjusted) if v["p_value"] is not None else None
        leads.append(Lead(**v, p_holm=p_holm, lead_is_real=p_holm is not None and p_holm < alpha))
    return Ranking(
        metric=metric, alpha=alpha, correction="holm", order=order, best=best, versus=leads
    )
