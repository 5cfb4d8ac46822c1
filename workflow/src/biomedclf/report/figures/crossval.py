"""The cross-validation figures, drawn by :func:`biomedclf.report.crossval.write_crossval_report`:

* ``folds.png``: the held-out metric of every fold and seed per variant (a point each,
  one marker per fold), the mean over folds with its corrected interval
  (:mod:`biomedclf.crossval.across_folds`);
* ``fold_curves.png``: learning curves per fold (training and validation loss of the
  first seed), one panel per variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.report.figures.style import (
    STYLE,
    colours_for,
    figure_file,
    fit_titles,
    grid_shape,
    hide_unused,
    shortened,
)
from biomedclf.report.labels import capitalised
from biomedclf.report.rendering import level_text
from biomedclf.report.tables.crossval import fold_metric
from biomedclf.train.history import read_history

#: One marker per fold (cycled beyond ten folds).
MARKERS = "ov^D<>pPXh"


def _variant_points(ax: Any, i: int, summary: dict[str, Any], colour: Any) -> None:
    """One variant's held-out values (a point per fold and seed, one marker per fold) and
    its mean over folds with the corrected interval, at x position ``i``."""
    values = np.asarray(summary["folds"], dtype=np.float64)  # seeds x folds
    for f in range(values.shape[1]):
        xs = i + 0.12 + 0.035 * f + np.linspace(-0.015, 0.015, values.shape[0])
        ax.plot(xs, 100 * values[:, f], MARKERS[f % len(MARKERS)], color=colour, alpha=0.6, ms=4)
    mean, (lo, hi) = summary["cv_mean"], summary["cv_ci"]
    ax.errorbar(
        [i - 0.15],
        [100 * mean],
        yerr=[[100 * (mean - lo)], [100 * (hi - mean)]],
        fmt="s",
        color=colour,
        ms=7,
        capsize=5,
        lw=1.5,
    )


def plot_folds(cv: dict[str, Any], confidence: float, path: Path) -> Path:
    """Held-out metric per fold and seed for each variant, with the mean and its corrected
    ``confidence`` interval."""
    variants = list(cv["variants"])
    colours = colours_for(variants)
    words = fold_metric(cv)
    with figure_file(path, max(6.0, 1.1 * len(variants) + 2.5), 4.2) as (fig, axes):
        ax = axes[0, 0]
        for i, v in enumerate(variants):
            _variant_points(ax, i, cv["variants"][v], colours[v])
        for f in range(cv["k"]):
            ax.plot([], [], MARKERS[f % len(MARKERS)], color="0.4", ms=4, label=f"fold {f}")
        ax.errorbar(
            [],
            [],
            yerr=[],
            fmt="s",
            color="0.35",
            ms=7,
            capsize=5,
            label=f"mean over folds, corrected {level_text(confidence)} CI",
        )
        ax.set_xlim(-0.6, len(variants) - 0.1)
        names = [shortened(v, STYLE["font.size"]) for v in variants]
        ax.set_xticks(range(len(variants)), names, rotation=20, ha="right")
        ax.set_ylabel(f"Held-out {words} (%)")
        title = (
            f"{capitalised(words)} on each held-out fold ({cv['k']} folds; a point "
            "per fold and seed)"
        )
        fit_titles(fig, [(ax, title)])
        ax.legend(loc="best", ncol=2)
    return path


def plot_fold_curves(histories: dict[tuple[str, int], Path | str], path: Path) -> Path:
    """Per variant (a panel) the training (dashed) and validation (solid) loss of each fold;
    ``histories`` maps (variant, fold) to that fold's history.csv (first seed)."""
    from matplotlib import colormaps

    folds: dict[str, list[tuple[int, Path | str]]] = {}
    for (v, f), file in histories.items():
        folds.setdefault(v, []).append((int(f), file))
    nrows, ncols = grid_shape(len(folds), 3)
    cmap = colormaps["viridis"]
    with figure_file(path, 3.6 * ncols, 2.9 * nrows, (nrows, ncols)) as (fig, axes):
        for ax, files in zip(axes.flat, folds.values(), strict=False):
            files.sort()
            for i, (f, file) in enumerate(files):
                h = read_history(file)
                colour = cmap(i / max(1, len(files) - 1))
                ax.plot(h["epoch"], h["val_loss"], "-", color=colour, label=f"fold {f}")
                ax.plot(h["epoch"], h["train_loss"], "--", color=colour, alpha=0.6)
            ax.set_xlabel("Epoch")
            ax.set_ylabel("Loss")
        hide_unused(axes, len(folds))
        axes.flat[0].legend(loc="best", title="validation (solid)\ntraining (dashed)")
        fig.suptitle("Learning curves per fold (first seed)")
        names = [shortened(v, STYLE["axes.titlesize"]) for v in folds]
        fit_titles(fig, list(zip(axes.flat, names)))
    return path
