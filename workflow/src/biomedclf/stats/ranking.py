"""Which variant is best, and is its lead real? The ``ranking`` entry of stats.json.

The variants are ranked by the study's primary metric (``statistics.primary``: accuracy,
balanced accuracy or AUROC, macro one-vs-rest for more than two classes), the mean over each
variant's runs, each with its recipe-level interval (training runs and test images:
:func:`biomedclf.stats.recipe.recipe_mean`) and the interval of these trained models (test
images only). The best variant is then compared with every other on the paired seeds and the
study's shared image resamples (:mod:`biomedclf.stats.study_draws`): the recipe-level
difference (best minus other, :func:`biomedclf.stats.recipe.recipe_difference`) with its
interval and two-sided p-value, and the difference for these trained models. With several
variants behind the best one, several tests are made at once; the recipe p-values are
therefore adjusted with Holm's step-down method (:func:`holm`), and the lead over a variant
counts as real when its adjusted p-value is below ``1 - confidence``. The result is a
:class:`biomedclf.stats.records.Ranking`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biomedclf.stats.comparison_records import RecipeDifference, trained_models_record
from biomedclf.stats.recipe import recipe_difference, recipe_mean
from biomedclf.stats.records import Bounds, Lead, RankedVariant, Ranking
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.study_draws import VariantDraws, run_seed, run_seeds


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


def _order(
    draws: dict[str, VariantDraws], metric: str, settings: StatisticsSettings
) -> list[RankedVariant]:
    """Variants by the mean over their runs of ``metric``, best first (ties: by name), with
    the recipe-level interval and that of these trained models."""
    rows = []
    for name, d in draws.items():
        r = recipe_mean(
            d.runs[metric],
            confidence=settings.confidence,
            seed=run_seed(settings.seed, name, metric),
        )
        tm = r["trained_models"]
        rows.append(
            RankedVariant(
                variant=name,
                n_seeds=len(d.seeds),
                estimate=r["estimate"],
                low=r["low"],
                high=r["high"],
                trained_models=Bounds(low=tm["low"], high=tm["high"]),
            )
        )
    return sorted(
        rows, key=lambda r: (-(r.estimate if r.estimate is not None else -np.inf), r.variant)
    )


def _versus(
    best: VariantDraws, other: VariantDraws, metric: str, settings: StatisticsSettings
) -> dict[str, Any]:
    """Best minus ``other`` on their paired seeds: the fields of :class:`Lead` but the
    adjusted p-value and the decision."""
    seeds = [s for s in best.seeds if s in other.seeds]
    if not seeds:
        raise ValueError(
            f"ranking: {best.name} (seeds {best.seeds}) and {other.name} (seeds {other.seeds}) "
            "share no seed to pair; run every variant with the same training.seeds"
        )
    result = recipe_difference(
        other.on(metric, seeds),
        best.on(metric, seeds),
        confidence=settings.confidence,
        seed=run_seeds(settings.seed, other.name, best.name, metric),
        baseline_seeds=seeds,
        variant_seeds=seeds,
    )
    return {
        "variant": other.name,
        "seeds": seeds,
        "recipe": RecipeDifference.from_result(result),
        "trained_models": trained_models_record(result),
    }


def ranking_statistics(draws: dict[str, VariantDraws], settings: StatisticsSettings) -> Ranking:
    """The ``ranking`` entry of stats.json (format in workflow/CONTRACTS.md): the variants
    ranked by ``settings.primary`` from their metrics under the study's image resamples
    (``draws``), the best against each other with Holm-adjusted recipe-level p-values."""
    metric = settings.primary
    order = _order(draws, metric, settings)
    best = order[0].variant
    versus = [_versus(draws[best], draws[row.variant], metric, settings) for row in order[1:]]
    raw = [v["recipe"].p_value for v in versus]
    adjusted = iter(holm([p for p in raw if p is not None]))
    alpha = 1.0 - settings.confidence
    leads = []
    for v, p in zip(versus, raw):
        p_holm = next(adjusted) if p is not None else None
        leads.append(Lead(**v, p_holm=p_holm, lead_is_real=p_holm is not None and p_holm < alpha))
    return Ranking(
        metric=metric, alpha=alpha, correction="holm", order=order, best=best, versus=leads
    )
