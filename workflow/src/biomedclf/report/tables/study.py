"""The study-wide tables: test metrics and training time of every variant.

Rows and Markdown of the ``test_metrics`` table (per seed in the CSV plus mean, sd and
seed-ensemble rows; mean ± sd with the bootstrap interval in the Markdown) and of the
``training_time`` table, from :class:`biomedclf.stats.records.StudyStats`. Two-class
studies show the metrics at threshold 0.5 (and the Youden threshold in the CSV) followed by
the multi-class ones; studies with more classes show accuracy, balanced accuracy, macro-F1,
Cohen's kappa, macro AUROC, the multi-class Brier score and the top-label ECE. The runs give
the order of variants and must match the seeds in the statistics. Written by
:func:`biomedclf.report.tables.write.write_study_tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from biomedclf.evaluate.metrics import METRIC_KEYS
from biomedclf.layout import RunFiles
from biomedclf.report.rendering import (
    fmt_ci,
    fmt_int,
    fmt_mean_sd,
    fmt_value,
    level_text,
    markdown_table,
)
from biomedclf.stats.records import Interval, MetricIntervals, StudyStats, Summary, VariantStats

#: Metrics of the 0.5-threshold block in the two-class tables.
TEST_METRICS = tuple(k for k in METRIC_KEYS if k not in ("threshold", "confusion_matrix"))

#: Youden-threshold metrics in the CSV (as ``youden_{metric}``).
YOUDEN_METRICS = ("threshold", "accuracy", "sensitivity", "specificity")

#: A test_metrics.csv column: (name, kind, key). Kinds: ``bin`` (threshold-0.5 block),
#: ``youden``, ``mc`` (multi-class block), ``ci`` (bootstrap interval ``metric.low|high``),
#: ``gap`` (overfitting gap), ``ece`` (calibration ECE).
Column = tuple[str, str, str]


def _ci(metric: str, name: str | None = None) -> list[Column]:
    """The two interval columns of ``metric``."""
    return [(f"{name or metric}_ci_{end}", "ci", f"{metric}.{end}") for end in ("low", "high")]


#: Columns after ``n_test`` of a two-class study (as before multi-class support, then more).
BINARY_COLUMNS: list[Column] = [
    ("accuracy", "bin", "accuracy"),
    *_ci("accuracy"),
    *[(m, "bin", m) for m in TEST_METRICS[1:7]],
    *_ci("auroc"),
    *[(m, "bin", m) for m in TEST_METRICS[7:]],
    *[(f"youden_{m}", "youden", m) for m in YOUDEN_METRICS],
    ("overfitting_gap", "gap", ""),
    ("ece", "ece", ""),
    *_ci("balanced_accuracy"),
    ("macro_f1", "mc", "macro_f1"),
    ("weighted_f1", "mc", "weighted_f1"),
    ("kappa", "mc", "kappa"),
]

#: Columns after ``n_test`` of a study with more than two classes.
MULTICLASS_COLUMNS: list[Column] = [
    ("accuracy", "mc", "accuracy"),
    *_ci("accuracy"),
    ("balanced_accuracy", "mc", "balanced_accuracy"),
    *_ci("balanced_accuracy"),
    ("macro_f1", "mc", "macro_f1"),
    ("weighted_f1", "mc", "weighted_f1"),
    ("kappa", "mc", "kappa"),
    ("macro_auroc", "mc", "macro_auroc"),
    *_ci("auroc", "macro_auroc"),
    *[
        (m, "mc", m)
        for m in (
            "macro_average_precision",
            "macro_precision",
            "macro_recall",
            "macro_specificity",
            "brier",
            "ece",
        )
    ],
    ("overfitting_gap", "gap", ""),
]

#: Leading columns of ``test_metrics.csv``.
LEAD = ["variant", "statistic", "seed", "n_test"]

#: Columns of ``test_metrics.csv`` of a two-class study.
METRICS_HEADER = LEAD + [c[0] for c in BINARY_COLUMNS]

#: Quantities over seeds in ``training_time.csv``.
TIME_KEYS = ("train_seconds", "images_per_second", "epochs_run", "peak_memory_mb")


def metric_columns(stats: StudyStats) -> list[Column]:
    """The metric columns of this study's test_metrics.csv."""
    return MULTICLASS_COLUMNS if stats.multiclass else BINARY_COLUMNS


