"""The answer a study is run for: which variant is best, and is its lead real?

The ``ranking`` table and the first section of ``summary.md`` render the ``ranking`` entry of
stats.json (:mod:`biomedclf.stats.ranking`): the variants by the primary metric with their
recipe-level intervals (training runs and test images) and those of these trained models
(test images only), and the best one against each other with the recipe-level difference,
its interval, the Holm-adjusted p-value, the seeds that would tell, and the interval for
these trained models.
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import fmt_p, fmt_value, level_text, markdown_table, p_text
from biomedclf.report.tables.stats_table import evidence_text, seeds_needed_cell
from biomedclf.stats.records import Lead, StudyStats

#: Columns of ``ranking.csv``.
RANKING_HEADER = [
    "rank",
    "variant",
    "metric",
    "n_seeds",
    "estimate",
    "ci_low",
    "ci_high",
    "trained_models_ci_low",
    "trained_models_ci_high",
    "best_minus_variant",
    "diff_ci_low",
    "diff_ci_high",
    "p_value",
    "p_holm",
    "lead_is_real",
    "seeds_needed",
    "trained_models_diff_ci_low",
    "trained_models_diff_ci_high",
    "trained_models_p_value",
]


def metric_words(stats: StudyStats) -> str:
    """The primary metric in words (``macro AUROC`` for more than two classes)."""
    return metric_name(stats.ranking.metric, stats.scope, stats.multiclass)


def _value(x: float | None, metric: str) -> str:
    unit = " %" if metric != "auroc" else ""
    text = fmt_value(x, metric)
    return text if text == "n/a" else text + unit


def _signed(x: float | None, metric: str) -> str:
    if x is None:
        return "n/a"
    return f"{x * 100:+.1f} pp" if metric != "auroc" else f"{x:+.3f}"


def _span(low: float | None, high: float | None, fmt: Any, metric: str) -> str:
    """``[low, high]`` with ``fmt``; ``n/a`` without both ends."""
    if low is None or high is None:
        return "n/a"
    return f"[{fmt(low, metric)}, {fmt(high, metric)}]"


def _lead_cells(lead: Lead | None) -> list[Any]:
    """The CSV cells of the best's lead over a variant (empty for the best itself)."""
    if lead is None:
        return [None] * 10
    t = lead.trained_models
    return [
        lead.difference,
        lead.low,
        lead.high,
        lead.p_value,
        lead.p_holm,
        lead.lead_is_real,
        lead.recipe.seeds_needed,
        t.low,
        t.high,
        t.p_value,
    ]


def ranking_rows(stats: StudyStats) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``ranking.csv``: rank, variant, runs, the metric's estimate with
    its recipe-level interval and that of these trained models, and (after the best) the
    difference to the best, its recipe-level interval, raw and Holm p-values, the decision,
    the seeds needed and the interval and p-value for these trained models."""
    r = stats.ranking
    leads = {v.variant: v for v in r.versus}
    rows = []
    for rank, row in enumerate(r.order, 1):
        tm = row.trained_models
        rows.append(
            [rank, row.variant, r.metric, row.n_seeds, row.estimate, row.low, row.high]
            + [tm.low, tm.high, *_lead_cells(leads.get(row.variant))]
        )
    return list(RANKING_HEADER), rows


def ranking_markdown(stats: StudyStats) -> str:
    """The ranking as a Markdown table."""
    r, conf = stats.ranking, level_text(stats.settings.confidence)
    leads = {v.variant: v for v in r.versus}
    rows = []
    for rank, row in enumerate(r.order, 1):
        lead = leads.get(row.variant)
        cells = [
            rank,
            row.variant,
            _value(row.estimate, r.metric),
            _span(row.low, row.high, _value, r.metric),
            _span(row.trained_models.low, row.trained_models.high, _value, r.metric),
        ]
        if lead is None:
            cells += ["best", "", "", "", ""]
        else:
            tm = lead.trained_models
            cells += [
                f"{_signed(lead.difference, r.metric)} "
                + _span(lead.low, lead.high, _signed, r.metric),
                fmt_p(lead.p_holm),
                "yes" if lead.lead_is_real else "no",
                seeds_needed_cell(lead.recipe),
                _span(tm.low, tm.high, _signed, r.metric),
            ]
        rows.append(cells)
    header = [
        "Rank",
        "Variant",
        capitalised(metric_words(stats)),
        f"{conf} CI (recipe)",
        f"{conf} CI (these trained models)",
        f"Best minus variant ({conf} CI, recipe)",
        "Holm p",
        "Lead is real",
        "Seeds needed",
        f"Best minus variant, these trained models ({conf} CI)",
    ]
    return markdown_table(header, rows, ["r", "l", "r", "r", "r", "r", "r", "c", "r", "r"])


def _lead_words(lead: Lead, metric: str) -> str:
    if lead.p_holm is None:
        return (
            f"over {lead.variant} {_signed(lead.difference, metric)} (untested: no "
            "recipe-level interval with fewer than 2 training runs)"
        )
    how = "real" if lead.lead_is_real else "not detectable"
    return (
        f"over {lead.variant} {_signed(lead.difference, metric)} "
        f"({how}, Holm-adjusted {p_text(lead.p_holm)})"
    )


def ranking_sentence(stats: StudyStats) -> str:
    """One paragraph: the best variant, its value, whether each lead is real, and on what
    evidence (training runs and test images)."""
    r = stats.ranking
    top = r.order[0]
    runs = f"{top.n_seeds} training run{'s' * (top.n_seeds != 1)}"
    interval = (
        f"{level_text(stats.settings.confidence)} CI {_value(top.low, r.metric)} to "
        f"{_value(top.high, r.metric)} for the recipe, over training runs and {stats.scope} "
        "images"
        if top.low is not None and top.high is not None
        else "no recipe-level interval with fewer than 2 training runs"
    )
    text = (
        f"**{r.best}** has the highest {metric_words(stats)}: {_value(top.estimate, r.metric)} "
        f"(mean over {runs}; {interval})."
    )
    if r.versus:
        text += " Its lead " + "; ".join(_lead_words(v, r.metric) for v in r.versus)
        text += (
            f". A lead is real when its recipe-level p-value (would the best be ahead again "
            f"if both were trained again? over {evidence_text(r.versus[0].recipe, stats.scope)}"
            f"), adjusted with Holm's method for the {len(r.versus)} comparison(s) with the "
            f"best, is below {r.alpha:g}."
        )
    if any(v.recipe.few_seeds for v in r.versus):
        text += (
            f" With fewer than {stats.settings.min_recipe_seeds} training runs per variant the "
            "training variance is poorly known, and the intervals are wide for it."
        )
    return text


def ranking_note(stats: StudyStats) -> str:
    """The paragraph that explains the ranking table's intervals."""
    scope = stats.scope
    return (
        "*Recipe*: intervals and p-values over both sources of noise, the training runs "
        f"(seeds) and the {scope} images (a two-way bootstrap rescaled to the crossed "
        "random-effects standard error, t on Welch-Satterthwaite degrees of freedom). *These "
        f"trained models*: the runs held fixed, only the {scope} images resampled. *Seeds "
        "needed*: training runs per variant with which the recipe test would detect the "
        f"observed lead with {stats.settings.power:.0%} power (*none would*: the {scope} "
        "images' own noise hides it, or more than a thousand runs would be needed)."
    )
