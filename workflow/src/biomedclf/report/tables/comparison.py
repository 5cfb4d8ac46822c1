"""The ``comparison`` table of one comparison: baseline against each variant.

Rows and Markdown of a comparison's ``comparison`` table (final train and validation
accuracy, overfitting gap, test accuracy and training time, mean and sd over seeds), from
:class:`biomedclf.stats.records.StudyStats`, and the helpers its ``stats`` table
(:mod:`biomedclf.report.tables.stats_table`) shares. Written by
:func:`biomedclf.report.tables.write.write_comparison_tables`.
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import fmt_mean_sd, markdown_table
from biomedclf.stats.records import ComparisonResult, StudyStats, Summary, VariantStats

#: Columns of the comparison table: quantity and Markdown heading.
COMPARISON_COLUMNS = (
    ("final_train_accuracy", "Final train acc. (%)"),
    ("final_val_accuracy", "Final val acc. (%)"),
    ("overfitting_gap", "Train − val gap (pp)"),
    ("test_accuracy", "Test accuracy (%)"),
    ("train_seconds", "Training time (s)"),
)

#: Metrics of the statistics tables.
COMPARED_METRICS = ("accuracy", "balanced_accuracy", "auroc")


def compared_metrics(stats: StudyStats) -> list[tuple[str, str]]:
    """Each of :data:`COMPARED_METRICS` with its Markdown name (``Test accuracy``, ``Macro
    AUROC`` for more than two classes)."""
    return [
        (m, capitalised(metric_name(m, stats.scope, stats.multiclass))) for m in COMPARED_METRICS
    ]


def comparison_members(
    comp_name: str, comparison: dict, stats: StudyStats
) -> list[tuple[str, str]]:
    """``(role, variant)`` of the baseline and each variant; each must be in ``stats``."""
    baseline = comparison["baseline"]
    members = [("baseline", baseline)] + [("variant", v) for v in comparison["variants"]]
    for _, v in members:
        if v not in stats.variants:
            raise ValueError(
                f"comparisons.{comp_name}: {stats.source} has no variant {v!r}; rerun the "
                "stats step or fix the comparison"
            )
    return members


def _column(vs: VariantStats, key: str) -> Summary | None:
    """The summary behind one column of :data:`COMPARISON_COLUMNS`."""
    if key == "test_accuracy":
        return vs.test_accuracy
    return getattr(vs, key)


def comparison_rows(
    comp_name: str, comparison: dict, stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``comparison_{comp}.csv`` (mean and sd of each quantity)."""
    header = ["comparison", "role", "variant", "n_seeds"]
    for key, _ in COMPARISON_COLUMNS:
        header += [f"{key}_mean", f"{key}_sd"]
    header += ["test_accuracy_ci_low", "test_accuracy_ci_high"]
    rows = []
    for role, v in comparison_members(comp_name, comparison, stats):
        vs = stats.variant(v)
        row: list[Any] = [comp_name, role, v, len(vs.seeds)]
        for key, _ in COMPARISON_COLUMNS:
            d = _column(vs, key)
            row += [d.mean, d.sd] if d else [None, None]
        ci = vs.bootstrap.seed_mean.accuracy
        rows.append(row + [ci.low, ci.high])
    return header, rows


def comparison_markdown(comp_name: str, comparison: dict, stats: StudyStats) -> str:
    """Markdown: baseline and variants side by side (mean ± sd over seeds)."""
    header = [
        "Role",
        "Variant",
        "Seeds",
        *[label.replace("Test", stats.scope.capitalize()) for _, label in COMPARISON_COLUMNS],
    ]
    rows = []
    for role, v in comparison_members(comp_name, comparison, stats):
        vs = stats.variant(v)
        rows.append(
            [role, v, len(vs.seeds)]
            + [
                fmt_mean_sd(_column(vs, key), "accuracy" if key == "test_accuracy" else key)
                for key, _ in COMPARISON_COLUMNS
            ]
        )
    return markdown_table(header, rows, ["l", "l", "r"] + ["r"] * len(COMPARISON_COLUMNS))


def comparison_results(
    comp_name: str, comparison: dict, stats: StudyStats
) -> list[tuple[str, ComparisonResult]]:
    """``(variant, result)`` for each variant of the comparison, in config order."""
    members = comparison_members(comp_name, comparison, stats)[1:]
    return [(v, stats.result(comp_name, v)) for _, v in members]
