"""The per-class table: each class's one-vs-rest metrics per variant, mean and sd over seeds.

Rows and Markdown of the ``per_class`` table from the ``per_class`` entries of
:class:`biomedclf.stats.records.StudyStats` (precision, recall or sensitivity, specificity, F1,
support and the one-vs-rest AUROC and average precision of each class), for two classes or
more; the Markdown closes each variant's table with the macro average. Written by
:func:`biomedclf.report.tables.write.write_study_tables` and shown in ``summary.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from biomedclf.layout import RunFiles
from biomedclf.report.rendering import fmt_mean_sd, markdown_table, plural
from biomedclf.stats.records import StudyStats, VariantStats

#: Per-class metrics of the tables, with their Markdown heading.
CLASS_METRICS = (
    ("precision", "Precision (%)"),
    ("recall", "Recall (%)"),
    ("specificity", "Specificity (%)"),
    ("f1", "F1 (%)"),
    ("auroc", "AUROC (one-vs-rest)"),
    ("average_precision", "Average precision"),
)

#: The multi-class summary behind the macro-average row, per per-class metric.
MACRO_OF = {
    "precision": "macro_precision",
    "recall": "macro_recall",
    "specificity": "macro_specificity",
    "f1": "macro_f1",
    "auroc": "macro_auroc",
    "average_precision": "macro_average_precision",
}


def per_class_rows(
    runs: Sequence[RunFiles], stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``per_class.csv``: one row per variant and class."""
    header = ["variant", "class_index", "class", "support"]
    for key, _ in CLASS_METRICS:
        header += [f"{key}_mean", f"{key}_sd"]
    rows = []
    for v in stats.variant_order(runs):
        for c in stats.variant(v).per_class:
            row: list[Any] = [v, c.index, c.class_name, c.support]
            for key, _ in CLASS_METRICS:
                d = getattr(c, key)
                row += [d.mean, d.sd]
            rows.append(row)
    return header, rows


def _fmt(metric: str, desc: Any) -> str:
    """A per-class cell: percentages for rates, three decimals for AUROC and AP."""
    return fmt_mean_sd(
        desc, "recall" if metric in ("precision", "recall", "specificity", "f1") else "auroc"
    )


def variant_markdown(vs: VariantStats) -> str:
    """One variant's per-class table, with the macro average as its last row."""
    header = ["Class", "Test images", *[label for _, label in CLASS_METRICS]]
    rows: list[list[Any]] = []
    for c in vs.per_class:
        cells = [_fmt(k, getattr(c, k)) for k, _ in CLASS_METRICS]
        rows.append([c.class_name, c.support, *cells])
    mc = vs.metrics.multiclass
    macro = [_fmt(k, mc.get(MACRO_OF[k])) for k, _ in CLASS_METRICS]
    rows.append(["*macro average*", sum(c.support for c in vs.per_class), *macro])
    return markdown_table(header, rows, ["l"] + ["r"] * (len(header) - 1))


def per_class_markdown(runs: Sequence[RunFiles], stats: StudyStats, heading: str = "###") -> str:
    """Per variant (in run order) a ``heading`` line and its per-class table."""
    parts = []
    for v in stats.variant_order(runs):
        vs = stats.variant(v)
        parts.append(f"{heading} {v} ({plural(len(vs.seeds), 'seed')})\n\n" + variant_markdown(vs))
    return "\n".join(parts)
