"""The ``comparisons`` part of ``stats/stats.json``: each variant against its baseline.

For one comparison of the config (``{"baseline", "variants", "claim"?}``) and each of its
variants, on the seeds both ran and the same test images: paired-bootstrap differences
(variant minus baseline) of accuracy, balanced accuracy and AUROC (macro one-vs-rest for more
than two classes) per seed, pooled over seeds and on the seed-ensembled probabilities, each
with a verdict from its pooled interval (the comparison's verdict is accuracy's); McNemar's
exact test on per-image correctness; the training-time ratio; and warnings when the evidence
is thin (unpaired seeds, fewer than :data:`biomedclf.stats.significance.MIN_SEEDS` seeds, an
accuracy or AUROC interval wider than the difference). The result is a
:class:`biomedclf.stats.records.ComparisonStats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.evaluate.run_results import VariantData
from biomedclf.stats.bootstrap import RESAMPLE_GROUPS, derive_seed, paired_bootstrap_diffs
from biomedclf.stats.descriptive import describe
from biomedclf.stats.records import (
    COMPARED,
    ComparisonResult,
    ComparisonStats,
    Difference,
    McNemar,
    McNemarTests,
    MetricComparison,
    SeedDifference,
    SeedMcNemar,
    TimeComparison,
)
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.significance import METRIC_LABELS, MIN_SEEDS, mcnemar_exact, verdict
from biomedclf.stats.variant_records import VariantStats

#: Fields of a paired-bootstrap result kept in stats.json (those of :class:`Difference`).
DIFF_FIELDS = ("difference", "low", "high", "n_valid")

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

    @property
    def keys(self) -> tuple[str, str, str]:
        """(comparison, baseline, variant): the names the bootstrap seeds derive from."""
        return self.comparison, self.base.name, self.var.name


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
    pooled: Difference, metric: str, confidence: float, label: str, scope: str
) -> list[str]:
    """A warning when the interval's half-width (margin of error) exceeds the difference."""
    if pooled.difference is None or pooled.low is None or pooled.high is None:
        return []
    margin = (pooled.high - pooled.low) / 2
    if margin <= abs(pooled.difference):
        return []
    return [
        f"the {confidence * 100:g}% interval of the {label} "
        f"difference is wider (±{_fmt_metric(margin, metric)}) than the difference "
        f"it reports ({_fmt_metric(abs(pooled.difference), metric)}); the {scope} "
        "images are too few to pin the effect down"
    ]


def _label(metric: str, n_classes: int, scope: str) -> str:
    """The metric's name in words (``macro AUROC`` for more than two classes); ``scope``
    names what was scored (``test accuracy``, ``out-of-fold accuracy``)."""
    if metric == "auroc" and n_classes > 2:
        return "macro AUROC"
    return METRIC_LABELS[metric].replace("test", scope)


def _paired_diffs(
    pair: Pair,
    base_probs: np.ndarray,
    var_probs: np.ndarray,
    scope: Any,
    group: str,
    settings: StatisticsSettings,
) -> dict[str, dict[str, Any]]:
    """Paired-bootstrap differences of the metrics of ``group`` (a
    :data:`biomedclf.stats.bootstrap.RESAMPLE_GROUPS` entry: they share their resamples) for
    ``scope`` (a seed, ``pooled`` or ``ensemble``): per metric, the fields of
    :class:`Difference`."""
    metrics = RESAMPLE_GROUPS[group]
    rng_seed = derive_seed(settings.seed, *pair.keys, scope, group)
    d = paired_bootstrap_diffs(
        pair.labels,
        base_probs,
        var_probs,
        metrics,
        n_bootstrap=settings.n_bootstrap,
        confidence=settings.confidence,
        seed=rng_seed,
    )
    return {m: {k: d[m][k] for k in DIFF_FIELDS} for m in metrics}


