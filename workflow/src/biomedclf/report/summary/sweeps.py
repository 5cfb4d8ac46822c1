"""The "Hyperparameter sweeps" section of ``summary.md``: for each sweep the choice, how it was
made (on validation numbers alone), and the chosen point's result as the final estimate.

The choice and each point's validation numbers come from the sweep's selection file
(:mod:`biomedclf.sweeps.record`); the final estimate is the chosen point's entry in the
study's statistics, where it is the variant ``{sweep}.selected`` with its recipe-level
interval. The other points' test numbers are not shown here: they are in the sweep's table
and figure for the curve's shape, and the best of them would be an estimate biased upwards.
"""

from __future__ import annotations

from collections.abc import Sequence

from biomedclf.report.labels import metric_name
from biomedclf.report.rendering import (
    PERCENT_METRICS,
    fmt_value,
    level_text,
    markdown_table,
    plural,
)
from biomedclf.report.summary.links import Links
from biomedclf.report.tables.sweeps import value_label
from biomedclf.stats.records import StudyStats
from biomedclf.sweeps.record import PointRecord, Selection

#: Points listed in the summary's table of a sweep (the best on validation, and the chosen).
SHOWN = 10

#: ``prefer`` in words.
PREFERRED = {"smaller": "smallest", "larger": "largest"}


def _values(selection: Selection, point: PointRecord) -> str:
    """``weight_decay=0.001, dropout=0.25``."""
    return ", ".join(f"{k}={value_label(point.values[k])}" for k in selection.settings)


def _number(value: float | None, metric: str, difference: bool = False) -> str:
    """``53.8%`` (a fraction metric; ``19.2 pp`` for a ``difference``) or ``0.812``."""
    text = fmt_value(value, metric)
    if metric not in PERCENT_METRICS or text == "n/a":
        return text
    return f"{text} pp" if difference else f"{text}%"


def _rule_text(selection: Selection, metric: str) -> str:
    """How the point was chosen, with the numbers the rule compared."""
    chosen, best = selection.point(selection.selected), selection.point(selection.best)
    over = {"seeds": "over seeds", "folds": "over folds", "none": "none: one run"}
    m = selection.metric
    mean = _number(chosen.metric_mean, m)
    if selection.select == "best":
        return f"the best mean validation {metric}, {mean}"
    return (
        f"the one-standard-error rule: of the points whose mean validation {metric} is within "
        f"one standard error of the best ({_number(best.metric_mean, m)} at "
        f"{_values(selection, best)}; standard error {_number(best.metric_se, m, True)}, "
        f"{over[selection.se_over]}), the one with the {PREFERRED[selection.prefer]} values: "
        f"{mean}"
    )


def _estimate(selection: Selection, stats: StudyStats, metric: str) -> str:
    """The chosen point's result in the study's statistics, with its intervals."""
    entry = next((r for r in stats.ranking.order if r.variant == selection.variant), None)
    if entry is None:
        return f"- Final estimate: `{selection.variant}` is not in the study's statistics."
    m = selection.metric
    unit = "%" if m in PERCENT_METRICS else ""
    level = level_text(stats.settings.confidence)
    low, high = fmt_value(entry.low, m), fmt_value(entry.high, m)
    models = entry.trained_models
    return (
        f"- Final estimate ({stats.scope} images, the chosen point only, as `{selection.variant}` "
        f"over {plural(entry.n_seeds, 'training run')}): {stats.scope} {metric} "
        f"**{fmt_value(entry.estimate, m)}{unit}** [{low}, {high}] ({level} interval for the "
        f"recipe; for these trained models [{fmt_value(models.low, m)}, "
        f"{fmt_value(models.high, m)}])."
    )


def _points_table(selection: Selection, metric: str) -> list[str]:
    """Validation numbers of the best points and the chosen one (all of them when few)."""
    points = sorted(selection.points, key=lambda p: -p.metric_mean)
    shown = points[:SHOWN]
    chosen = selection.point(selection.selected)
    if chosen not in shown:
        shown.append(chosen)
    m = selection.metric
    rows = [
        [
            *(value_label(p.values[k]) for k in selection.settings),
            fmt_value(p.metric_mean, m)
            + (f" ± {fmt_value(p.metric_se, m)}" if p.metric_se else ""),
            fmt_value(p.gap_mean, "accuracy"),
            fmt_value(p.seconds_mean, "train_seconds"),
            "chosen" if p is chosen else ("best" if p.name == selection.best else ""),
        ]
        for p in shown
    ]
    unit = ", %" if m in PERCENT_METRICS else ""
    header = [
        *selection.settings,
        f"Validation {metric}{unit} (mean ± SE)",
        "Train − validation accuracy (pp)",
        "Training time (s)",
        "",
    ]
    note = f" ({len(shown)} of {len(points)} points, best on validation first)"
    align = ["r"] * (len(header) - 1) + ["l"]
    return [
        f"Validation numbers{note if len(shown) < len(points) else ''}:",
        "",
        markdown_table(header, rows, align).rstrip(),
        "",
    ]


def sweep_text(selection: Selection, stats: StudyStats, links: Links) -> list[str]:
    """One sweep's subsection."""
    metric = metric_name(selection.metric, None, selection.n_classes > 2)
    chosen = selection.point(selection.selected)
    values = "; ".join(
        f"{k}: {', '.join(dict.fromkeys(value_label(p.values[k]) for p in selection.points))}"
        for k in selection.settings
    )
    search = "grid" if selection.kind == "grid" else "random search"
    seeds = ", ".join(map(str, selection.seeds))
    folds = f", each on {selection.folds} folds" if selection.folds else ""
    figure = links.sweep(selection.sweep, "figure")
    return [
        f"### Sweep `{selection.sweep}`: {', '.join(selection.settings)} of `{selection.base}`",
        "",
        f"- Points: {len(selection.points)} ({search}; {values}), each trained with "
        f"{plural(len(selection.seeds), 'seed')} ({seeds}){folds}.",
        f"- Chosen on {selection.split} alone: **{_values(selection, chosen)}** "
        f"(`{selection.variant}`), by {_rule_text(selection, metric)}.",
        _estimate(selection, stats, metric),
        "",
        *_points_table(selection, metric),
        f"Table: [{selection.sweep}.csv]({links.sweep(selection.sweep, 'table')}) (every "
        f"point, with its test {metric} for the curve's shape) · figure: [sweep]({figure})",
        "",
        f"![Sweep {selection.sweep}]({figure})",
        "",
    ]


def sweeps_section(selections: Sequence[Selection], stats: StudyStats, links: Links) -> list[str]:
    """``## Hyperparameter sweeps``: every sweep's choice and final estimate (nothing
    without sweeps)."""
    if not selections:
        return []
    out = [
        "## Hyperparameter sweeps",
        "",
        "Each sweep trained its points (settings of a base variant) and chose one on "
        "validation numbers alone; the test split took no part in the choice. The chosen "
        "point's result is the final estimate; the other points' test numbers (in each "
        "sweep's table and figure) show the shape of the curve only, and the best of them "
        "would overstate what the setting achieves.",
        "",
    ]
    for selection in selections:
        out += sweep_text(selection, stats, links)
    return out
