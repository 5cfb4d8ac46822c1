"""The ``comparisons`` part of ``stats/stats.json``: each variant against its baseline.

For one comparison of the config (``{"baseline", "variants", "claim"?}``) and each of its
variants, on the seeds both ran and the same test images, per metric (accuracy, balanced
accuracy, AUROC: macro one-vs-rest for more than two classes), from the study's shared image
resamples (:mod:`biomedclf.stats.study_draws`):

* the recipe-level difference (:func:`biomedclf.stats.recipe.recipe_difference`: would the
  variant be ahead again if both were trained again and tested on new images?), whose
  interval accounts for the training runs and the test images and gives the verdict;
* the difference for these trained models (the run-averaged difference over test-image
  resamples, runs held fixed), per seed and of the seed ensembles.

Also McNemar's exact test on per-image correctness, the training-time ratio, notes beside the
verdict (few seeds, seeds that disagree in sign or in their McNemar tests) and warnings when
the evidence is thin (unpaired seeds, fewer than
:data:`biomedclf.stats.significance.MIN_SEEDS` seeds, an accuracy or AUROC interval wider
than the difference). The result is a :class:`biomedclf.stats.records.ComparisonStats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.evaluate.run_results import VariantData
from biomedclf.stats.comparison_notes import few_seeds_note, mcnemar_note, runs_text, sign_note
from biomedclf.stats.comparison_records import trained_models_record
from biomedclf.stats.descriptive import describe
from biomedclf.stats.recipe import recipe_difference
from biomedclf.stats.records import (
    COMPARED,
    ComparisonResult,
    ComparisonStats,
    Difference,
    McNemar,
    McNemarTests,
    MetricComparison,
    RecipeDifference,
    SeedDifference,
    SeedMcNemar,
    TimeComparison,
)
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.significance import (
    METRIC_LABELS,
    MIN_SEEDS,
    mcnemar_exact,
    verdict,
)
from biomedclf.stats.study_draws import VariantDraws, paired_difference, run_seeds
from biomedclf.stats.variant_records import VariantStats

#: Metrics whose interval, when wider than the difference, makes a warning.
WIDE_WARNING = ("accuracy", "auroc")


@dataclass(frozen=True)
class Pair:
    """A variant and the comparison's baseline on the seeds both ran, image by image."""

    comparison: str
    base: VariantData
    var: VariantData
    seeds: list[int]  # paired seeds, in the baseline's order

    @property
    def labels(self) -> np.ndarray:
        """The test labels (the same images for both)."""
        return self.base.labels

    @property
    def base_probs(self) -> np.ndarray:
        """The baseline's probabilities on the paired seeds, (S, n, K)."""
        return self.base.probs[[self.base.seeds.index(s) for s in self.seeds]]

    @property
    def var_probs(self) -> np.ndarray:
        """The variant's probabilities on the paired seeds, (S, n, K)."""
        return self.var.probs[[self.var.seeds.index(s) for s in self.seeds]]


def _fmt_metric(x: float, metric: str) -> str:
    """A margin or difference for a warning: AUROC units or percentage points."""
    return f"{x:.3f}" if metric == "auroc" else f"{100 * x:.1f} pp"


def _check_members(comp_name: str, members: list[Any], data: dict[str, VariantData]) -> None:
    """Every baseline and variant of the comparison must have runs."""
    for v in members:
        if v not in data:
            raise ValueError(
                f"comparisons.{comp_name}: variant {v!r} has no runs; the runs cover "
                f"{sorted(data)} - add it to variants or fix the comparison"
            )


def paired(comp_name: str, base: VariantData, var: VariantData) -> Pair:
    """``var`` against ``base`` on the seeds both ran, in the baseline's order; none is an
    error naming the comparison."""
    seeds = [s for s in base.seeds if s in var.seeds]
    if not seeds:
        raise ValueError(
            f"comparisons.{comp_name}: {base.name} (seeds {base.seeds}) and {var.name} "
            f"(seeds {var.seeds}) share no seed to pair; run both with the same seeds"
        )
    return Pair(comp_name, base, var, seeds)


