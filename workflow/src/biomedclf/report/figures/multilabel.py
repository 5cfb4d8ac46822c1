"""The figures of a multi-label study (``data.task: multilabel``).

* ``auroc_per_label``: each label's AUROC per variant (seed ensemble) with its bootstrap interval;
* ``roc_labels``: a grid with one panel per label, the ROC curve of each variant's ensemble on
  the label's kept test entries (:func:`roc_points`);
* ``label_prevalence``: each label's prevalence per split (kept entries);
* ``label_cooccurrence``: how often two findings occur in one image, as the share of images
  positive for the row's label that are positive for the column's too (the diagonal: 1);
* ``loss_curves``: validation loss per epoch of each variant, mean over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def roc_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates of every threshold (ties as one step), from (0, 0) to
    (1, 1): the points ``sklearn.metrics.roc_curve`` gives with ``drop_intermediate=False``."""
    y = np.asarray(labels).astype(bool)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")
    s, y = np.asarray(scores, dtype=float)[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each score
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


def plot_label_auroc(stats: Mapping[str, Any], path: Path) -> Path:
    """Per label (rows), each variant's ensemble AUROC with its interval."""
    labels, variants = stats["labels"], list(stats["variants"])
    colours = colours_for(variants)
    level = f"{stats['settings']['confidence'] * 100:g}%"
    height = max(3.5, 0.45 * len(labels) + 1.8)
    with figure_file(path, 9.0, height) as (fig, axes):
        ax = axes[0, 0]
        offsets = np.linspace(-0.25, 0.25, len(variants)) if len(variants) > 1 else [0.0]
        for off, v in zip(offsets, variants):
            rows = stats["variants"][v]["ensemble"]["per_label"]
            for j, r in enumerate(rows):
                if r["auroc"] is None:
                    continue
                low = r["auroc"] - (r["low"] if r["low"] is not None else r["auroc"])
                high = (r["high"] if r["high"] is not None else r["auroc"]) - r["auroc"]
                ax.errorbar(
                    r["auroc"],
                    j + off,
                    xerr=[[low], [high]],
                    fmt="o",
                    ms=4,
                    color=colours[v],
                    capsize=3,
                    label=v if j == 0 else None,
                )
        ax.axvline(0.5, color="0.6", lw=1, ls="--")
        ax.set_yticks(range(len(labels)), [shortened(n, STYLE["font.size"]) for n in labels])
        ax.invert_yaxis()
        ax.set_xlabel("Test AUROC (seed ensemble)")
        handles, names = ax.get_legend_handles_labels()
        names = [shortened(n, "small") for n in names]
        fig.legend(handles, names, loc="outside right upper", fontsize="small")
        fit_titles(fig, [(ax, f"AUROC per label ({level} bootstrap CI; dashed: chance)")])
    return path


def plot_roc_labels(names: Sequence[str], ensembles: Mapping[str, Any], path: Path) -> Path:
    """One panel per label: each variant's ROC curve; ``ensembles`` maps a variant to its
    (labels, mask, probabilities) of the seed ensemble on the test split."""
    rows, cols = grid_shape(len(names), 4)
    colours = colours_for(list(ensembles))
    with figure_file(path, 3.0 * cols + 0.6, 2.9 * rows + 0.6, (rows, cols)) as (fig, axes):
        titles = []
        for j, name in enumerate(names):
            ax = axes.flat[j]
            for v, (y, mask, p) in ensembles.items():
                kept = mask[:, j]
                if y[kept, j].min(initial=1) != y[kept, j].max(initial=0):
                    fpr, tpr = roc_points(y[kept, j], p[kept, j])
                    ax.plot(fpr, tpr, color=colours[v], lw=1.3, label=v if j == 0 else None)
            ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
            ax.set_aspect("equal")
            ax.set_xlabel("False positive rate")
            ax.set_ylabel("True positive rate")
            titles.append((ax, name))
        hide_unused(axes, len(names))
        fit_titles(fig, titles)
        fig.legend(loc="outside lower center", ncols=min(4, len(ensembles)), fontsize="small")
    return path


def plot_prevalence(prevalence: Mapping[str, Mapping[str, float | None]], path: Path) -> Path:
    """Grouped bars: each label's share of positive kept images per split."""
    splits = [s for s in prevalence if s != "all"]
    names = list(prevalence.get("all", {}))
    width = 0.8 / max(1, len(splits))
    with figure_file(path, max(6.0, 0.7 * len(names) + 2.5), 4.0) as (fig, axes):
        ax = axes[0, 0]
        x = np.arange(len(names))
        for i, s in enumerate(splits):
            values = [prevalence[s].get(n) or 0.0 for n in names]
            ax.bar(x + (i - (len(splits) - 1) / 2) * width, values, width, label=s)
        ax.set_xticks(x, [shortened(n, STYLE["font.size"]) for n in names], rotation=30, ha="right")
        ax.set_ylabel("Prevalence (positive / kept images)")
        ax.legend(loc="best")
        fit_titles(fig, [(ax, "Prevalence of each label per split")])
    return path


def cooccurrence(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(L, L): among images positive for label i, the share also positive for label j (both
    entries kept); NaN for a label without positives."""
    pos = (np.asarray(labels) == 1) & np.asarray(mask, bool)
    both = pos.T.astype(np.int64) @ pos.astype(np.int64)
    n = np.diag(both).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n[:, None] > 0, both / n[:, None], np.nan)


def plot_cooccurrence(
    names: Sequence[str], labels: np.ndarray, mask: np.ndarray, path: Path
) -> Path:
    """A heat map of :func:`cooccurrence` over every cached image."""
    share = cooccurrence(labels, mask)
    side = max(4.5, 0.45 * len(names) + 2.5)
    with figure_file(path, side + 1.0, side) as (fig, axes):
        ax = axes[0, 0]
        image = ax.imshow(share, vmin=0, vmax=1, cmap="viridis")
        ax.grid(False)
        short = [shortened(n, STYLE["font.size"]) for n in names]
        ax.set_xticks(range(len(names)), short, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), short)
        ax.set_xlabel("also positive for")
        ax.set_ylabel("images positive for")
        fig.colorbar(image, ax=ax, label="share of the row's positive images")
        fit_titles(fig, [(ax, "Label co-occurrence (all cached images)")])
    return path


def plot_loss_curves(histories: Mapping[str, list[dict[str, np.ndarray]]], path: Path) -> Path:
    """Validation (solid) and training (dashed) loss per epoch, mean over each variant's
    seeds (the epochs every seed ran); the legend beside the axes, a colour per variant."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    colours = colours_for(list(histories))
    with figure_file(path, 8.5, 4.2) as (fig, axes):
        ax = axes[0, 0]
        for v, runs in histories.items():
            n = min(len(h["epoch"]) for h in runs)
            epochs = runs[0]["epoch"][:n]
            for key, style in (("val_loss", "-"), ("train_loss", "--")):
                mean = np.mean([h[key][:n] for h in runs], axis=0)
                ax.plot(epochs, mean, style, color=colours[v])
        handles = [Line2D([], [], color=colours[v]) for v in histories]
        handles += [Line2D([], [], color="0.3", ls=ls) for ls in ("-", "--")]
        names = [shortened(v, "small") for v in histories] + ["validation", "training"]
        fig.legend(handles, names, loc="outside right upper", fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Masked binary cross-entropy")
        fit_titles(fig, [(ax, "Loss per epoch (mean over seeds)")])
    return path
