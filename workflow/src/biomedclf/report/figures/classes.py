"""Figures per class: confusion matrices and one-vs-rest ROC curves of a comparison.

* a comparison's ``confusion`` figure: the confusion matrix of each variant's seed ensemble
  (probabilities averaged over seeds), rows normalised to the true class, side by side, with
  the percentage in each cell;
* its ``roc`` figure for more than two classes: one panel per class, the one-vs-rest
  ROC curve of each variant's seed ensemble with its AUROC; the macro AUROC with its bootstrap
  interval in the legend below.

Sizes follow the number of classes (tested up to 12): cell labels shrink, tick labels turn
45° (also for fewer classes when a name is wider than its cell), panels wrap; names of any
length fit (:mod:`biomedclf.report.figures.style`: shortened, titles broken into lines). Numbers
come from the study's statistics, ROC points from the run files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.run_results import comparison_members as comparison_variants
from biomedclf.evaluate.run_results import ensembled
from biomedclf.layout import RunFiles
from biomedclf.report.figures.style import (
    LINE_HEIGHT,
    STYLE,
    added_lines,
    colours_for,
    figure_file,
    fit_suptitle,
    fit_titles,
    grid_added_lines,
    grid_shape,
    hide_unused,
    shortened,
    suptitle_lines,
    text_width,
    title_name,
    together,
)
from biomedclf.report.rendering import is_finite, level_text, plural
from biomedclf.stats.records import StudyStats, VariantStats
from biomedclf.train.threshold import roc_curve


def _cell_font(n_classes: int) -> float:
    """Font size of the percentages in the cells."""
    return 8.0 if n_classes <= 5 else 7.0 if n_classes <= 8 else 5.5


def _tick_font(n_classes: int) -> float:
    """Font size of the class names on the axes."""
    return 8.0 if n_classes <= 8 else 7.0


def row_normalised(cm: Sequence[Sequence[int]]) -> np.ndarray:
    """Each row of a confusion matrix divided by its total (NaN for a class without images)."""
    m = np.asarray(cm, dtype=float)
    totals = m.sum(axis=1, keepdims=True)
    return np.divide(m, totals, out=np.full_like(m, np.nan), where=totals > 0)


def _confusion_panel(
    ax: Any, vs: VariantStats, names: list[str], first: bool, slanted: bool
) -> Any:
    """Draw one variant's row-normalised ensemble confusion matrix (class names on the x axis
    ``slanted`` 45°); returns the image."""
    k = len(names)
    m = row_normalised(vs.ensemble_multiclass.confusion_matrix)
    image = ax.imshow(m, cmap="Blues", vmin=0.0, vmax=1.0)
    font = _cell_font(k)
    for i in range(k):
        for j in range(k):
            if np.isfinite(m[i, j]):
                ax.text(
                    j,
                    i,
                    f"{100 * m[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=font,
                    color="white" if m[i, j] > 0.5 else "0.15",
                )
    ax.set_xticks(
        range(k),
        names,
        rotation=45 if slanted else 0,
        ha="right" if slanted else "center",
        rotation_mode="anchor",
        fontsize=_tick_font(k),
    )
    ax.set_yticks(range(k), names if first else [""] * k, fontsize=_tick_font(k))
    ax.grid(False)
    ax.set_xlabel("Predicted class")
    if first:
        ax.set_ylabel("True class")
    return image


def plot_confusion(
    comp_name: str, comparison: dict, runs: Sequence[RunFiles], stats: StudyStats, path: Path
) -> Path:
    """Row-normalised confusion matrices of each variant's seed ensemble, side by side."""
    members = comparison_variants(comp_name, comparison, runs)
    k = len(stats.class_names)
    names = [shortened(n, _tick_font(k)) for n in stats.class_names]
    side = max(2.6, 0.36 * k + 1.2)
    # more than three classes, or a name wider than its cell: names slanted
    widest = max(text_width(n, _tick_font(k)) for n in names)
    slanted = k > 3 or widest > 0.9 * (side - 0.5) / k
    label_room = 0.06 * max(len(n) for n in names) * slanted
    # slanted names reach left of their panel: past about an inch, room between the panels
    overhang = max(0.0, 0.71 * widest - 1.0) * slanted * (len(members) - 1)
    titles = [_confusion_title(stats.variant(v), v, j) for j, v in enumerate(members)]
    width = side * len(members) + 1.2 + label_room + overhang
    suptitle = (
        f"Comparison {title_name(comp_name, width)}: confusion matrices of the seed "
        "ensemble\n(rows: true class, normalised to 100%; cells: % of the row)"
    )
    # square panels: the figure grows by the lines the titles gain when broken
    lines = suptitle_lines(suptitle, width) + max(
        added_lines(t, side - 0.3, STYLE["axes.titlesize"]) for t in titles
    )
    height = side + 1.0 + label_room + LINE_HEIGHT * lines
    with figure_file(path, width, height, (1, len(members))) as (fig, axes):
        for j, v in enumerate(members):
            image = _confusion_panel(axes[0, j], stats.variant(v), names, j == 0, slanted)
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="Fraction of the true class")
        fit_suptitle(fig, suptitle)
        fit_titles(fig, list(zip(axes[0], titles)))
    return path