def _metric_comparison(
    pair: Pair,
    metric: str,
    per_seed: list[tuple[int, dict[str, Any]]],
    pooled: dict[str, Any],
    ensemble: dict[str, Any],
    confidence: float,
    scope: str,
) -> MetricComparison:
    """One metric's differences per seed, pooled and ensembled, with the pooled verdict."""
    label = _label(metric, pair.base.n_classes, scope)
    words = verdict(
        pooled["difference"],
        pooled["low"],
        pooled["high"],
        metric,
        pair.base.name,
        pair.var.name,
        confidence,
        label,
    )
    return MetricComparison(
        per_seed=[SeedDifference(seed=s, **d) for s, d in per_seed],
        pooled=Difference(**pooled),
        ensemble=Difference(**ensemble),
        verdict=words["verdict"],
        verdict_text=words["text"],
    )


def _metric_comparisons(
    pair: Pair, settings: StatisticsSettings, scope: str
) -> dict[str, MetricComparison]:
    """Per compared metric (:data:`biomedclf.stats.records.COMPARED`, in that order): the
    paired differences per seed, pooled over seeds and of the seed-ensembled probabilities."""
    bp, vp = pair.base_probs, pair.var_probs
    out: dict[str, MetricComparison] = {}
    for group, metrics in RESAMPLE_GROUPS.items():
        per_seed = [
            (s, _paired_diffs(pair, b, v, s, group, settings))
            for s, b, v in zip(pair.seeds, bp, vp)
        ]
        pooled = _paired_diffs(pair, bp, vp, "pooled", group, settings)
        ensemble = _paired_diffs(
            pair, bp.mean(axis=0), vp.mean(axis=0), "ensemble", group, settings
        )
        for m in metrics:
            seeds = [(s, d[m]) for s, d in per_seed]
            out[m] = _metric_comparison(
                pair, m, seeds, pooled[m], ensemble[m], settings.confidence, scope
            )
    return {m: out[m] for m in COMPARED}


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
    pair: Pair, variant_stats: dict[str, VariantStats], settings: StatisticsSettings, scope: str
) -> ComparisonResult:
    """The ``results.{variant}`` entry of one comparison; ``scope`` names what the
    predictions are of in its texts (``test``, ``out-of-fold``)."""
    metrics = _metric_comparisons(pair, settings, scope)
    warnings = _seed_warnings(pair.base, pair.var, pair.seeds)
    for m in WIDE_WARNING:
        label = _label(m, pair.base.n_classes, scope)
        warnings += _wide_interval_warning(metrics[m].pooled, m, settings.confidence, label, scope)
    return ComparisonResult(
        seeds=pair.seeds,
        n_test=int(pair.labels.size),
        **metrics,
        mcnemar=_mcnemar(pair),
        train_seconds=_train_seconds(pair, variant_stats),
        verdict=metrics["accuracy"].verdict,
        verdict_text=metrics["accuracy"].verdict_text,
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
    variant_stats: dict[str, VariantStats],
    settings: StatisticsSettings,
    scope: str,
) -> ComparisonStats:
    """The ``comparisons.{comp_name}`` entry of stats.json.

    ``comp`` is the config's comparison (``{"baseline", "variants", "claim"?}``), ``data``
    every variant's paired predictions
    (:func:`biomedclf.evaluate.run_results.load_variant_predictions`), ``variant_stats`` the
    ``variants`` entries already computed (for training times). Raises ``ValueError`` naming
    ``comparisons.{comp_name}`` when a member has no runs or two members share no seed.
    ``scope`` (``test``, or ``out-of-fold`` with cross-validation) names the images in the
    verdicts and warnings.
    """
    baseline, variants = _members(comp_name, comp)
    _check_members(comp_name, [baseline, *variants], data)
    base = data[baseline]
    results = {
        v: _variant_result(paired(comp_name, base, data[v]), variant_stats, settings, scope)
        for v in variants
    }
    return ComparisonStats(
        baseline=baseline, variants=variants, claim=comp.get("claim"), results=results
    )
