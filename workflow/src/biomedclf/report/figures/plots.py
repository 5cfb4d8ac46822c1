"""The study's figures (PNG), and the entry points of the figure rules.

* ``test_accuracy``: test accuracy of every variant, mean over seeds with the bootstrap
  interval as error bars and each seed as a dot;
* ``accuracy_vs_time``: test accuracy against training seconds (error bars: the accuracy
  interval and the sd of the time over seeds);
* ``reliability``: a reliability diagram per variant (seeds pooled), ECE in the legend (the
  top-label confidence for more than two classes).

:func:`plot_study` draws them (the ``study_figures`` rule); :func:`plot_comparison` draws a
comparison's learning curves and ROC curves (:mod:`biomedclf.report.figures.curves`) and
confusion matrices (:mod:`biomedclf.report.figures.classes`) (the ``comparison_figures``
rule), each into the file the rule names. Figures are drawn and saved by
:func:`biomedclf.report.figures.style.figure_file` (the same inputs give the same bytes with
the same matplotlib); numbers come from the study's statistics
(:class:`biomedclf.stats.records.StudyStats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.layout import RunFiles
from biomedclf.report.figures.classes import plot_confusion
from biomedclf.report.figures.curves import plot_curves, plot_roc
from biomedclf.report.figures.style import (
    LINE_HEIGHT,
    STYLE,
    colours_for,
    figure_file,
    fit_suptitle,
    fit_titles,
    grid_added_lines,
    grid_shape,
    hide_unused,
    shortened,
    suptitle_lines,
    together,
)
from biomedclf.report.rendering import is_finite, level_text, plural
from biomedclf.stats.records import StudyStats, read_stats

#: Markers of the points of ``accuracy_vs_time``, in variant order: with the colours they
#: tell apart variants whose colours are close.
POINT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p")


def _accuracy_summary(
    stats: StudyStats, v: str
) -> tuple[float | None, float | None, float | None, list[float]]:
    """Mean test accuracy over seeds, its interval (the mean when undefined), seed values."""
    vs = stats.variant(v)
    acc = vs.test_accuracy
    ci = vs.bootstrap.seed_mean.accuracy
    mean = acc.mean if acc else None
    lo = ci.low if is_finite(ci.low) else mean
    hi = ci.high if is_finite(ci.high) else mean
    return mean, lo, hi, [x for x in (acc.values if acc else []) if is_finite(x)]


def _accuracy_points(ax: Any, i: int, stats: StudyStats, v: str, colour: Any) -> None:
    """Variant ``v``'s mean accuracy with its interval at x position ``i``, and its seeds
    beside it."""
    mean, lo, hi, seeds = _accuracy_summary(stats, v)
    if not is_finite(mean):
        return
    ax.errorbar(
        [i],
        [100 * mean],
        yerr=[[100 * (mean - lo)], [100 * (hi - mean)]],
        fmt="s",
        color=colour,
        ms=7,
        capsize=5,
        lw=1.5,
    )
    if seeds:
        offsets = np.linspace(-0.09, 0.09, len(seeds)) if len(seeds) > 1 else [0.0]
        ax.plot(
            i + 0.28 + np.asarray(offsets),
            100 * np.asarray(seeds),
            "o",
            color=colour,
            alpha=0.55,
            ms=4,
        )


def plot_test_accuracy(runs: Sequence[RunFiles], stats: StudyStats, path: Path) -> Path:
    """Test accuracy of every variant: mean with bootstrap-CI error bars, seeds as dots."""
    variants = stats.variant_order(runs)
    colours = colours_for(variants, stats)
    conf = level_text(stats.settings.confidence)
    with figure_file(path, max(6.0, 1.0 * len(variants) + 2.5), 4.2) as (fig, axes):
        ax = axes[0, 0]
        for i, v in enumerate(variants):
            _accuracy_points(ax, i, stats, v, colours[v])
        ax.errorbar(
            [],
            [],
            yerr=[],
            fmt="s",
            color="0.35",
            ms=7,
            capsize=5,
            label=f"mean over seeds, {conf} CI",
        )
        ax.plot([], [], "o", color="0.35", alpha=0.55, ms=4, label="single seed")
        ax.set_xlim(-0.6, len(variants) - 0.2)
        names = [shortened(v, STYLE["font.size"]) for v in variants]
        ax.set_xticks(range(len(variants)), names, rotation=20, ha="right")
        ax.set_ylabel(f"{stats.scope.capitalize()} accuracy (%)")
        ax.set_xlabel("Variant")
        title = (
            f"{stats.scope.capitalize()} accuracy per variant\n"
            f"(mean over seeds, {conf} bootstrap CI over {stats.scope} images)"
        )
        fit_titles(fig, [(ax, title)])
        ax.legend(loc="best")
    return path


def plot_accuracy_vs_time(runs: Sequence[RunFiles], stats: StudyStats, path: Path) -> Path:
    """Test accuracy against training seconds per variant, with error bars on both axes.

    The legend names each point (colour and marker): labels beside the points would cover
    each other where variants train in similar times to similar accuracies."""
    variants = stats.variant_order(runs)
    colours = colours_for(variants, stats)
    conf = level_text(stats.settings.confidence)
    with figure_file(path, 5.6, 4.4) as (fig, axes):
        ax = axes[0, 0]
        for i, v in enumerate(variants):
            mean, lo, hi, _ = _accuracy_summary(stats, v)
            t = stats.variant(v).train_seconds
            if not (is_finite(mean) and is_finite(t.mean)):
                continue
            sd = t.sd if is_finite(t.sd) else 0.0
            ax.errorbar(
                [t.mean],
                [100 * mean],
                xerr=[[sd], [sd]],
                yerr=[[100 * (mean - lo)], [100 * (hi - mean)]],
                fmt=POINT_MARKERS[i % len(POINT_MARKERS)],
                color=colours[v],
                capsize=4,
                ms=6,
                label=shortened(v, STYLE["legend.fontsize"]),
            )
        ax.set_xlabel("Training time (s, mean ± sd over seeds)")
        ax.set_ylabel(f"{stats.scope.capitalize()} accuracy (%, mean, {conf} CI)")
        title = f"{stats.scope.capitalize()} accuracy against training time"
        fit_titles(fig, [(ax, title)])
        ax.legend(loc="best")
    return path


def _reliability_curve(ax: Any, stats: StudyStats, v: str, colour: Any) -> None:
    """The diagonal and variant ``v``'s observed frequency per bin, ECE in the legend."""
    cal = stats.variant(v).calibration
    bins = [b for b in cal.bins if b.count]
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="perfect calibration")
    if bins:
        x = [b.mean_probability for b in bins]
        y = [b.observed_frequency for b in bins]
        n = np.array([b.count for b in bins], dtype=float)
        label = f"ECE {cal.ece:.3f}" if is_finite(cal.ece) else "ECE n/a"
        ax.plot(x, y, "-", color=colour, lw=1.4, label=label)
        ax.scatter(x, y, s=12 + 60 * n / n.max(), color=colour, zorder=3)


