"""The ``comparisons`` part of ``stats/stats.json`` and its differences, as typed records.

A comparison answers two questions per metric, with two named quantities
(workflow/CONTRACTS.md, "Recipe-level intervals"):

* :class:`RecipeDifference` (``recipe``): would the variant be ahead again if both were
  trained again and tested on new images? Its interval accounts for the training runs (seeds)
  and the test images (:func:`biomedclf.stats.recipe.recipe_difference`); the verdicts, the
  ranking and its best-against-each tests rest on it.
* :class:`TrainedModels` (``trained_models``): would these trained models keep their lead on
  new test images? The images-only paired bootstrap of the run-averaged difference.

:mod:`biomedclf.stats.comparisons` and :mod:`biomedclf.stats.ranking` build them,
:func:`biomedclf.stats.typed_json.to_json` writes them and
:class:`biomedclf.stats.typed_json.DataclassReader` reads them back;
:mod:`biomedclf.stats.records` holds the rest of the format and the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from biomedclf.stats.variant_records import Seeded, Summary

#: Metrics each comparison compares (the verdict is on accuracy).
COMPARED = ("accuracy", "balanced_accuracy", "auroc")


@dataclass(frozen=True)
class Difference:
    """A paired difference (variant minus baseline) with its bootstrap interval over the test
    images."""

    difference: float | None
    low: float | None
    high: float | None
    n_valid: int


@dataclass(frozen=True)
class SeedDifference(Difference, Seeded):
    """The paired difference of one seed."""


@dataclass(frozen=True)
class TrainedModels(Difference):
    """For these trained models: the run-averaged difference, its interval over test-image
    resamples with the runs held fixed, and the two-sided bootstrap p-value."""

    p_value: float | None


@dataclass(frozen=True)
class RecipePair:
    """A quantity of the baseline recipe and of the variant recipe."""

    baseline: float
    variant: float


@dataclass(frozen=True)
class SeedCounts:
    """Training runs of the baseline and of the variant."""

    baseline: int
    variant: int


@dataclass(frozen=True)
class Components:
    """Variance components of a recipe difference
    (:class:`biomedclf.stats.recipe_variance.VarianceComponents`)."""

    method: str  # anova | bootstrap moments
    run_variance: RecipePair
    seed_variance: RecipePair
    interaction: RecipePair
    image_variance: float


@dataclass(frozen=True)
class RecipeDifference(Difference):
    """For the recipe: the difference of the run means, its interval over training runs and
    test images, p-value, standard error and the seeds that would tell."""

    p_value: float | None
    se: float | None
    df: float | None  # Welch-Satterthwaite; None when infinite
    pigeonhole_se: float | None
    n_seeds: SeedCounts
    n_images: int
    components: Components | None
    power: float
    seeds_needed: int | None
    seeds_needed_note: str
    few_seeds: bool
    seeds_disagree: bool
    notes: list[str]

    @classmethod
    def from_result(cls, r: dict[str, Any]) -> RecipeDifference:
        """The record of a :func:`biomedclf.stats.recipe.recipe_difference` result (its
        ``per_seed`` differences are kept with their intervals elsewhere)."""
        c = r["components"]
        components = None
        if c is not None:
            keys = ("run_variance", "seed_variance", "interaction")
            pairs = {k: RecipePair(**c[k]) for k in keys}
            components = Components(method=c["method"], image_variance=c["image_variance"], **pairs)
        rec = r["recipe"]
        return cls(
            difference=r["difference"],
            low=rec["low"],
            high=rec["high"],
            n_valid=rec["n_valid"],
            p_value=rec["p_value"],
            se=rec["se"],
            df=rec["df"],
            pigeonhole_se=rec["pigeonhole_se"],
            n_seeds=SeedCounts(**r["n_seeds"]),
            n_images=r["n_images"],
            components=components,
            power=r["power"],
            seeds_needed=r["seeds_needed"],
            seeds_needed_note=r["seeds_needed_note"],
            few_seeds=r["few_seeds"],
            seeds_disagree=r["seeds_disagree"],
            notes=list(r["notes"]),
        )


def trained_models_record(r: dict[str, Any]) -> TrainedModels:
    """The ``trained_models`` entry of a :func:`biomedclf.stats.recipe.recipe_difference`
    result, with its difference."""
    t = r["trained_models"]
    return TrainedModels(
        difference=r["difference"],
        low=t["low"],
        high=t["high"],
        n_valid=t["n_valid"],
        p_value=t["p_value"],
    )


@dataclass(frozen=True)
class MetricComparison:
    """One metric's differences: per seed, for the recipe, for these trained models and of
    the seed ensembles; the recipe's verdict and that of these trained models."""

    per_seed: list[SeedDifference]
    recipe: RecipeDifference
    trained_models: TrainedModels
    ensemble: Difference
    verdict: str  # better | worse | no detectable difference | undetermined: the recipe's
    verdict_text: str
    trained_models_verdict: str


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on the paired correct/incorrect outcomes."""

    baseline_only: int  # images only the baseline got right
    variant_only: int  # images only the variant got right
    discordant: int
    n: int
    p_value: float


@dataclass(frozen=True)
class SeedMcNemar(McNemar, Seeded):
    """McNemar's test of one seed."""


@dataclass(frozen=True)
class McNemarTests:
    """McNemar's test per paired seed and on the seed-ensembled predictions."""

    per_seed: list[SeedMcNemar]
    ensemble: McNemar


@dataclass(frozen=True)
class TimeComparison:
    """Training seconds of both on the paired seeds; ratio of the means (variant/baseline)."""

    baseline: Summary
    variant: Summary
    ratio: float | None


@dataclass(frozen=True)
class ComparisonResult:
    """One variant against the comparison's baseline, on the seeds both ran."""

    seeds: list[int]
    n_test: int
    accuracy: MetricComparison
    balanced_accuracy: MetricComparison
    auroc: MetricComparison  # macro one-vs-rest for more than two classes
    mcnemar: McNemarTests
    train_seconds: TimeComparison
    verdict: str  # the accuracy verdict (recipe)
    verdict_text: str
    notes: list[str]  # beside the verdict: few seeds, seeds that disagree
    warnings: list[str]

    def metric(self, name: str) -> MetricComparison:
        """The comparison of ``accuracy``, ``balanced_accuracy`` or ``auroc``."""
        if name not in COMPARED:
            raise KeyError(f"metric {name!r}: stats.json compares {', '.join(COMPARED)} only")
        return getattr(self, name)


@dataclass(frozen=True)
class ComparisonStats:
    """One comparison of the config: baseline, variants, claim, and a result per variant."""

    baseline: str
    variants: list[str]
    claim: str | None
    results: dict[str, ComparisonResult]
