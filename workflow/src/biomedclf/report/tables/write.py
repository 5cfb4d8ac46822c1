"""The study's tables, as CSV (every number, per seed) and Markdown (mean ± sd, for reading).

Written by the aggregate rules from :class:`biomedclf.stats.records.StudyStats`:

* ``tables/test_metrics.{csv,md}``: test metrics per variant, per seed in the CSV plus mean,
  sd and seed-ensemble rows; the Markdown shows mean ± sd with the bootstrap interval;
* ``tables/training_time.{csv,md}``: training time, throughput and model size per variant
  (both built by :mod:`biomedclf.report.tables.study`);
* ``tables/per_class.{csv,md}``: each class's one-vs-rest metrics per variant
  (:mod:`biomedclf.report.tables.per_class`);
* ``tables/comparison_{comp}.{csv,md}``: baseline against each variant: final train and
  validation accuracy, overfitting gap, test accuracy, training time;
* ``tables/stats_{comp}.{csv,md}``: paired differences with intervals, McNemar p, verdict
  (both built by :mod:`biomedclf.report.tables.comparison`).

The architecture table, which needs no statistics, is :mod:`biomedclf.report.tables.architecture`.
Numbers are rendered by :mod:`biomedclf.report.rendering`; every file is written atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

from biomedclf.layout import RunFiles
from biomedclf.report.rendering import output_dir, write_csv, write_text
from biomedclf.report.tables.comparison import (
    comparison_markdown,
    comparison_rows,
    stats_markdown,
    stats_rows,
)
from biomedclf.report.tables.per_class import per_class_markdown, per_class_rows
from biomedclf.report.tables.ranking import ranking_markdown, ranking_rows, ranking_sentence
from biomedclf.report.tables.study import (
    metrics_table_markdown,
    metrics_table_rows,
    training_time_markdown,
    training_time_rows,
)
from biomedclf.stats.records import StudyStats

log = logging.getLogger(__name__)

#: Added to the statistics tables' note for more than two classes.
MULTICLASS_STATS_NOTE = (
    " The predicted class is the one of highest probability; AUROC is the macro average of "
    "the one-vs-rest AUROCs; balanced accuracy is in percentage points."
)

#: The paragraph that explains the per-class tables.
PER_CLASS_NOTE = (
    "Each class against all others (one-vs-rest), on the test split: mean ± sd over seeds. "
    "Recall is the sensitivity to the class; AUROC and average precision rank the images by "
    "the class's probability. The last row averages the classes alike (macro average)."
)


def test_metrics_note(stats: StudyStats) -> str:
    """The paragraph that explains the test-metrics table."""
    conf, n_boot = stats.confidence_label, stats.settings.n_bootstrap
    ci = (
        f"The {conf} CI is a percentile bootstrap ({n_boot} resamples of the {stats.scope} "
        "images) of the mean over seeds."
    )
    if not stats.multiclass:
        return (
            f"Mean ± sd over seeds, threshold 0.5. {ci} ECE: expected calibration error, "
            "seeds pooled."
        )
    return (
        f"Mean ± sd over seeds of {stats.n_classes} classes; the predicted class is the one "
        f"of highest probability. {ci} Macro averages weigh every class alike; macro AUROC: "
        "mean of the one-vs-rest AUROCs; Brier: mean over images of the squared error summed "
        "over classes; ECE: top-label expected calibration error, seeds pooled; kappa: "
        f"Cohen's, {'quadratic-weighted (ordered classes)' if stats.ordinal else 'unweighted'}."
    )


def write_study_tables(runs: list[RunFiles], stats: StudyStats, out_dir: Path) -> list[Path]:
    """Write ``tables/test_metrics.{csv,md}``, ``tables/training_time.{csv,md}``,
    ``tables/per_class.{csv,md}`` and ``tables/ranking.{csv,md}``.

    ``out_dir`` is the study folder (``results/{name}``) or its ``tables`` folder. Returns the
    paths written.
    """
    tables = output_dir(out_dir, "tables")
    header, rows = metrics_table_rows(runs, stats)
    paths = [
        write_csv(tables / "test_metrics.csv", header, rows),
        write_text(
            tables / "test_metrics.md",
            f"# {stats.scope.capitalize()} metrics per variant\n\n"
            + test_metrics_note(stats)
            + "\n\n"
            + metrics_table_markdown(runs, stats),
        ),
    ]
    header, rows = training_time_rows(runs, stats)
    paths += [
        write_csv(tables / "training_time.csv", header, rows),
        write_text(
            tables / "training_time.md",
            "# Training time per variant\n\n"
            "Mean ± sd over seeds of the training loop's wall time (no start-up).\n\n"
            + training_time_markdown(runs, stats),
        ),
    ]
    header, rows = per_class_rows(runs, stats)
    paths += [
        write_csv(tables / "per_class.csv", header, rows),
        write_text(
            tables / "per_class.md",
            "# Metrics per class\n\n" + PER_CLASS_NOTE + "\n\n" + per_class_markdown(runs, stats),
        ),
    ]
    header, rows = ranking_rows(stats)
    paths += [
        write_csv(tables / "ranking.csv", header, rows),
        write_text(
            tables / "ranking.md",
            "# Which variant is best\n\n"
            + ranking_sentence(stats)
            + "\n\n"
            + ranking_markdown(stats),
        ),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


def write_comparison_tables(
    comp_name: str, comparison: dict, runs: list[RunFiles], stats: StudyStats, out_dir: Path
) -> list[Path]:
    """Write ``tables/comparison_{comp}.{csv,md}`` and ``tables/stats_{comp}.{csv,md}``.

    ``comparison`` is the config entry (``{"baseline", "variants", "claim"?}``); ``out_dir``
    the study folder or its ``tables`` folder. Returns the paths written.
    """
    stats.variant_order(runs)  # every run covered by stats
    tables = output_dir(out_dir, "tables")
    baseline = comparison.get("baseline")
    header, rows = comparison_rows(comp_name, comparison, stats)
    paths = [
        write_csv(tables / f"comparison_{comp_name}.csv", header, rows),
        write_text(
            tables / f"comparison_{comp_name}.md",
            f"# Comparison {comp_name}: baseline {baseline}\n\n"
            "Mean ± sd over seeds. Final train/val accuracy: last epoch of training; gap: "
            "train minus validation accuracy, a measure of overfitting.\n\n"
            + comparison_markdown(comp_name, comparison, stats),
        ),
    ]
    header, rows = stats_rows(comp_name, comparison, stats)
    paths += [
        write_csv(tables / f"stats_{comp_name}.csv", header, rows),
        write_text(
            tables / f"stats_{comp_name}.md",
            f"# Statistics of comparison {comp_name}: each variant minus {baseline}\n\n"
            f"Paired differences on the same {stats.scope} images with {stats.confidence_label} "
            "percentile-bootstrap intervals (accuracy in percentage points); McNemar's exact "
            "test on the paired correct/incorrect outcomes. The verdict comes from the pooled "
            "interval."
            + MULTICLASS_STATS_NOTE * stats.multiclass
            + "\n\n"
            + stats_markdown(comp_name, comparison, stats),
        ),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths
