"""The study's tables, as CSV (every number, per seed) and Markdown (mean ± sd, for reading).

Written by the ``study_tables`` and ``comparison_tables`` rules from ``stats/stats.json``
(:class:`biomedclf.stats.records.StudyStats`), each table into the [CSV, Markdown] files the
rule names:

* ``test_metrics``: test metrics per variant, per seed in the CSV plus mean, sd and
  seed-ensemble rows; the Markdown shows mean ± sd with the bootstrap interval;
* ``training_time``: training time, throughput and model size per variant (both built by
  :mod:`biomedclf.report.tables.study`);
* ``per_class``: each class's one-vs-rest metrics per variant
  (:mod:`biomedclf.report.tables.per_class`);
* ``ranking``: which variant is best (:mod:`biomedclf.report.tables.ranking`);
* ``comparison`` (of one comparison): baseline against each variant: final train and
  validation accuracy, overfitting gap, test accuracy, training time
  (:mod:`biomedclf.report.tables.comparison`);
* ``stats`` (of one comparison): differences for the recipe (the verdict's) and for these
  trained models, per seed and of the ensembles, with intervals, p-values, McNemar p, seeds
  needed, verdicts and notes (:mod:`biomedclf.report.tables.stats_table`).

The architecture table, which needs no statistics, is :mod:`biomedclf.report.tables.architecture`.
Numbers are rendered by :mod:`biomedclf.report.rendering`; every file is written atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biomedclf.layout import RunFiles
from biomedclf.report.rendering import level_text, write_csv, write_text
from biomedclf.report.tables.comparison import comparison_markdown, comparison_rows
from biomedclf.report.tables.per_class import per_class_markdown, per_class_rows
from biomedclf.report.tables.ranking import (
    ranking_markdown,
    ranking_note,
    ranking_rows,
    ranking_sentence,
)
from biomedclf.report.tables.stats_table import stats_markdown, stats_rows
from biomedclf.report.tables.study import (
    metrics_table_markdown,
    metrics_table_rows,
    training_time_markdown,
    training_time_rows,
)
from biomedclf.stats.records import StudyStats, read_stats

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
    conf, n_boot = level_text(stats.settings.confidence), stats.settings.n_bootstrap
    ci = (
        f"The {conf} CI is a percentile bootstrap ({n_boot} resamples of the {stats.scope} "
        "images) of the mean over seeds: for these trained models (the ranking gives the "
        "interval over training runs and test images)."
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


def stats_note(stats: StudyStats) -> str:
    """The paragraph that explains a comparison's statistics table: the two questions."""
    conf, n_boot, scope = (
        level_text(stats.settings.confidence),
        stats.settings.n_bootstrap,
        stats.scope,
    )
    return (
        f"Each variant minus the baseline on the same {scope} images ({conf} intervals, "
        f"{n_boot} resamples; accuracy in percentage points). The verdict answers a question "
        "about the training recipe: would the variant be ahead again if both were trained "
        "again and tested on new images? Its interval (scope *recipe*) accounts for both "
        f"sources of noise, the training runs (seeds) and the {scope} images: a two-way "
        "bootstrap of both, rescaled to the standard error of the crossed random-effects "
        "model with a t on Welch-Satterthwaite degrees of freedom. *These trained models*: the "
        f"same difference with the runs held fixed and only the {scope} images resampled; it "
        f"says whether these trained models would keep their lead on new {scope} images. "
        "*Seeds needed*: training runs per variant with which the recipe test would detect "
        f"the observed difference with {stats.settings.power:.0%} power (*none would*: the "
        f"{scope} images' own noise hides it, or more than a thousand runs would be needed). "
        "Per seed and seed "
        f"ensemble: percentile bootstrap over the {scope} images. McNemar's exact test on "
        "the paired correct/incorrect outcomes."
    )


#: A table as written: its CSV header and rows, and its Markdown text.
Table = tuple[list[str], list[list[Any]], str]


