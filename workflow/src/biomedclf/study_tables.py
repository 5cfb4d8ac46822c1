"""The study-wide tables: test metrics and training time of every variant.

Rows and Markdown of ``tables/test_metrics.{csv,md}`` (per seed in the CSV plus mean, sd and
seed-ensemble rows; mean ± sd with the bootstrap interval in the Markdown) and of
``tables/training_time.{csv,md}``, from :class:`biomedclf.stats_file.StudyStats`. The runs give
the order of variants and must match the seeds in the statistics. Written by
:func:`biomedclf.tables.write_study_tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from biomedclf.metrics import METRIC_KEYS
from biomedclf.rendering import fmt_ci, fmt_int, fmt_mean_sd, fmt_value, markdown_table
from biomedclf.runs import RunFiles
from biomedclf.stats_file import MetricIntervals, StudyStats, Summary, VariantStats

#: Metrics of the 0.5-threshold block in the tables, with their CSV name.
TEST_METRICS = tuple(k for k in METRIC_KEYS if k not in ("threshold", "confusion_matrix"))

#: Youden-threshold metrics in the CSV (as ``youden_{metric}``).
YOUDEN_METRICS = ("threshold", "accuracy", "sensitivity", "specificity")

#: Columns of ``test_metrics.csv``.
METRICS_HEADER = [
    "variant", "statistic", "seed", "n_test",
    *TEST_METRICS[:1], "accuracy_ci_low", "accuracy_ci_high",
    *TEST_METRICS[1:7], "auroc_ci_low", "auroc_ci_high", *TEST_METRICS[7:],
    *[f"youden_{m}" for m in YOUDEN_METRICS], "overfitting_gap", "ece",
]  # fmt: skip

#: Quantities over seeds in ``training_time.csv``.
TIME_KEYS = ("train_seconds", "images_per_second", "epochs_run", "peak_memory_mb")

#: Columns before the metric cells: variant, statistic, seed, n_test.
_LEAD = 4

Pick = Callable[[Summary | None], Any]


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


def _metric_cells(
    vs: VariantStats, pick: Pick, ci: MetricIntervals | None, gap: Any, ece: Any
) -> list[Any]:
    """The cells after ``n_test`` of one test_metrics.csv row; ``pick`` reads a summary."""
    block, youden = vs.metrics.at_half, vs.metrics.youden
    acc = ci.accuracy if ci else None
    auc = ci.auroc if ci else None
    return [
        pick(block.accuracy),
        acc.low if acc else None,
        acc.high if acc else None,
        *[pick(block.get(m)) for m in TEST_METRICS[1:7]],
        auc.low if auc else None,
        auc.high if auc else None,
        *[pick(block.get(m)) for m in TEST_METRICS[7:]],
        *[pick(youden.get(m)) for m in YOUDEN_METRICS],
        gap,
        ece,
    ]


def _variant_metric_rows(v: str, vs: VariantStats, seeds: list[int]) -> list[list[Any]]:
    """Seed rows, mean and sd rows, and the seed-ensemble row of one variant."""
    per_seed_ci = {e.seed: e for e in vs.bootstrap.per_seed}
    ece_seed, gap = vs.calibration.ece_per_seed, vs.overfitting_gap
    rows = [
        [v, "seed", s, vs.n_test]
        + _metric_cells(
            vs, lambda d, s=s: value_at(d, seeds, s), per_seed_ci.get(s),
            value_at(gap, seeds, s), value_at(ece_seed, seeds, s),
        )
        for s in seeds
    ]  # fmt: skip
    mean = _metric_cells(
        vs, lambda d: d.mean if d else None, vs.bootstrap.seed_mean, gap.mean, ece_seed.mean
    )
    sd = _metric_cells(vs, lambda d: d.sd if d else None, None, gap.sd, ece_seed.sd)
    ensemble = _metric_cells(
        vs, lambda d: None, vs.bootstrap.ensemble, None, vs.calibration.ece_ensemble
    )
    for m in TEST_METRICS:  # the ensemble's own threshold-0.5 metrics
        ensemble[METRICS_HEADER.index(m) - _LEAD] = getattr(vs.ensemble, m)
    rows += [[v, stat, None, vs.n_test] + cells
             for stat, cells in (("mean", mean), ("sd", sd), ("ensemble", ensemble))]  # fmt: skip
    return rows


def metrics_table_rows(
    runs: Sequence[RunFiles], stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``test_metrics.csv``: per seed, then mean, sd and ensemble rows."""
    rows: list[list[Any]] = []
    for v in stats.variant_order(runs):
        rows += _variant_metric_rows(v, stats.variant(v), check_seeds(runs, stats, v))
    return list(METRICS_HEADER), rows


def metrics_table_markdown(runs: Sequence[RunFiles], stats: StudyStats) -> str:
    """Markdown table: mean ± sd over seeds per variant, with the accuracy interval."""
    conf = stats.confidence_label
    header = [
        "Variant", "Seeds", "Test accuracy (%)", f"Accuracy {conf} CI (%)",
        "Balanced acc. (%)", "Sensitivity (%)", "Specificity (%)", "F1 (%)", "AUROC",
        f"AUROC {conf} CI", "Brier", "ECE", "Train − val gap (pp)",
    ]  # fmt: skip
    rows = []
    for v in stats.variant_order(runs):
        vs = stats.variant(v)
        block = vs.metrics.at_half
        mean_ci = vs.bootstrap.seed_mean
        rows.append(
            [
                v,
                len(vs.seeds),
                fmt_mean_sd(block.accuracy, "accuracy"),
                fmt_ci(mean_ci.accuracy, "accuracy"),
                fmt_mean_sd(block.balanced_accuracy, "balanced_accuracy"),
                fmt_mean_sd(block.sensitivity, "sensitivity"),
                fmt_mean_sd(block.specificity, "specificity"),
                fmt_mean_sd(block.f1, "f1"),
                fmt_mean_sd(block.auroc, "auroc"),
                fmt_ci(mean_ci.auroc, "auroc"),
                fmt_mean_sd(block.brier, "brier"),
                fmt_value(vs.calibration.ece, "ece"),
                fmt_mean_sd(vs.overfitting_gap, "overfitting_gap"),
            ]
        )
    return markdown_table(header, rows, ["l", "r"] + ["r"] * (len(header) - 2))


def training_time_rows(
    runs: Sequence[RunFiles], stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``training_time.csv``: per seed, then mean and sd rows."""
    header = [
        "variant", "statistic", "seed", "model", "parameters", "device", "device_name", *TIME_KEYS,
    ]  # fmt: skip
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
        "Variant", "Model", "Parameters", "Seeds", "Training time (s)", "Images/s",
        "Epochs", "Device",
    ]  # fmt: skip
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
