"""Every variant's metrics under one shared set of test-image resamples, drawn once per study.

Every statistic of stats.json that resamples the test images comes from these draws. For
each metric group of :data:`biomedclf.stats.bootstrap.RESAMPLE_GROUPS` (accuracy and balanced
accuracy share their resamples, AUROC has its own), one pass over the resamples of
:func:`biomedclf.stats.bootstrap.bootstrap_weights`, seeded with
``derive_seed(seed, "images", group)``, scores every variant's runs (one per seed) and its
seed ensemble (the probabilities averaged over seeds) with
:class:`biomedclf.stats.resampled.ResampledScores`: the metric of each run on all test images
and under every resample (:class:`biomedclf.stats.recipe_draws.RunDraws`). The costly macro
AUROC is so computed once per run and resample. As every variant is drawn on the same
resamples, any two pair image by image: per seed, over their runs
(:func:`biomedclf.stats.recipe.recipe_difference`) or as seed ensembles; and each variant's
runs are resampled with one seed per metric (:func:`run_seed`), so a pair gives the same
recipe-level numbers in its comparison and in the ranking. A variant's
intervals (:func:`metric_intervals`) and a pair's images-only differences
(:func:`paired_difference`) are percentiles of these draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from biomedclf.evaluate.run_results import VariantData
from biomedclf.stats.bootstrap import RESAMPLE_GROUPS, derive_seed, percentile_interval
from biomedclf.stats.descriptive import finite_or_none
from biomedclf.stats.recipe_draws import RunDraws, Statistic, draw_recipes
from biomedclf.stats.resampled import ResampledScores


@dataclass(frozen=True)
class VariantDraws:
    """One variant's metrics under the study's image resamples, per metric name.

    ``runs[metric]``: one row per seed, in the order of ``seeds``; ``ensemble[metric]``: one
    row, the seed ensemble.
    """

    name: str
    seeds: list[int]
    runs: dict[str, RunDraws]
    ensemble: dict[str, RunDraws]

    def on(self, metric: str, seeds: Sequence[int]) -> RunDraws:
        """The draws of ``metric`` of the runs of ``seeds`` (each one this variant ran), in
        that order."""
        missing = [s for s in seeds if s not in self.seeds]
        if missing:
            raise ValueError(
                f"variant {self.name}: no runs of seeds {missing} (it ran {self.seeds})"
            )
        return self.runs[metric].select([self.seeds.index(s) for s in seeds])


def _group_statistics(
    scores: Mapping[str, tuple[ResampledScores, ResampledScores]], metrics: Sequence[str]
) -> tuple[list[tuple[str, str, str]], list[Statistic], list[np.ndarray | None]]:
    """(variant, "runs" | "ensemble", metric) keys, their statistics under multiplicities and
    their per-image correctness where the metric is accuracy."""
    keys, statistics, tables = [], [], []
    for name, pair in scores.items():
        for kind, s in zip(("runs", "ensemble"), pair):
            for m in metrics:
                keys.append((name, kind, m))
                statistics.append(partial(s.statistic, m))
                tables.append(s.correct if m == "accuracy" else None)
    return keys, statistics, tables


def study_draws(
    data: Mapping[str, VariantData], *, n_bootstrap: int, seed: int
) -> dict[str, VariantDraws]:
    """Each variant's :class:`VariantDraws` of every metric of
    :data:`biomedclf.stats.bootstrap.RESAMPLE_GROUPS`, all on the same image resamples (one
    set per group, seeded from the study ``seed``). ``data`` are the variants' paired
    predictions (:func:`biomedclf.evaluate.run_results.load_variant_predictions`)."""
    scores = {
        name: (ResampledScores(d.labels, d.probs), ResampledScores(d.labels, d.probs.mean(axis=0)))
        for name, d in data.items()
    }
    n_images = next(iter(data.values())).labels.size
    found: dict[str, dict[str, dict[str, RunDraws]]] = {
        name: {"runs": {}, "ensemble": {}} for name in data
    }
    for group, metrics in RESAMPLE_GROUPS.items():
        keys, statistics, tables = _group_statistics(scores, metrics)
        drawn = draw_recipes(
            statistics,
            n_images,
            n_bootstrap=n_bootstrap,
            image_seed=derive_seed(seed, "images", group),
            tables=tables,
        )
        for (name, kind, metric), draws in zip(keys, drawn):
            found[name][kind][metric] = draws
    return {
        name: VariantDraws(name, list(d.seeds), found[name]["runs"], found[name]["ensemble"])
        for name, d in data.items()
    }


def run_seed(seed: int, variant: str, metric: str) -> int:
    """The seed that resamples ``variant``'s runs for ``metric``: the same in every
    recipe-level statistic the variant is part of (study ``seed``)."""
    return derive_seed(seed, "runs", variant, metric)


def run_seeds(seed: int, baseline: str, variant: str, metric: str) -> tuple[int, int]:
    """The (baseline, variant) run-resampling seeds of a recipe difference
    (:func:`biomedclf.stats.recipe.pigeonhole_draws`): swapping the two negates it."""
    return run_seed(seed, baseline, metric), run_seed(seed, variant, metric)


def _estimate(full: np.ndarray) -> float | None:
    """The mean of the runs' values on all images; ``None`` when one is undefined."""
    return finite_or_none(float(np.mean(full))) if np.all(np.isfinite(full)) else None


def metric_intervals(draws: RunDraws, confidence: float) -> list[dict[str, object]]:
    """Per run: ``{"estimate", "low", "high", "n_valid"}``, the percentile interval of the run's
    metric over the image resamples; then the same of the mean over runs (last entry)."""
    rows = [(draws.full[i : i + 1], draws.draws[i]) for i in range(draws.n_seeds)]
    rows.append((draws.full, draws.draws.mean(axis=0)))
    out = []
    for full, values in rows:
        low, high, n_valid = percentile_interval(values, confidence)
        out.append({"estimate": _estimate(full), "low": low, "high": high, "n_valid": n_valid})
    return out


def paired_difference(
    baseline: RunDraws, variant: RunDraws, confidence: float
) -> dict[str, object]:
    """The variant minus the baseline, run ``i`` paired with run ``i``, averaged over the runs:
    ``{"difference", "low", "high", "n_valid"}`` (percentile interval over the shared image
    resamples)."""
    full = variant.full - baseline.full
    low, high, n_valid = percentile_interval(
        (variant.draws - baseline.draws).mean(axis=0), confidence
    )
    return {"difference": _estimate(full), "low": low, "high": high, "n_valid": n_valid}
