"""``stats/stats.json``: its format version, its typed records and the one reader.

The same frozen dataclasses serve the writer and the readers. The statistics modules
(:mod:`biomedclf.stats.variants`, :mod:`biomedclf.stats.comparisons`,
:mod:`biomedclf.stats.ranking`, assembled by :func:`biomedclf.stats.study.study_statistics`)
build a :class:`StudyStats`; :func:`biomedclf.stats.study.write_study_statistics` writes it with
:func:`biomedclf.stats.typed_json.to_json`; the tables, figures and summary read it back with
:func:`read_stats`, which checks the format version (:data:`STATS_FORMAT`) and every field. One
class per kind of JSON object, mirroring the layout documented in workflow/CONTRACTS.md
("stats.json"); those that describe a variant are in :mod:`biomedclf.stats.variant_records`,
those of the comparisons (their recipe-level and trained-models differences) in
:mod:`biomedclf.stats.comparison_records`; all are importable from here.
Values that may be undefined (the SD of one seed, an AUROC without both classes, an empty
calibration bin) are ``Optional``. A wrong or missing version, a missing field or a value of
the wrong type raises :class:`StatsFormatError` naming the file, the field and the fix: rerun
the stats step.

The classes are read by :class:`biomedclf.stats.typed_json.DataclassReader` from their type
annotations (a field's JSON key is its name, or ``metadata["key"]``; a field with a default
may be absent from the file) and written in the order of their fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from biomedclf.io import read_json
from biomedclf.layout import RunFiles
from biomedclf.stats.comparison_records import (  # noqa: F401 (the records of stats.json)
    COMPARED,
    ComparisonResult,
    ComparisonStats,
    Components,
    Difference,
    McNemar,
    McNemarTests,
    MetricComparison,
    RecipeDifference,
    RecipePair,
    SeedCounts,
    SeedDifference,
    SeedMcNemar,
    TimeComparison,
    TrainedModels,
)
from biomedclf.stats.typed_json import DataclassReader, to_json
from biomedclf.stats.variant_records import (  # noqa: F401 (the records of stats.json, in one place)
    BinaryMetrics,
    Bootstrap,
    Calibration,
    CalibrationBin,
    ClassMetrics,
    ClassSummary,
    Interval,
    MetricBlocks,
    MetricIntervals,
    MulticlassMetrics,
    MulticlassSummary,
    Seeded,
    SeedIntervals,
    Summary,
    ThresholdMetrics,
    VariantStats,
)

#: Format of stats.json this code writes and reads; bump it when a field changes meaning.
STATS_FORMAT = "biomedclf-stats/5"

#: What to do about a stats.json this reader cannot use.
FIX = "rerun the stats step (delete the file, or `snakemake --forcerun stats`) to rewrite it"


class StatsFormatError(ValueError):
    """stats.json is not in :data:`STATS_FORMAT`: wrong version, missing field, wrong type."""


@dataclass(frozen=True)
class Settings:
    """How the statistics were computed."""

    n_bootstrap: int
    confidence: float
    seed: int
    calibration_bins: int
    interval: str  # how the intervals of the trained models and of the recipes are made
    threshold: float
    min_seeds: int  # fewer seeds make a warning
    min_recipe_seeds: int  # fewer runs per recipe leave the training variance poorly known
    power: float  # at which the seeds needed are counted
    metrics: list[str]  # the bootstrapped metrics
    auroc: str  # what "auroc" means for this study


@dataclass(frozen=True)
class Bounds:
    """The ends of an interval."""

    low: float | None
    high: float | None


@dataclass(frozen=True)
class RankedVariant:
    """One variant's place in the ranking: the mean over its runs of the primary metric, its
    recipe-level interval (training runs and test images) and that of these trained models."""

    variant: str
    n_seeds: int
    estimate: float | None
    low: float | None
    high: float | None
    trained_models: Bounds  # test images resampled, runs held fixed


@dataclass(frozen=True)
class Lead:
    """The best variant minus another on their paired seeds: for the recipe (the test, with
    Holm's adjustment) and for these trained models."""

    variant: str
    seeds: list[int]
    recipe: RecipeDifference
    trained_models: TrainedModels
    p_holm: float | None  # the recipe p-value adjusted for the variants behind the best
    lead_is_real: bool  # p_holm < alpha

    @property
    def difference(self) -> float | None:
        """Best minus this variant: the difference of their run means."""
        return self.recipe.difference

    @property
    def low(self) -> float | None:
        """Low end of the recipe-level interval."""
        return self.recipe.low

    @property
    def high(self) -> float | None:
        """High end of the recipe-level interval."""
        return self.recipe.high

    @property
    def p_value(self) -> float | None:
        """The recipe-level two-sided p-value, unadjusted."""
        return self.recipe.p_value


@dataclass(frozen=True)
class Ranking:
    """The variants ranked by the primary metric, and the best one against each other."""

    metric: str  # statistics.primary
    alpha: float
    correction: str  # holm
    order: list[RankedVariant]
    best: str
    versus: list[Lead]


@dataclass(frozen=True)
class StudyStats:
    """The whole of stats.json; ``source`` is the file it was read from (not in the JSON)."""

    format: str
    settings: Settings
    evaluated_on: str  # "test", or "out-of-fold" with cross-validation
    n_test: int  # images evaluated (with cross-validation: out-of-fold)
    n_classes: int
    class_names: list[str]
    class_counts: list[int]  # test images per class
    ordinal: bool
    kappa_weights: str  # none | quadratic
    prediction: str  # how the predicted class is chosen
    n_positive: int | None  # class-1 test images (two classes); None for more
    warnings: list[str]
    variants: dict[str, VariantStats]
    comparisons: dict[str, ComparisonStats]
    ranking: Ranking
    source: Path | None = field(default=None, metadata={"json": False})

    @property
    def multiclass(self) -> bool:
        """More than two classes."""
        return self.n_classes > 2

    @property
    def scope(self) -> str:
        """What the runs were scored on, for text: ``test``, or ``out-of-fold``."""
        return self.evaluated_on

    @property
    def auroc_label(self) -> str:
        """``AUROC``, or ``macro AUROC`` for more than two classes."""
        return "macro AUROC" if self.multiclass else "AUROC"

    @property
    def confidence_label(self) -> str:
        """The confidence level as text, e.g. ``95%``."""
        return f"{self.settings.confidence * 100:g}%"

    def _where(self) -> str:
        """The file these statistics came from, for error messages."""
        return str(self.source) if self.source is not None else "stats.json"

    def variant(self, name: str) -> VariantStats:
        """The statistics of variant ``name``; ``ValueError`` naming the file if absent."""
        if name not in self.variants:
            raise ValueError(
                f"{self._where()}: no statistics for variant {name!r} (it has "
                f"{sorted(self.variants)}); rerun the stats step"
            )
        return self.variants[name]

    def comparison(self, name: str) -> ComparisonStats:
        """The statistics of comparison ``name``; ``ValueError`` naming the key if absent."""
        if name not in self.comparisons:
            raise ValueError(
                f"comparisons.{name}: not in {self._where()}; rerun the stats step with this "
                "comparison in the config"
            )
        return self.comparisons[name]

    def result(self, comp_name: str, variant: str) -> ComparisonResult:
        """The result of ``variant`` in comparison ``comp_name``."""
        results = self.comparison(comp_name).results
        if variant not in results:
            raise ValueError(
                f"comparisons.{comp_name}: {self._where()} has no result for {variant}; "
                "rerun the stats step"
            )
        return results[variant]

    def variant_order(self, runs: Sequence[RunFiles]) -> list[str]:
        """Variants in run (config) order; each must have statistics here."""
        order = list(dict.fromkeys(run.variant for run in runs))
        missing = [v for v in order if v not in self.variants]
        if missing:
            raise ValueError(
                f"{self._where()} has no statistics for variants {missing}; rerun the stats "
                "step (its inputs must list every run)"
            )
        return order

    def to_dict(self) -> dict[str, Any]:
        """The JSON object these statistics were read from (``source`` left out)."""
        return to_json(self)


def parse_stats(data: Any, source: Path | str = "stats.json") -> StudyStats:
    """Check the format version of parsed stats.json ``data`` and build :class:`StudyStats`.

    ``source`` names the file in errors. Raises :class:`StatsFormatError`.
    """
    reader = DataclassReader(source, FIX, StatsFormatError)
    if not isinstance(data, dict):
        raise reader.error("top level", f"expected an object, found {type(data).__name__}")
    found = data.get("format")
    if found != STATS_FORMAT:
        what = "no 'format' field" if found is None else f"format {found!r}"
        raise reader.error("format", f"{what}, this code reads {STATS_FORMAT!r}")
    stats = reader.read(StudyStats, data, "stats")
    return dataclasses.replace(stats, source=Path(source))


def read_stats(path: Path | str) -> StudyStats:
    """Read ``stats/stats.json`` at ``path`` as :class:`StudyStats` (see :func:`parse_stats`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no statistics file; run the stats step first")
    return parse_stats(read_json(path), path)