def study_tables(runs: Sequence[RunFiles], stats: StudyStats) -> dict[str, Table]:
    """The study-wide tables by name: test metrics, training time, per class, ranking."""
    return {
        "test_metrics": (
            *metrics_table_rows(runs, stats),
            f"# {stats.scope.capitalize()} metrics per variant\n\n"
            + test_metrics_note(stats)
            + "\n\n"
            + metrics_table_markdown(runs, stats),
        ),
        "training_time": (
            *training_time_rows(runs, stats),
            "# Training time per variant\n\n"
            "Mean ± sd over seeds of the training loop's wall time (no start-up).\n\n"
            + training_time_markdown(runs, stats),
        ),
        "per_class": (
            *per_class_rows(runs, stats),
            "# Metrics per class\n\n" + PER_CLASS_NOTE + "\n\n" + per_class_markdown(runs, stats),
        ),
        "ranking": (
            *ranking_rows(stats),
            "# Which variant is best\n\n"
            + ranking_sentence(stats)
            + "\n\n"
            + ranking_note(stats)
            + "\n\n"
            + ranking_markdown(stats),
        ),
    }


def comparison_tables(name: str, comparison: dict, stats: StudyStats) -> dict[str, Table]:
    """The tables of comparison ``name`` (its config entry) by name: comparison, stats."""
    baseline = comparison["baseline"]
    return {
        "comparison": (
            *comparison_rows(name, comparison, stats),
            f"# Comparison {name}: baseline {baseline}\n\n"
            "Mean ± sd over seeds. Final train/val accuracy: last epoch of training; gap: "
            "train minus validation accuracy, a measure of overfitting.\n\n"
            + comparison_markdown(name, comparison, stats),
        ),
        "stats": (
            *stats_rows(name, comparison, stats),
            f"# Statistics of comparison {name}: each variant minus {baseline}\n\n"
            + stats_note(stats)
            + MULTICLASS_STATS_NOTE * stats.multiclass
            + "\n\n"
            + stats_markdown(name, comparison, stats),
        ),
    }


def write_tables(
    tables: dict[str, Table], outputs: Mapping[str, Sequence[Path | str]]
) -> list[Path]:
    """Write each table to its [CSV, Markdown] files of ``outputs``; returns the paths."""
    unknown = sorted(set(outputs) - set(tables))
    missing = sorted(set(tables) - set(outputs))
    if unknown or missing:
        raise ValueError(
            f"table outputs: the rule names {sorted(outputs)}, this step writes "
            f"{sorted(tables)} (missing {missing}, unknown {unknown}); name a [csv, md] pair "
            "for each table"
        )
    paths = []
    for name, (header, rows, text) in tables.items():
        csv_path, md_path = map(Path, outputs[name])
        paths += [write_csv(csv_path, header, rows), write_text(md_path, text)]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


def write_study_tables(
    runs: Sequence[RunFiles], stats: Path | str, outputs: Mapping[str, Sequence[Path | str]]
) -> list[Path]:
    """Write the study-wide tables (:func:`study_tables`) of ``runs`` from stats.json at
    ``stats``; ``outputs`` maps each table's name to its [CSV, Markdown] files."""
    return write_tables(study_tables(runs, read_stats(stats)), outputs)


def write_comparison_tables(
    name: str,
    comparison: dict,
    runs: Sequence[RunFiles],
    stats: Path | str,
    outputs: Mapping[str, Sequence[Path | str]],
) -> list[Path]:
    """Write the tables of comparison ``name`` (:func:`comparison_tables`; ``comparison`` is
    its config entry) from stats.json at ``stats``; every run must be in the statistics.
    ``outputs`` maps ``comparison`` and ``stats`` to their [CSV, Markdown] files."""
    study = read_stats(stats)
    study.variant_order(runs)  # every run covered by the statistics
    return write_tables(comparison_tables(name, comparison, study), outputs)
