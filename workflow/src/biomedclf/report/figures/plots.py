"""The study's figures (PNG), drawn with matplotlib's Agg canvas, deterministic bytes.

* ``figures/curves_{comp}.png``: accuracy (top) and loss (bottom) per epoch, one column per
  variant of the comparison (baseline first), train dashed and validation solid, the mean
  over seeds with a min–max band;
* ``figures/roc_{comp}.png``: ROC curves of the seed-ensembled probabilities, AUROC with its
  bootstrap interval in the legend; for more than two classes one-vs-rest curves, one panel
  per class (:mod:`biomedclf.report.figures.classes`);
* ``figures/confusion_{comp}.png``: row-normalised confusion matrices of the seed ensemble,
  one per variant of the comparison (:mod:`biomedclf.report.figures.classes`);
* ``figures/test_accuracy.png``: test accuracy of every variant, mean over seeds with the
  bootstrap interval as error bars and each seed as a dot;
* ``figures/accuracy_vs_time.png``: test accuracy against training seconds (error bars: the
  accuracy interval and the sd of the time over seeds);
* ``figures/reliability.png``: a reliability diagram per variant (seeds pooled), ECE in the
  legend (the top-label confidence for more than two classes).

Figures are drawn and saved by :mod:`biomedclf.report.figures.style` (Agg canvas, no ``Software``
PNG chunk: the same inputs give the same bytes with the same matplotlib). Numbers come from
the study's statistics (:class:`biomedclf.stats.records.StudyStats`); curves and ROC points from
the run files (:mod:`biomedclf.evaluate.run_results`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.run_results import comparison_members as _comparison_variants
from biomedclf.evaluate.run_results import ensembled, load_history
from biomedclf.evaluate.run_results import runs_of as _runs_of
from biomedclf.layout import RunFiles
from biomedclf.report.figures.classes import plot_class_roc, plot_confusion
from biomedclf.report.figures.style import STYLE as _STYLE
from biomedclf.report.figures.style import colours_for as _colours
from biomedclf.report.figures.style import new_figure as _new_figure
from biomedclf.report.figures.style import save as _save
from biomedclf.report.figures.style import seeds_text
from biomedclf.report.rendering import is_finite, output_dir
from biomedclf.stats.records import StudyStats
from biomedclf.train.threshold import roc_curve

log = logging.getLogger(__name__)


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


def plot_curves(
    comp_name: str,
    comparison: dict,
    runs: Sequence[RunFiles],
    path: Path,
    colours: dict[str, Any] | None = None,
) -> Path:
    """Accuracy and loss per epoch, one column per variant, mean line with a min–max band."""
    import matplotlib

    members = _comparison_variants(comp_name, comparison, runs)
    colours = colours or _colours(members)
    histories = {v: [load_history(r.history) for r in _runs_of(runs, v)] for v in members}
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(3.6 * len(members) + 0.4, 5.6, 2, len(members), sharey="row")
        for j, v in enumerate(members):
            n_seeds = len(histories[v])
            role = "baseline" if j == 0 else "variant"
            for i, (metric, label) in enumerate(
                (("accuracy", "Accuracy (%)"), ("loss", "Loss (BCE)"))
            ):
                ax = axes[i, j]
                scale = 100.0 if metric == "accuracy" else 1.0
                for split, style in (("train", "--"), ("val", "-")):
                    ep, mean, lo, hi = _curve_band(histories[v], f"{split}_{metric}")
                    name = "train" if split == "train" else "validation"
                    ax.plot(
                        ep, mean * scale, style, color=colours[v], lw=1.6, label=f"{name} (mean)"
                    )
                    if n_seeds > 1:
                        ax.fill_between(
                            ep,
                            lo * scale,
                            hi * scale,
                            color=colours[v],
                            alpha=0.12 if split == "train" else 0.22,
                            lw=0,
                        )
                ax.set_xlabel("Epoch")
                if j == 0:
                    ax.set_ylabel(label)
                if i == 0:
                    ax.set_title(f"{v} ({role}), {n_seeds} seed{'s' * (n_seeds != 1)}")
                ax.legend(loc="best")
                ax.xaxis.get_major_locator().set_params(integer=True)
        band = "band: min–max over seeds; " if any(len(h) > 1 for h in histories.values()) else ""
        fig.suptitle(
            f"Comparison {comp_name}: training curves ({band}train dashed, validation solid)"
        )
        return _save(fig, path)


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
    more than two classes one panel per class (:func:`biomedclf.report.figures.classes.plot_class_roc`)."""
    import matplotlib

    if stats.multiclass:
        return plot_class_roc(comp_name, comparison, runs, stats, path, colours)
    members = _comparison_variants(comp_name, comparison, runs)
    colours = colours or _colours(members)
    conf = stats.settings.confidence
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(5.0, 4.6)
        ax = axes[0, 0]
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="chance")
        for v in members:
            labels, probs, n_seeds = ensembled(runs, v)
            label = f"{v} ({seeds_text(n_seeds)})" + _auroc_label(stats, v)
            if len(np.unique(labels)) < 2:
                log.warning("%s: one class in the test set; no ROC curve", v)
                continue
            fpr, tpr, _ = roc_curve(labels, probs[:, 1])
            ax.plot(fpr, tpr, color=colours[v], lw=1.6, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("False positive rate (1 − specificity)")
        ax.set_ylabel("True positive rate (sensitivity)")
        ax.set_title(
            f"Comparison {comp_name}: ROC, seed-ensembled probabilities\n"
            f"(legend: AUROC [{conf * 100:g}% bootstrap CI])"
        )
        ax.legend(loc="lower right")
        return _save(fig, path)


def plot_comparison(
    comp_name: str, comparison: dict, runs: list[RunFiles], stats: StudyStats, out_dir: Path
) -> list[Path]:
    """Write ``figures/curves_{comp}.png``, ``figures/roc_{comp}.png`` and
    ``figures/confusion_{comp}.png``.

    ``comparison`` is the config entry (``{"baseline", "variants", ...}``); ``out_dir`` the
    study folder or its ``figures`` folder. Colours follow the variant's position in ``runs``,
    so a variant has the same colour in every figure of the study.
    """
    figures = output_dir(out_dir, "figures")
    colours = _colours(stats.variant_order(runs), stats)
    return [
        plot_curves(comp_name, comparison, runs, figures / f"curves_{comp_name}.png", colours),
        plot_roc(comp_name, comparison, runs, stats, figures / f"roc_{comp_name}.png", colours),
        plot_confusion(comp_name, comparison, runs, stats, figures / f"confusion_{comp_name}.png"),
    ]


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


def plot_test_accuracy(runs: Sequence[RunFiles], stats: StudyStats, path: Path) -> Path:
    """Test accuracy of every variant: mean with bootstrap-CI error bars, seeds as dots."""
    import matplotlib

    variants = stats.variant_order(runs)
    colours = _colours(variants, stats)
    conf = stats.settings.confidence
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(max(6.0, 1.0 * len(variants) + 2.5), 4.2)
        ax = axes[0, 0]
        for i, v in enumerate(variants):
            mean, lo, hi, seeds = _accuracy_summary(stats, v)
            if not is_finite(mean):
                continue
            ax.errorbar(
                [i],
                [100 * mean],
                yerr=[[100 * (mean - lo)], [100 * (hi - mean)]],
                fmt="s",
                color=colours[v],
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
                    color=colours[v],
                    alpha=0.55,
                    ms=4,
                )
        ax.errorbar(
            [],
            [],
            yerr=[],
            fmt="s",
            color="0.35",
            ms=7,
            capsize=5,
            label=f"mean over seeds, {conf * 100:g}% CI",
        )
        ax.plot([], [], "o", color="0.35", alpha=0.55, ms=4, label="single seed")
        ax.set_xlim(-0.6, len(variants) - 0.2)
        ax.set_xticks(range(len(variants)), variants, rotation=20, ha="right")
        ax.set_ylabel(f"{stats.scope.capitalize()} accuracy (%)")
        ax.set_xlabel("Variant")
        ax.set_title(
            f"{stats.scope.capitalize()} accuracy per variant\n"
            f"(mean over seeds, {conf * 100:g}% bootstrap CI over {stats.scope} images)"
        )
        ax.legend(loc="best")
        return _save(fig, path)


def plot_accuracy_vs_time(runs: Sequence[RunFiles], stats: StudyStats, path: Path) -> Path:
    """Test accuracy against training seconds per variant, with error bars on both axes."""
    import matplotlib

    variants = stats.variant_order(runs)
    colours = _colours(variants, stats)
    conf = stats.settings.confidence
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(5.6, 4.4)
        ax = axes[0, 0]
        for v in variants:
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
                fmt="o",
                color=colours[v],
                capsize=4,
                ms=6,
                label=v,
            )
            ax.annotate(
                v,
                (t.mean, 100 * mean),
                textcoords="offset points",
                xytext=(6, 6),
                fontsize=8,
                color=colours[v],
            )
        ax.set_xlabel("Training time (s, mean ± sd over seeds)")
        ax.set_ylabel(f"{stats.scope.capitalize()} accuracy (%, mean, {conf * 100:g}% CI)")
        ax.set_title(f"{stats.scope.capitalize()} accuracy against training time")
        ax.legend(loc="best")
        return _save(fig, path)


