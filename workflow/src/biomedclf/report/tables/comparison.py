"""The tables of one comparison: baseline against each variant, and its statistics.

Rows and Markdown of a comparison's ``comparison`` table (final train and validation
accuracy, overfitting gap, test accuracy and training time, mean and sd over seeds) and of
its ``stats`` table (paired differences of accuracy, balanced accuracy and
AUROC, macro for more than two classes, with intervals per seed, pooled and for the seed
ensemble, McNemar's test and the verdicts), from
:class:`biomedclf.stats.records.StudyStats`. Written by
:func:`biomedclf.report.tables.write.write_comparison_tables`.
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import fmt_mean_sd, fmt_p, level_text, markdown_table
from biomedclf.stats.records import (
    ComparisonResult,
    Difference,
    McNemar,
    StudyStats,
    Summary,
    VariantStats,
)
from biomedclf.stats.significance import format_difference

#: Columns of the comparison table: quantity and Markdown heading.
COMPARISON_COLUMNS = (
    ("final_train_accuracy", "Final train acc. (%)"),
    ("final_val_accuracy", "Final val acc. (%)"),
    ("overfitting_gap", "Train − val gap (pp)"),
    ("test_accuracy", "Test accuracy (%)"),
    ("train_seconds", "Training time (s)"),
)

#: Columns of ``stats_{comp}.csv``.
STATS_HEADER = [
    "comparison",
    "baseline",
    "variant",
    "metric",
    "scope",
    "seed",
    "difference",
    "ci_low",
    "ci_high",
    "mcnemar_baseline_only",
    "mcnemar_variant_only",
    "mcnemar_p",
    "verdict",
]

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


def _results(
    comp_name: str, comparison: dict, stats: StudyStats
) -> list[tuple[str, ComparisonResult]]:
    """``(variant, result)`` for each variant of the comparison, in config order."""
    members = comparison_members(comp_name, comparison, stats)[1:]
    return [(v, stats.result(comp_name, v)) for _, v in members]


def _mcnemar_cells(mc: McNemar | None) -> list[Any]:
    """Baseline-only and variant-only counts and p-value; empty cells without a test."""
    return [mc.baseline_only, mc.variant_only, mc.p_value] if mc else [None, None, None]


def _diff_cells(d: Difference) -> list[Any]:
    """Difference, interval low and high."""
    return [d.difference, d.low, d.high]


def _stats_csv_rows(lead: list[Any], res: ComparisonResult, metric: str) -> list[list[Any]]:
    """Seed, pooled and ensemble rows of one metric; ``lead`` is comparison, baseline, variant."""
    block = res.metric(metric)
    is_acc = metric == "accuracy"
    mc_seed = {e.seed: e for e in res.mcnemar.per_seed} if is_acc else {}
    rows = [
        [*lead, metric, "seed", e.seed, *_diff_cells(e), *_mcnemar_cells(mc_seed.get(e.seed)), None]
        for e in block.per_seed
    ]
    rows.append(
        [*lead, metric, "pooled", None, *_diff_cells(block.pooled), None, None, None, block.verdict]
    )
    mc_ens = res.mcnemar.ensemble if is_acc else None
    rows.append(
        [
            *lead,
            metric,
            "ensemble",
            None,
            *_diff_cells(block.ensemble),
            *_mcnemar_cells(mc_ens),
            None,
        ]
    )
    return rows


def stats_rows(
    comp_name: str, comparison: dict, stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``stats_{comp}.csv``: one row per variant, metric and scope.

    Scopes: ``seed`` (seed ``s`` of the variant paired with seed ``s`` of the baseline),
    ``pooled`` (the difference averaged over seeds inside each resample; the verdict's
    basis) and ``ensemble`` (probabilities averaged over seeds first). McNemar's test belongs
    to accuracy rows of the ``seed`` and ``ensemble`` scopes.
    """
    baseline = stats.comparison(comp_name).baseline
    rows = []
    for v, res in _results(comp_name, comparison, stats):
        for metric, _ in compared_metrics(stats):
            rows += _stats_csv_rows([comp_name, baseline, v], res, metric)
    return list(STATS_HEADER), rows


def _stats_md_rows(
    name: str, res: ComparisonResult, metric: str, label: str, confidence: float
) -> list[list[Any]]:
    """Markdown rows of one metric: per seed, pooled (with the verdict) and ensemble."""
    block = res.metric(metric)
    is_acc = metric == "accuracy"
    mc_seed = {e.seed: e.p_value for e in res.mcnemar.per_seed}

    def diff(d: Difference) -> str:
        """A difference with its interval."""
        return format_difference(d.difference, d.low, d.high, metric, confidence)

    rows = [
        [name, label, f"seed {e.seed}", diff(e), fmt_p(mc_seed.get(e.seed)) if is_acc else "", ""]
        for e in block.per_seed
    ]
    rows.append([name, label, "pooled over seeds", diff(block.pooled), "", f"**{block.verdict}**"])
    p_ens = fmt_p(res.mcnemar.ensemble.p_value) if is_acc else ""
    rows.append([name, label, "seed ensemble", diff(block.ensemble), p_ens, ""])
    return rows


def stats_markdown(comp_name: str, comparison: dict, stats: StudyStats) -> str:
    """Markdown: differences (variant − baseline) with intervals, McNemar p and verdicts."""
    conf = stats.settings.confidence
    baseline = stats.comparison(comp_name).baseline
    header = [
        "Variant − baseline",
        "Metric",
        "Scope",
        f"Difference ({level_text(conf)} CI)",
        "McNemar p",
        "Verdict",
    ]
    rows: list[list[Any]] = []
    notes: list[str] = []
    for v, res in _results(comp_name, comparison, stats):
        for metric, label in compared_metrics(stats):
            rows += _stats_md_rows(f"{v} − {baseline}", res, metric, label, conf)
        notes += [f"- {v}: {w}" for w in res.warnings]
    text = markdown_table(header, rows, ["l", "l", "l", "r", "r", "l"])
    if notes:
        text += "\nWarnings:\n\n" + "\n".join(notes) + "\n"
    return text