def _seed_warnings(base: VariantData, var: VariantData, seeds: list[int]) -> list[str]:
    """Warnings about seeds left unpaired and about too few paired seeds."""
    warnings = []
    unpaired = sorted(set(base.seeds) ^ set(var.seeds))
    if unpaired:
        warnings.append(
            f"seeds {unpaired} ran for only one of {base.name} and {var.name}; they are left "
            "out of the paired comparison"
        )
    if len(seeds) < MIN_SEEDS:
        warnings.append(
            f"rests on {len(seeds)} seed{'s' if len(seeds) != 1 else ''}; use at least "
            f"{MIN_SEEDS} (training.seeds) to separate a real difference from seed noise"
        )
    return warnings


def _wide_interval_warning(
    block: MetricComparison, metric: str, confidence: float, label: str, scope: str
) -> list[str]:
    """A warning when the verdict's interval (the recipe's; without one, that of these
    trained models) has a half-width (margin of error) larger than the difference."""
    recipe = block.recipe.low is not None
    d = block.recipe if recipe else block.trained_models
    if d.difference is None or d.low is None or d.high is None:
        return []
    margin = (d.high - d.low) / 2
    if margin <= abs(d.difference):
        return []
    kind = "recipe-level interval" if recipe else "interval"
    what = f"training runs and {scope} images are" if recipe else f"{scope} images are"
    return [
        f"the {confidence * 100:g}% {kind} of the {label} difference is wider "
        f"(±{_fmt_metric(margin, metric)}) than the difference it reports "
        f"({_fmt_metric(abs(d.difference), metric)}); the {what} too few to pin the effect down"
    ]


def _label(metric: str, n_classes: int, scope: str) -> str:
    """The metric's name in words (``macro AUROC`` for more than two classes); ``scope``
    names what was scored (``test accuracy``, ``out-of-fold accuracy``)."""
    if metric == "auroc" and n_classes > 2:
        return "macro AUROC"
    return METRIC_LABELS[metric].replace("test", scope)


def _recipe_verdict(
    pair: Pair, metric: str, recipe: RecipeDifference, confidence: float, label: str, scope: str
) -> dict[str, Any]:
    """The verdict of the recipe-level interval, its text naming the evidence (``over 3
    training runs of each and 147 test images``); without an interval, why there is none."""
    base, var = pair.base.name, pair.var.name
    if recipe.difference is not None and recipe.low is None:
        return {
            "verdict": "undetermined",
            "text": f"{var} vs {base}: no recipe-level verdict on {label}: {recipe.notes[0]}",
        }
    words = verdict(
        recipe.difference, recipe.low, recipe.high, metric, base, var, confidence, label
    )
    if words["verdict"] != "undetermined":
        words["text"] += (
            f" over {runs_text(len(pair.seeds))} of each and {recipe.n_images} {scope} images"
        )
    return words


def _metric_comparison(
    pair: Pair,
    metric: str,
    draws: tuple[VariantDraws, VariantDraws],
    settings: StatisticsSettings,
    scope: str,
) -> MetricComparison:
    """One metric's differences per seed, for the recipe, for these trained models and of the
    seed ensembles, from the shared image resamples ``draws`` (baseline, variant)."""
    conf = settings.confidence
    b, v = (d.on(metric, pair.seeds) for d in draws)
    result = recipe_difference(
        b,
        v,
        confidence=conf,
        seed=run_seeds(settings.seed, pair.base.name, pair.var.name, metric),
        baseline_seeds=pair.seeds,
        variant_seeds=pair.seeds,
    )
    recipe, trained = RecipeDifference.from_result(result), trained_models_record(result)
    label = _label(metric, pair.base.n_classes, scope)
    words = _recipe_verdict(pair, metric, recipe, conf, label, scope)
    trained_words = verdict(trained.difference, trained.low, trained.high, metric, confidence=conf)
    ensemble = paired_difference(draws[0].ensemble[metric], draws[1].ensemble[metric], conf)
    return MetricComparison(
        per_seed=[
            SeedDifference(seed=s, **paired_difference(b.select([i]), v.select([i]), conf))
            for i, s in enumerate(pair.seeds)
        ],
        recipe=recipe,
        trained_models=trained,
        ensemble=Difference(**ensemble),
        verdict=words["verdict"],
        verdict_text=words["text"],
        trained_models_verdict=trained_words["verdict"],
    )


def _mcnemar(pair: Pair) -> McNemarTests:
    """McNemar's exact test per paired seed and on the seed-ensembled calls (the predicted
    class of :func:`biomedclf.evaluate.multiclass.predict_classes`: threshold 0.5 for two
    classes)."""

    def right(p: np.ndarray) -> np.ndarray:
        """Whether each image's predicted class is its label."""
        return predict_classes(p) == pair.labels

    bp, vp = pair.base_probs, pair.var_probs
    return McNemarTests(
        per_seed=[
            SeedMcNemar(seed=s, **mcnemar_exact(right(b), right(v)))
            for s, b, v in zip(pair.seeds, bp, vp)
        ],
        ensemble=McNemar(**mcnemar_exact(right(bp.mean(axis=0)), right(vp.mean(axis=0)))),
    )


def _train_seconds(pair: Pair, variant_stats: dict[str, VariantStats]) -> TimeComparison:
    """Training seconds of both on the paired seeds, and the ratio of their means."""
    bt = variant_stats[pair.base.name].train_seconds.values
    vt = variant_stats[pair.var.name].train_seconds.values
    base = describe([bt[pair.base.seeds.index(s)] for s in pair.seeds])
    var = describe([vt[pair.var.seeds.index(s)] for s in pair.seeds])
    ratio = (var.mean / base.mean) if base.mean and var.mean is not None else None
    return TimeComparison(baseline=base, variant=var, ratio=ratio)


def _variant_result(
    pair: Pair,
    draws: dict[str, VariantDraws],
    variant_stats: dict[str, VariantStats],
    settings: StatisticsSettings,
    scope: str,
) -> ComparisonResult:
    """The ``results.{variant}`` entry of one comparison; ``scope`` names what the
    predictions are of in its texts (``test``, ``out-of-fold``)."""
    both = (draws[pair.base.name], draws[pair.var.name])
    metrics = {m: _metric_comparison(pair, m, both, settings, scope) for m in COMPARED}
    warnings = _seed_warnings(pair.base, pair.var, pair.seeds)
    for m in WIDE_WARNING:
        label = _label(m, pair.base.n_classes, scope)
        warnings += _wide_interval_warning(metrics[m], m, settings.confidence, label, scope)
    mcnemar = _mcnemar(pair)
    accuracy = metrics["accuracy"]
    notes = few_seeds_note(accuracy.recipe)
    notes += sign_note(pair.base.name, pair.var.name, accuracy.per_seed)
    notes += mcnemar_note(pair.base.name, pair.var.name, mcnemar, 1.0 - settings.confidence)
    return ComparisonResult(
        seeds=pair.seeds,
        n_test=int(pair.labels.size),
        **metrics,
        mcnemar=mcnemar,
        train_seconds=_train_seconds(pair, variant_stats),
        verdict=accuracy.verdict,
        verdict_text=accuracy.verdict_text,
        notes=notes,
        warnings=warnings,
    )


def _members(comp_name: str, comp: dict[str, Any]) -> tuple[str, list[str]]:
    """The baseline and variants of the config's comparison ``comp_name``."""
    missing = [k for k in ("baseline", "variants") if k not in comp]
    if missing:
        raise ValueError(
            f"comparisons.{comp_name}: no {' or '.join(missing)}; name a baseline and its "
            "variants (workflow/schemas/config.schema.yaml)"
        )
    return comp["baseline"], list(comp["variants"])


def comparison_statistics(
    comp_name: str,
    comp: dict[str, Any],
    data: dict[str, VariantData],
    draws: dict[str, VariantDraws],
    variant_stats: dict[str, VariantStats],
    settings: StatisticsSettings,
    scope: str,
) -> ComparisonStats:
    """The ``comparisons.{comp_name}`` entry of stats.json.

    ``comp`` is the config's comparison (``{"baseline", "variants", "claim"?}``), ``data``
    every variant's paired predictions
    (:func:`biomedclf.evaluate.run_results.load_variant_predictions`), ``draws`` their
    metrics under the study's image resamples
    (:func:`biomedclf.stats.study_draws.study_draws`), ``variant_stats`` the ``variants``
    entries already computed (for training times). Raises ``ValueError`` naming
    ``comparisons.{comp_name}`` when a member has no runs or two members share no seed.
    ``scope`` (``test``, or ``out-of-fold`` with cross-validation) names the images in the
    verdicts and warnings.
    """
    baseline, variants = _members(comp_name, comp)
    _check_members(comp_name, [baseline, *variants], data)
    base = data[baseline]
    results = {
        v: _variant_result(paired(comp_name, base, data[v]), draws, variant_stats, settings, scope)
        for v in variants
    }
    return ComparisonStats(
        baseline=baseline, variants=variants, claim=comp.get("claim"), results=results
    )