def plot_reliability(runs: Sequence[RunFiles], stats: StudyStats, path: Path) -> Path:
    """A reliability diagram per variant (seeds pooled), ECE in the legend: the probability of
    class 1 for two classes, the top-label confidence against accuracy for more."""
    variants = stats.variant_order(runs)
    colours = colours_for(variants, stats)
    top_label = stats.multiclass
    nrows, ncols = grid_shape(len(variants), 3)
    titles = [_reliability_title(stats, v) for v in variants]
    what = "top-label confidence of the predicted class; " if top_label else ""
    suptitle = f"Reliability diagrams ({what}marker area ∝ images in the bin)"
    # square panels: a row grows by the lines its tallest title gains when broken
    lines = suptitle_lines(suptitle, 3.3 * ncols)
    lines += grid_added_lines(titles, ncols, 2.85, STYLE["axes.titlesize"])
    size = (3.3 * ncols, 3.3 * nrows + 0.4 + LINE_HEIGHT * lines)
    with figure_file(path, *size, (nrows, ncols), sharex=True, sharey=True) as (fig, axes):
        for k, v in enumerate(variants):
            ax = axes[k // ncols, k % ncols]
            _reliability_curve(ax, stats, v, colours[v])
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.legend(loc="best" if top_label else "upper left")
            if k % ncols == 0:
                ax.set_ylabel("Observed accuracy" if top_label else "Observed fraction positive")
            if k + ncols >= len(variants):  # the lowest panel of its column
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel(
                    "Mean top-label confidence" if top_label else "Mean predicted probability"
                )
        hide_unused(axes, len(variants))
        fit_suptitle(fig, suptitle)
        fit_titles(fig, list(zip(axes.flat, titles)))
    return path


def _reliability_title(stats: StudyStats, v: str) -> str:
    """The title of variant ``v``'s reliability diagram: its name and pooled seeds."""
    seeds = plural(len(stats.variant(v).seeds), "seed")
    return f"{shortened(v, STYLE['axes.titlesize'])} {together(f'({seeds} pooled)')}"


def _figure_paths(outputs: Mapping[str, Path | str], names: Sequence[str]) -> list[Path]:
    """The files of ``names`` in ``outputs``; ValueError when the rule names others."""
    if sorted(outputs) != sorted(names):
        raise ValueError(
            f"figure outputs: the rule names {sorted(outputs)}, this step draws {list(names)}; "
            "name one PNG file for each figure"
        )
    return [Path(outputs[n]) for n in names]


def plot_study(
    runs: Sequence[RunFiles], stats: Path | str, outputs: Mapping[str, Path | str]
) -> list[Path]:
    """Draw the study-wide figures of ``runs`` from stats.json at ``stats``; ``outputs`` maps
    ``test_accuracy``, ``accuracy_vs_time`` and ``reliability`` to their PNG files."""
    study = read_stats(stats)
    accuracy, time, reliability = _figure_paths(
        outputs, ("test_accuracy", "accuracy_vs_time", "reliability")
    )
    return [
        plot_test_accuracy(runs, study, accuracy),
        plot_accuracy_vs_time(runs, study, time),
        plot_reliability(runs, study, reliability),
    ]


def plot_comparison(
    name: str,
    comparison: dict,
    runs: Sequence[RunFiles],
    stats: Path | str,
    outputs: Mapping[str, Path | str],
) -> list[Path]:
    """Draw the figures of comparison ``name`` (``comparison``: its config entry) from
    stats.json at ``stats``; ``outputs`` maps ``curves``, ``roc`` and ``confusion`` to their
    PNG files. A variant has the same colour in every figure of the study."""
    study = read_stats(stats)
    curves, roc, confusion = _figure_paths(outputs, ("curves", "roc", "confusion"))
    colours = colours_for(study.variant_order(runs), study)
    return [
        plot_curves(name, comparison, runs, curves, colours),
        plot_roc(name, comparison, runs, study, roc, colours),
        plot_confusion(name, comparison, runs, study, confusion),
    ]