def _confusion_title(vs: VariantStats, v: str, j: int) -> str:
    """The title of variant ``v``'s matrix (``j``: its place in the comparison, baseline
    first): its name and role, its seeds and the ensemble's accuracy."""
    acc = vs.ensemble_multiclass.accuracy
    role = "baseline" if j == 0 else "variant"
    acc_text = f"accuracy {100 * acc:.1f}%" if is_finite(acc) else "accuracy n/a"
    name = shortened(v, STYLE["axes.titlesize"])
    seeds = together(plural(len(vs.seeds), "seed"))
    return f"{name} {together(f'({role})')}\n{seeds}, {together(acc_text)}"


def _macro_label(stats: StudyStats, v: str, n_seeds: int) -> str:
    """``v (3 seeds): macro AUROC 0.912 [0.900, 0.925]`` from the ensemble's interval."""
    auc = stats.variant(v).bootstrap.ensemble.auroc
    label = f"{shortened(v, STYLE['legend.fontsize'])} ({plural(n_seeds, 'seed')})"
    if is_finite(auc.estimate):
        label += f": macro AUROC {auc.estimate:.3f}"
        if is_finite(auc.low) and is_finite(auc.high):
            label += f" [{auc.low:.3f}, {auc.high:.3f}]"
    return label


def _roc_panel(
    ax: Any, c: int, curves: dict[str, tuple], stats: StudyStats, colours: dict[str, Any]
) -> None:
    """One class's one-vs-rest ROC curves of every variant, AUROC in the legend."""
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=0.8)
    for v, (labels, probs, _) in curves.items():
        positive = (labels == c).astype(int)
        if positive.min() == positive.max():
            continue
        fpr, tpr, _ = roc_curve(positive, probs[:, c])
        auc = stats.variant(v).ensemble_multiclass.per_class[c].auroc
        ax.plot(fpr, tpr, color=colours[v], lw=1.3, label=f"{auc:.3f}" if is_finite(auc) else "n/a")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=7, title="AUROC", title_fontsize=7)


def plot_class_roc(
    comp_name: str,
    comparison: dict,
    runs: Sequence[RunFiles],
    stats: StudyStats,
    path: Path,
    colours: dict[str, Any] | None = None,
) -> Path:
    """One-vs-rest ROC curves per class (one panel each) of each variant's seed ensemble."""
    from matplotlib.lines import Line2D

    members = comparison_variants(comp_name, comparison, runs)
    colours = colours or colours_for(members, stats)
    curves = {v: ensembled(runs, v) for v in members}
    names = [shortened(n, 9) for n in stats.class_names]
    nrows, ncols = grid_shape(len(names), 4)
    width = 2.5 * ncols + 0.3
    level = level_text(stats.settings.confidence)
    suptitle = (
        f"Comparison {title_name(comp_name, width)}: one-vs-rest ROC per class, "
        f"seed-ensembled probabilities\n(legend below: macro AUROC [{level} bootstrap CI])"
    )
    # square panels: a row grows by the lines its tallest title gains when broken
    lines = suptitle_lines(suptitle, width) + grid_added_lines(names, ncols, 2.05, 9)
    size = (width, 2.5 * nrows + 1.2 + 0.25 * len(members) + LINE_HEIGHT * lines)
    with figure_file(path, *size, (nrows, ncols), sharex=True, sharey=True) as (fig, axes):
        for c in range(len(names)):
            ax = axes[c // ncols, c % ncols]
            _roc_panel(ax, c, curves, stats, colours)
            if c % ncols == 0:
                ax.set_ylabel("True positive rate", fontsize=8)
            if c + ncols >= len(names):  # the lowest panel of its column
                ax.set_xlabel("False positive rate", fontsize=8)
                ax.xaxis.set_tick_params(labelbottom=True)
        hide_unused(axes, len(names))
        handles = [Line2D([], [], color=colours[v], lw=1.6) for v in members]
        fig.legend(
            handles,
            [_macro_label(stats, v, curves[v][2]) for v in members],
            loc="outside lower center",
            ncols=1,
            fontsize=8,
        )
        fit_suptitle(fig, suptitle)
        fit_titles(fig, list(zip(axes.flat, names)), fontsize=9)
    return path