def check_seeds(runs: Sequence[RunFiles], stats: StudyStats, variant: str) -> list[int]:
    """The seeds of ``variant`` in the statistics; they must be the runs' seeds."""
    seeds = list(stats.variant(variant).seeds)
    run_seeds = sorted(r.seed for r in runs if r.variant == variant)
    if sorted(seeds) != run_seeds:
        raise ValueError(
            f"{stats.source}: covers seeds {seeds} of {variant} but the runs have {run_seeds}; "
            "rerun the stats step"
        )
    return seeds


def value_at(desc: Summary | None, seeds: list[int], seed: int) -> float | None:
    """The value of ``seed`` in a summary whose values follow ``seeds``."""
    if desc is None:
        return None
    i = seeds.index(seed)
    return desc.values[i] if i < len(desc.values) else None


def _summary(vs: VariantStats, kind: str, key: str) -> Summary | None:
    """The summary over seeds behind a column (``None`` for interval columns)."""
    if kind == "bin":
        return vs.metrics.at_half.get(key) if vs.metrics.at_half else None
    if kind == "youden":
        return vs.metrics.youden.get(key) if vs.metrics.youden else None
    if kind == "mc":
        return vs.metrics.multiclass.get(key)
    if kind == "gap":
        return vs.overfitting_gap
    if kind == "ece":
        return vs.calibration.ece_per_seed
    return None


def _ensemble_value(vs: VariantStats, kind: str, key: str) -> Any:
    """A column's value for the seed-ensembled probabilities (no gap, no Youden threshold)."""
    if kind == "bin":
        return getattr(vs.ensemble, key) if vs.ensemble else None
    if kind == "mc":
        return getattr(vs.ensemble_multiclass, key)
    if kind == "ece":
        return vs.calibration.ece_ensemble
    return None


def _interval_end(ci: MetricIntervals | None, key: str) -> float | None:
    """``low`` or ``high`` of an interval column (``metric.end``)."""
    metric, end = key.split(".")
    interval: Interval | None = getattr(ci, metric) if ci else None
    return getattr(interval, end) if interval else None


def _cells(
    vs: VariantStats, columns: list[Column], stat: str, seeds: list[int], seed: int | None
) -> list[Any]:
    """The metric cells of one row: ``stat`` is seed, mean, sd or ensemble."""
    cis = {"mean": vs.bootstrap.seed_mean, "ensemble": vs.bootstrap.ensemble, "sd": None}
    ci = {e.seed: e for e in vs.bootstrap.per_seed}.get(seed) if stat == "seed" else cis[stat]
    cells = []
    for _, kind, key in columns:
        if kind == "ci":
            cells.append(_interval_end(ci, key))
        elif stat == "ensemble":
            cells.append(_ensemble_value(vs, kind, key))
        elif stat == "seed":
            cells.append(value_at(_summary(vs, kind, key), seeds, seed))
        else:  # mean or sd over seeds; None for a metric no run reports
            cells.append(getattr(_summary(vs, kind, key), stat, None))
    return cells


def _variant_metric_rows(
    v: str, vs: VariantStats, seeds: list[int], columns: list[Column]
) -> list[list[Any]]:
    """Seed rows, mean and sd rows, and the seed-ensemble row of one variant."""
    rows = [[v, "seed", s, vs.n_test, *_cells(vs, columns, "seed", seeds, s)] for s in seeds]
    rows += [
        [v, stat, None, vs.n_test, *_cells(vs, columns, stat, seeds, None)]
        for stat in ("mean", "sd", "ensemble")
    ]
    return rows


def metrics_table_rows(
    runs: Sequence[RunFiles], stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``test_metrics.csv``: per seed, then mean, sd and ensemble rows."""
    columns = metric_columns(stats)
    rows: list[list[Any]] = []
    for v in stats.variant_order(runs):
        rows += _variant_metric_rows(v, stats.variant(v), check_seeds(runs, stats, v), columns)
    return LEAD + [c[0] for c in columns], rows


def _binary_markdown_row(v: str, vs: VariantStats) -> list[Any]:
    """Cells of one variant in the two-class Markdown table."""
    block, mean_ci = vs.metrics.at_half, vs.bootstrap.seed_mean
    assert block is not None
    return [
        v,
        len(vs.seeds),
        fmt_mean_sd(block.accuracy, "accuracy"),
        fmt_ci(mean_ci.accuracy, "accuracy"),
        *[
            fmt_mean_sd(block.get(m), m)
            for m in ("balanced_accuracy", "sensitivity", "specificity", "f1", "auroc")
        ],
        fmt_ci(mean_ci.auroc, "auroc"),
        fmt_mean_sd(block.brier, "brier"),
        fmt_value(vs.calibration.ece, "ece"),
        fmt_mean_sd(vs.overfitting_gap, "overfitting_gap"),
    ]


def _multiclass_markdown_row(v: str, vs: VariantStats) -> list[Any]:
    """Cells of one variant in the multi-class Markdown table."""
    mc, mean_ci = vs.metrics.multiclass, vs.bootstrap.seed_mean
    return [
        v,
        len(vs.seeds),
        fmt_mean_sd(mc.accuracy, "accuracy"),
        fmt_ci(mean_ci.accuracy, "accuracy"),
        fmt_mean_sd(mc.balanced_accuracy, "balanced_accuracy"),
        fmt_ci(mean_ci.balanced_accuracy, "balanced_accuracy"),
        fmt_mean_sd(mc.macro_f1, "macro_f1"),
        fmt_mean_sd(mc.kappa, "kappa"),
        fmt_mean_sd(mc.macro_auroc, "auroc"),
        fmt_ci(mean_ci.auroc, "auroc"),
        fmt_mean_sd(mc.brier, "brier"),
        fmt_value(vs.calibration.ece, "ece"),
        fmt_mean_sd(vs.overfitting_gap, "overfitting_gap"),
    ]


def metrics_table_markdown(runs: Sequence[RunFiles], stats: StudyStats) -> str:
    """Markdown table: mean ± sd over seeds per variant, with the bootstrap intervals."""
    conf = level_text(stats.settings.confidence)
    if stats.multiclass:
        kappa = "quadratic" if stats.kappa_weights == "quadratic" else "unweighted"
        header = [
            "Variant",
            "Seeds",
            "Accuracy (%)",
            f"Accuracy {conf} CI (%)",
            "Balanced acc. (%)",
            f"Balanced acc. {conf} CI (%)",
            "Macro-F1 (%)",
            f"Kappa ({kappa})",
            "Macro AUROC",
            f"Macro AUROC {conf} CI",
            "Brier",
            "ECE (top-label)",
            "Train − val gap (pp)",
        ]
        row = _multiclass_markdown_row
    else:
        header = [
            "Variant",
            "Seeds",
            f"{stats.scope.capitalize()} accuracy (%)",
            f"Accuracy {conf} CI (%)",
            "Balanced acc. (%)",
            "Sensitivity (%)",
            "Specificity (%)",
            "F1 (%)",
            "AUROC",
            f"AUROC {conf} CI",
            "Brier",
            "ECE",
            "Train − val gap (pp)",
        ]
        row = _binary_markdown_row
    rows = [row(v, stats.variant(v)) for v in stats.variant_order(runs)]
    return markdown_table(header, rows, ["l", "r"] + ["r"] * (len(header) - 2))


def training_time_rows(
    runs: Sequence[RunFiles], stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``training_time.csv``: per seed, then mean and sd rows."""
    header = [
        "variant",
        "statistic",
        "seed",
        "model",
        "parameters",
        "device",
        "device_name",
        *TIME_KEYS,
    ]
    rows: list[list[Any]] = []
    for v in stats.variant_order(runs):
        vs = stats.variant(v)
        seeds = check_seeds(runs, stats, v)
        fixed = [vs.model, vs.parameters, vs.device, vs.device_name]
        summaries = [getattr(vs, k) for k in TIME_KEYS]
        for s in seeds:
            rows.append([v, "seed", s, *fixed, *[value_at(d, seeds, s) for d in summaries]])
        for stat in ("mean", "sd"):
            rows.append([v, stat, None, *fixed, *[getattr(d, stat) for d in summaries]])
    return header, rows


def training_time_markdown(runs: Sequence[RunFiles], stats: StudyStats) -> str:
    """Markdown: training seconds, throughput, parameters and device per variant."""
    header = [
        "Variant",
        "Model",
        "Parameters",
        "Seeds",
        "Training time (s)",
        "Images/s",
        "Epochs",
        "Device",
    ]
    rows = []
    for v in stats.variant_order(runs):
        vs = stats.variant(v)
        device = vs.device or "n/a"
        if vs.device_name:
            device = f"{device} ({vs.device_name})"
        rows.append(
            [
                v,
                vs.model or "n/a",
                fmt_int(vs.parameters),
                len(vs.seeds),
                fmt_mean_sd(vs.train_seconds, "train_seconds"),
                fmt_mean_sd(vs.images_per_second, "images_per_second"),
                fmt_mean_sd(vs.epochs_run, "epochs_run"),
                device,
            ]
        )
    return markdown_table(header, rows, ["l", "l", "r", "r", "r", "r", "r", "l"])
