"""The answer a study is run for: which variant is best, and is its lead real?

The ``ranking`` table and the first section of ``summary.md`` render the ``ranking`` entry of
stats.json (:mod:`biomedclf.stats.ranking`): the variants by the primary metric with their
intervals, and the best one against each other with the paired difference, its interval and
the Holm-adjusted p-value.
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import fmt_p, fmt_value, level_text, markdown_table, p_text
from biomedclf.stats.records import Lead, StudyStats


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


def ranking_rows(stats: StudyStats) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of ``ranking.csv``: rank, variant, the metric's estimate and interval,
    and (after the best) the difference to the best, its interval, raw and Holm p-values."""
    r = stats.ranking
    header = [
        "rank",
        "variant",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
        "best_minus_variant",
        "diff_ci_low",
        "diff_ci_high",
        "p_value",
        "p_holm",
        "lead_is_real",
    ]
    leads = {v.variant: v for v in r.versus}
    rows = []
    for rank, row in enumerate(r.order, 1):
        lead = leads.get(row.variant)
        tail = (
            [None] * 6
            if lead is None
            else [
                lead.difference,
                lead.low,
                lead.high,
                lead.p_value,
                lead.p_holm,
                lead.lead_is_real,
            ]
        )
        rows.append([rank, row.variant, r.metric, row.estimate, row.low, row.high, *tail])
    return header, rows


def ranking_markdown(stats: StudyStats) -> str:
    """The ranking as a Markdown table."""
    r, conf = stats.ranking, level_text(stats.settings.confidence)
    leads = {v.variant: v for v in r.versus}
    rows = []
    for rank, row in enumerate(r.order, 1):
        lead = leads.get(row.variant)
        behind = (
            "best"
            if lead is None
            else (
                f"{_signed(lead.difference, r.metric)} [{_signed(lead.low, r.metric)}, "
                f"{_signed(lead.high, r.metric)}]"
            )
        )
        rows.append(
            [
                rank,
                row.variant,
                _value(row.estimate, r.metric),
                f"[{_value(row.low, r.metric)}, {_value(row.high, r.metric)}]",
                behind,
                "" if lead is None else fmt_p(lead.p_holm),
                "" if lead is None else ("yes" if lead.lead_is_real else "no"),
            ]
        )
    header = [
        "Rank",
        "Variant",
        capitalised(metric_words(stats)),
        f"{conf} CI",
        f"Best minus variant ({conf} CI)",
        "Holm p",
        "Lead is real",
    ]
    return markdown_table(header, rows, ["r", "l", "r", "r", "r", "r", "c"])


def _lead_words(lead: Lead, best: str, metric: str) -> str:
    how = "real" if lead.lead_is_real else "not detectable"
    return (
        f"over {lead.variant} {_signed(lead.difference, metric)} "
        f"({how}, Holm-adjusted {p_text(lead.p_holm)})"
    )


def ranking_sentence(stats: StudyStats) -> str:
    """One paragraph: the best variant, its value, and whether each lead is real."""
    r = stats.ranking
    top = r.order[0]
    text = (
        f"**{r.best}** has the highest {metric_words(stats)}: {_value(top.estimate, r.metric)} "
        f"({level_text(stats.settings.confidence)} CI {_value(top.low, r.metric)} to "
        f"{_value(top.high, r.metric)}, mean over seeds)."
    )
    if r.versus:
        text += " Its lead " + "; ".join(_lead_words(v, r.best, r.metric) for v in r.versus)
        text += (
            f". A lead is real when its paired-bootstrap p-value, adjusted with Holm's "
            f"method for the {len(r.versus)} comparison(s) with the best, is below "
            f"{r.alpha:g}."
        )
    return text
