"""The ``stats`` table of one comparison: each variant minus the baseline, two questions.

Per variant and metric (accuracy, balanced accuracy, AUROC: macro for more than two classes),
from :class:`biomedclf.stats.records.StudyStats`: the paired difference of each seed; the
recipe-level difference (would the variant be ahead again if both were trained again and
tested on new images? its interval accounts for the training runs and the test images; the
verdict) with its p-value and the seeds that would tell; the difference for these trained
models (the runs held fixed, the test images resampled); the difference of the seed
ensembles; McNemar's test on the accuracy rows. Below the table, the notes beside each
verdict (few seeds, seeds that disagree) and the warnings. Written by
:func:`biomedclf.report.tables.write.write_comparison_tables`.
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.rendering import fmt_p, level_text, markdown_table, plural
from biomedclf.report.tables.comparison import compared_metrics, comparison_results
from biomedclf.stats.records import (
    ComparisonResult,
    Difference,
    McNemar,
    RecipeDifference,
    StudyStats,
)
from biomedclf.stats.significance import format_difference

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
    "p_value",
    "se",
    "df",
    "n_seeds",
    "n_images",
    "seeds_needed",
    "mcnemar_baseline_only",
    "mcnemar_variant_only",
    "mcnemar_p",
    "verdict",
]


def evidence_text(recipe: RecipeDifference, scope: str) -> str:
    """What a recipe-level interval rests on: ``3 training runs of each and 147 test images``
    (``3 and 5 training runs`` when the two differ)."""
    b, v = recipe.n_seeds.baseline, recipe.n_seeds.variant
    runs = plural(b, "training run") + " of each" if b == v else f"{b} and {v} training runs"
    return f"{runs} and {recipe.n_images} {scope} images"


def seeds_needed_cell(recipe: RecipeDifference) -> str:
    """The seeds per variant that would tell, for a table cell: ``12``, or ``none would``
    (no difference, more than a thousand, or the test images' own noise hides it: the
    record's ``seeds_needed_note`` says which)."""
    return "none would" if recipe.seeds_needed is None else str(recipe.seeds_needed)


def _mcnemar_cells(mc: McNemar | None) -> list[Any]:
    """Baseline-only and variant-only counts and p-value; empty cells without a test."""
    return [mc.baseline_only, mc.variant_only, mc.p_value] if mc else [None, None, None]


def _diff_cells(d: Difference) -> list[Any]:
    """Difference, interval low and high."""
    return [d.difference, d.low, d.high]


def _stats_csv_rows(lead: list[Any], res: ComparisonResult, metric: str) -> list[list[Any]]:
    """Seed, recipe, trained-models and ensemble rows of one metric; ``lead`` is comparison,
    baseline, variant."""
    block = res.metric(metric)
    is_acc = metric == "accuracy"
    mc_seed = {e.seed: e for e in res.mcnemar.per_seed} if is_acc else {}
    blank = [None] * 6
    rows = [
        [*lead, metric, "seed", e.seed, *_diff_cells(e), *blank]
        + [*_mcnemar_cells(mc_seed.get(e.seed)), None]
        for e in block.per_seed
    ]
    r, t = block.recipe, block.trained_models
    counts = f"{r.n_seeds.baseline}/{r.n_seeds.variant}"
    rows.append(
        [*lead, metric, "recipe", None, *_diff_cells(r), r.p_value, r.se, r.df, counts]
        + [r.n_images, r.seeds_needed, None, None, None, block.verdict]
    )
    rows.append(
        [*lead, metric, "trained_models", None, *_diff_cells(t), t.p_value, *blank[:5]]
        + [None, None, None, block.trained_models_verdict]
    )
    mc_ens = res.mcnemar.ensemble if is_acc else None
    rows.append(
        [*lead, metric, "ensemble", None, *_diff_cells(block.ensemble), *blank]
        + [*_mcnemar_cells(mc_ens), None]
    )
    return rows


def stats_rows(
    comp_name: str, comparison: dict, stats: StudyStats
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``stats_{comp}.csv``: one row per variant, metric and scope.

    Scopes: ``seed`` (seed ``s`` of the variant paired with seed ``s`` of the baseline),
    ``recipe`` (the difference of the run means over training runs and test images, with its
    p-value, standard error, degrees of freedom, runs ``baseline/variant``, images and seeds
    needed; the verdict's basis), ``trained_models`` (the same difference with the runs held
    fixed, test images resampled) and ``ensemble`` (probabilities averaged over seeds first).
    McNemar's test belongs to accuracy rows of the ``seed`` and ``ensemble`` scopes.
    """
    baseline = stats.comparison(comp_name).baseline
    rows = []
    for v, res in comparison_results(comp_name, comparison, stats):
        for metric, _ in compared_metrics(stats):
            rows += _stats_csv_rows([comp_name, baseline, v], res, metric)
    return list(STATS_HEADER), rows


def _stats_md_rows(
    name: str, res: ComparisonResult, metric: str, label: str, stats: StudyStats
) -> list[list[Any]]:
    """Markdown rows of one metric: per seed, recipe (with the verdict), these trained models
    and the seed ensemble."""
    block, conf = res.metric(metric), stats.settings.confidence
    is_acc = metric == "accuracy"
    mc_seed = {e.seed: e.p_value for e in res.mcnemar.per_seed}

    def diff(d: Difference) -> str:
        """A difference with its interval."""
        return format_difference(d.difference, d.low, d.high, metric, conf)

    rows = [
        [name, label, f"seed {e.seed}", diff(e), "", fmt_p(mc_seed.get(e.seed)) if is_acc else ""]
        + ["", ""]
        for e in block.per_seed
    ]
    r, t = block.recipe, block.trained_models
    rows.append(
        [name, label, f"recipe ({evidence_text(r, stats.scope)})", diff(r), fmt_p(r.p_value)]
        + ["", seeds_needed_cell(r), f"**{block.verdict}**"]
    )
    rows.append(
        [name, label, "these trained models", diff(t), fmt_p(t.p_value), "", ""]
        + [block.trained_models_verdict]
    )
    p_ens = fmt_p(res.mcnemar.ensemble.p_value) if is_acc else ""
    rows.append([name, label, "seed ensemble", diff(block.ensemble), "", p_ens, "", ""])
    return rows


def stats_markdown(comp_name: str, comparison: dict, stats: StudyStats) -> str:
    """Markdown: differences (variant − baseline) with intervals, p-values, McNemar p, seeds
    needed and verdicts; then the notes and warnings."""
    conf = stats.settings.confidence
    baseline = stats.comparison(comp_name).baseline
    header = [
        "Variant − baseline",
        "Metric",
        "Scope",
        f"Difference ({level_text(conf)} CI)",
        "p",
        "McNemar p",
        "Seeds needed",
        "Verdict",
    ]
    rows: list[list[Any]] = []
    notes: list[str] = []
    warnings: list[str] = []
    for v, res in comparison_results(comp_name, comparison, stats):
        for metric, label in compared_metrics(stats):
            rows += _stats_md_rows(f"{v} − {baseline}", res, metric, label, stats)
        notes += [f"- {v}: {n}" for n in res.notes]
        warnings += [f"- {v}: {w}" for w in res.warnings]
    text = markdown_table(header, rows, ["l", "l", "l", "r", "r", "r", "r", "l"])
    if notes:
        text += "\nNotes:\n\n" + "\n".join(notes) + "\n"
    if warnings:
        text += "\nWarnings:\n\n" + "\n".join(warnings) + "\n"
    return text
