"""A comparison's learning curves and two-class ROC curves.

* learning curves: accuracy (top) and loss (bottom) per epoch, one column per variant of the
  comparison (baseline first), train dashed and validation solid, the mean over seeds with a
  min–max band; the loss axis is named after the loss the runs trained with (their
  ``train.json``);
* ROC: the curves of the seed-ensembled probabilities, AUROC with its bootstrap interval in
  the legend, below the axes when its labels are too wide to sit inside (for more than two
  classes: :func:`biomedclf.report.figures.classes.plot_class_roc`).

Drawn by :func:`biomedclf.report.figures.plots.plot_comparison`; numbers come from the study's
statistics, curves and ROC points from the run files (:mod:`biomedclf.evaluate.run_results`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.run_results import (
    comparison_members,
    ensembled,
    load_history,
    load_train_info,
    runs_of,
)
from biomedclf.layout import RunFiles
from biomedclf.report.figures.classes import plot_class_roc
from biomedclf.report.figures.style import (
    LINE_HEIGHT,
    STYLE,
    added_lines,
    colours_for,
    figure_file,
    fit_suptitle,
    fit_titles,
    shortened,
    text_width,
    title_name,
    together,
)
from biomedclf.report.labels import loss_label
from biomedclf.report.rendering import is_finite, level_text, plural
from biomedclf.stats.records import StudyStats
from biomedclf.train.threshold import roc_curve

log = logging.getLogger(__name__)

#: Font size of the legends.
LEGEND = STYLE["legend.fontsize"]

#: The widest legend label (inches) of a two-class ROC figure drawn inside its axes (about
#: 3.7 inches wide; the legend's frame and line add half an inch); a wider one puts the
#: legend below the axes.
ROC_LEGEND_INSIDE = 2.9


def _curve_band(
    histories: list[dict[str, np.ndarray]], column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean, min and max over seeds of one history column (seeds may stop early)."""
    last = max(int(h["epoch"].max()) for h in histories)
    epochs = np.arange(1, last + 1)
    table = np.full((len(histories), last), np.nan)
    for i, h in enumerate(histories):
        table[i, h["epoch"] - 1] = h[column]
    keep = ~np.all(np.isnan(table), axis=0)
    with np.errstate(all="ignore"):
        return (
            epochs[keep],
            np.nanmean(table[:, keep], axis=0),
            np.nanmin(table[:, keep], axis=0),
            np.nanmax(table[:, keep], axis=0),
        )


def trained_losses(runs: Sequence[RunFiles]) -> list[str]:
    """The ``loss`` each run trained with (its train.json)."""
    losses = []
    for run in runs:
        info = load_train_info(run.train_json)
        if "loss" not in info:
            raise ValueError(
                f"{run.train_json}: no 'loss' (the loss the run trained with); rerun its "
                "training job"
            )
        losses.append(info["loss"])
    return losses


def _draw_metric(ax: Any, histories: list[dict], metric: str, colour: Any) -> None:
    """Train (dashed) and validation (solid) mean of ``metric`` with the min–max band."""
    scale = 100.0 if metric == "accuracy" else 1.0
    for split, style in (("train", "--"), ("val", "-")):
        ep, mean, lo, hi = _curve_band(histories, f"{split}_{metric}")
        name = "train" if split == "train" else "validation"
        ax.plot(ep, mean * scale, style, color=colour, lw=1.6, label=f"{name} (mean)")
        if len(histories) > 1:
            alpha = 0.12 if split == "train" else 0.22
            ax.fill_between(ep, lo * scale, hi * scale, color=colour, alpha=alpha, lw=0)


