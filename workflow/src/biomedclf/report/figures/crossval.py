"""The cross-validation figures:

* ``figures/folds.png``: the held-out metric of every fold and seed per variant (a point each,
  one marker per fold), the mean over folds with its corrected interval
  (:mod:`biomedclf.crossval.across_folds`);
* ``figures/fold_curves.png``: learning curves per fold (training and validation loss of the
  first seed), one panel per variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.report.figures.style import STYLE, colours_for, new_figure, save
from biomedclf.report.tables.crossval import METRIC_WORDS
from biomedclf.train.history import read_history

#: One marker per fold (cycled beyond ten folds).
MARKERS = "ov^D<>pPXh"


def plot_folds(cv: dict[str, Any], path: Path) -> Path:
    """Held-out metric per fold and seed for each variant, with the mean and its interval."""
    import matplotlib

    variants = list(cv["variants"])
    colours = colours_for(variants)
    words = METRIC_WORDS.get(cv["metric"], cv["metric"])
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(max(6.0, 1.1 * len(variants) + 2.5), 4.2)
        ax = axes[0, 0]
        for i, v in enumerate(variants):
            s = cv["variants"][v]
            values = np.asarray(s["folds"], dtype=np.float64)  # seeds x folds
            for f in range(values.shape[1]):
                xs = i + 0.12 + 0.035 * f + np.linspace(-0.015, 0.015, values.shape[0])
                ax.plot(
                    xs,
                    100 * values[:, f],
                    MARKERS[f % len(MARKERS)],
                    color=colours[v],
                    alpha=0.6,
                    ms=4,
                )
            lo, hi = s["cv_ci"]
            ax.errorbar(
                [i - 0.15],
                [100 * s["cv_mean"]],
                yerr=[[100 * (s["cv_mean"] - lo)], [100 * (hi - s["cv_mean"])]],
                fmt="s",
                color=colours[v],
                ms=7,
                capsize=5,
                lw=1.5,
            )
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
            label="mean over folds, corrected 95% CI",
        )
        ax.set_xlim(-0.6, len(variants) - 0.1)
        ax.set_xticks(range(len(variants)), variants, rotation=20, ha="right")
        ax.set_ylabel(f"Held-out {words} (%)")
        ax.set_title(
            f"{words.capitalize()} on each held-out fold ({cv['k']} folds; a point "
            "per fold and seed)"
        )
        ax.legend(loc="best", ncol=2)
        return save(fig, path)


def plot_fold_curves(histories: dict[str, list[Path | str]], path: Path) -> Path:
    """Per variant (a panel) the training (dashed) and validation (solid) loss of each fold;
    ``histories`` maps a variant to its folds' history.csv files (first seed)."""
    import matplotlib

    variants = list(histories)
    ncols = min(3, len(variants))
    nrows = -(-len(variants) // ncols)
    with matplotlib.rc_context(STYLE):
        fig, axes = new_figure(3.6 * ncols, 2.9 * nrows, nrows, ncols)
        cmap = matplotlib.colormaps["viridis"]
        for ax, v in zip(axes.flat, variants, strict=False):
            files = histories[v]
            for f, file in enumerate(files):
                h = read_history(file)
                colour = cmap(f / max(1, len(files) - 1))
                ax.plot(h["epoch"], h["val_loss"], "-", color=colour, label=f"fold {f}")
                ax.plot(h["epoch"], h["train_loss"], "--", color=colour, alpha=0.6)
            ax.set_title(v)
            ax.set_xlabel("Epoch")
            ax.set_ylabel("Loss")
        for ax in list(axes.flat)[len(variants) :]:
            ax.set_visible(False)
        axes.flat[0].legend(loc="best", title="validation (solid)\ntraining (dashed)")
        fig.suptitle("Learning curves per fold (first seed)")
        return save(fig, path)