def plot_reliability(runs: Sequence[RunFiles], stats: StudyStats, path: Path) -> Path:
    """A reliability diagram per variant (seeds pooled), ECE in the legend: the probability of
    class 1 for two classes, the top-label confidence against accuracy for more."""
    import matplotlib

    variants = stats.variant_order(runs)
    colours = _colours(variants, stats)
    top_label = stats.multiclass
    ncols = min(3, len(variants))
    nrows = math.ceil(len(variants) / ncols)
    with matplotlib.rc_context(_STYLE):
        fig, axes = _new_figure(
            3.3 * ncols, 3.3 * nrows + 0.4, nrows, ncols, sharex=True, sharey=True
        )
        for k, v in enumerate(variants):
            ax = axes[k // ncols, k % ncols]
            cal = stats.variant(v).calibration
            bins = [b for b in cal.bins if b.count]
            ax.plot([0, 1], [0, 1], ":", color="grey", lw=1, label="perfect calibration")
            if bins:
                x = [b.mean_probability for b in bins]
                y = [b.observed_frequency for b in bins]
                n = np.array([b.count for b in bins], dtype=float)
                ece = cal.ece
                label = f"ECE {ece:.3f}" if is_finite(ece) else "ECE n/a"
                ax.plot(x, y, "-", color=colours[v], lw=1.4, label=label)
                ax.scatter(x, y, s=12 + 60 * n / n.max(), color=colours[v], zorder=3)
            ax.set_title(f"{v} ({seeds_text(len(stats.variant(v).seeds))} pooled)")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            ax.legend(loc="best" if top_label else "upper left")
            if k % ncols == 0:
                ax.set_ylabel("Observed accuracy" if top_label else "Observed fraction positive")
            if k // ncols == nrows - 1:
                ax.set_xlabel(
                    "Mean top-label confidence" if top_label else "Mean predicted probability"
                )
        for k in range(len(variants), nrows * ncols):
            axes[k // ncols, k % ncols].set_visible(False)
        what = "top-label confidence of the predicted class; " if top_label else ""
        fig.suptitle(f"Reliability diagrams ({what}marker area ∝ images in the bin)")
        return _save(fig, path)


def plot_study(runs: list[RunFiles], stats: StudyStats, out_dir: Path) -> list[Path]:
    """Write ``figures/test_accuracy.png``, ``accuracy_vs_time.png`` and ``reliability.png``.

    ``out_dir`` is the study folder or its ``figures`` folder.
    """
    figures = output_dir(out_dir, "figures")
    return [
        plot_test_accuracy(runs, stats, figures / "test_accuracy.png"),
        plot_accuracy_vs_time(runs, stats, figures / "accuracy_vs_time.png"),
        plot_reliability(runs, stats, figures / "reliability.png"),
    ]