def plot_curves(
    comp_name: str,
    comparison: dict,
    runs: Sequence[RunFiles],
    path: Path,
    colours: dict[str, Any] | None = None,
) -> Path:
    """Accuracy and loss per epoch, one column per variant, mean line with a min–max band."""
    members = comparison_members(comp_name, comparison, runs)
    colours = colours or colours_for(members)
    shown = [r for v in members for r in runs_of(runs, v)]
    labels = (("accuracy", "Accuracy (%)"), ("loss", loss_label(trained_losses(shown))))
    histories = {v: [load_history(r.history) for r in runs_of(runs, v)] for v in members}
    width = 3.6 * len(members) + 0.4
    titles = []
    with figure_file(path, width, 5.6, (2, len(members)), sharey="row") as (fig, axes):
        for j, v in enumerate(members):
            role = "baseline" if j == 0 else "variant"
            for i, (metric, label) in enumerate(labels):
                ax = axes[i, j]
                _draw_metric(ax, histories[v], metric, colours[v])
                ax.set_xlabel("Epoch")
                if j == 0:
                    ax.set_ylabel(label)
                ax.legend(loc="best")
                ax.xaxis.get_major_locator().set_params(integer=True)
            seeds = plural(len(histories[v]), "seed")
            name = shortened(v, STYLE["axes.titlesize"])
            titles.append((axes[0, j], f"{name} {together(f'({role}), {seeds}')}"))
        band = "band: min–max over seeds; " if any(len(h) > 1 for h in histories.values()) else ""
        fit_suptitle(
            fig,
            f"Comparison {title_name(comp_name, width)}: training curves ({band}train dashed, "
            "validation solid)",
        )
        fit_titles(fig, titles)
    return path


def _auroc_label(stats: StudyStats, variant: str) -> str:
    """``: AUROC 0.812 [0.750, 0.870]`` from the ensemble's interval; empty when undefined."""
    vs = stats.variants.get(variant)
    auc = vs.bootstrap.ensemble.auroc if vs else None
    if auc is None or not is_finite(auc.estimate):
        return ""
    label = f": AUROC {auc.estimate:.3f}"
    if is_finite(auc.low) and is_finite(auc.high):
        label += f" [{auc.low:.3f}, {auc.high:.3f}]"
    return label


def plot_roc(
    comp_name: str,
    comparison: dict,
    runs: Sequence[RunFiles],
    stats: StudyStats,
    path: Path,
    colours: dict[str, Any] | None = None,
) -> Path:
    """ROC curves of the seed-ensembled probabilities of each variant in the comparison; for
    more than two classes one panel per class
    (:func:`biomedclf.report.figures.classes.plot_class_roc`)."""
    if stats.multiclass:
        return plot_class_roc(comp_name, comparison, runs, stats, path, colours)
    members = comparison_members(comp_name, comparison, runs)
    colours = colours or colours_for(members)
    curves = {v: ensembled(runs, v) for v in members}
    labels = {
        v: f"{shortened(v, LEGEND)} ({plural(n_seeds, 'seed')})" + _auroc_label(stats, v)
        for v, (_, _, n_seeds) in curves.items()
    }
    widest = max(text_width(label, LEGEND) for label in labels.values())
    below = widest > ROC_LEGEND_INSIDE  # the legend would cover the axis labels
    width = max(5.0, widest + 1.0) if below else 5.0
    title = (
        f"Comparison {title_name(comp_name, width)}: ROC, seed-ensembled probabilities\n"
        f"(legend: AUROC [{level_text(stats.settings.confidence)} bootstrap CI])"
    )
    # a square panel: the figure grows by the lines the title gains when broken
    lines = added_lines(title, width - 0.6, STYLE["axes.titlesize"])
    height = 4.6 + (0.19 * (len(members) + 1) + 0.1 if below else 0.0) + LINE_HEIGHT * lines
    with figure_file(path, width, height) as (fig, axes):
        ax = axes[0, 0]
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="chance")
        for v, (truth, probs, _) in curves.items():
            if len(np.unique(truth)) < 2:
                log.warning("%s: one class in the test set; no ROC curve", v)
                continue
            fpr, tpr, _ = roc_curve(truth, probs[:, 1])
            ax.plot(fpr, tpr, color=colours[v], lw=1.6, label=labels[v])
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("False positive rate (1 − specificity)")
        ax.set_ylabel("True positive rate (sensitivity)")
        fit_titles(fig, [(ax, title)])
        if below:
            fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center")
        else:
            ax.legend(loc="lower right")
    return path
