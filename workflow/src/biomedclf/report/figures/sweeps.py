"""A sweep's figure, ``figures/sweep_{sweep}.png``, drawn by
:func:`biomedclf.report.sweeps.write_sweep_report`.

* One or several swept settings (a grid of one setting or of three or more, or a random
  search): a row of panels per setting, the metric (validation, which made the choice, and
  test, the curve's shape) and the train-validation accuracy gap against the setting's value;
  lines with mean ± SD over seeds for one setting, a point per point of the sweep otherwise.
  Log-spaced values are drawn on a log axis (symmetric-log when 0 is among them), other
  numbers on a linear one and anything else (true/false, names) as categories.
* A grid of two settings: heat maps of the validation metric, the test metric and the gap.

The chosen point is marked (a star, a solid frame), the best on validation too when the
one-standard-error rule chose another (a circle, a dashed frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.report.figures.style import figure_file
from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.tables.sweeps import SweepRow, value_label
from biomedclf.sweeps.record import Selection

#: Colours of the validation metric, the test metric and the gap.
COLOURS = {"validation": "C0", "test": "C1", "gap": "C2"}

#: Heat maps larger than this (cells a side) are drawn without the numbers in their cells.
ANNOTATED = 12


def _rule(selection: Selection) -> str:
    """How the point was chosen, in a few words."""
    if selection.select == "best":
        return "best on validation"
    return f"one-SE rule, {selection.prefer}"


def _metric_label(selection: Selection, scope: str | None = None) -> str:
    """``Accuracy``, ``Validation AUROC``: the sweep's metric, of ``scope`` if given."""
    name = metric_name(selection.metric, None, selection.n_classes > 2)
    return capitalised(f"{scope} {name}" if scope else name)


def _positions(values: list[Any], scale: str) -> tuple[np.ndarray, list[Any]]:
    """x positions of ``values``, and the distinct values of a category axis (in order)."""
    if scale == "category":
        distinct = list(dict.fromkeys(value_label(v) for v in values))
        return np.array([distinct.index(value_label(v)) for v in values], dtype=float), distinct
    return np.asarray(values, dtype=float), []


def _set_scale(ax: Any, xs: np.ndarray, scale: str, categories: list[str]) -> None:
    """A log (symmetric-log with 0), linear or category x axis."""
    if scale == "category":
        ax.set_xticks(range(len(categories)), categories)
        ax.set_xlim(-0.5, len(categories) - 0.5)
    elif scale == "log":
        positive = xs[xs > 0]
        if (xs <= 0).any() and positive.size:
            low, high = float(positive.min()), float(positive.max())
            ax.set_xscale("symlog", linthresh=low, linscale=0.5)
            ax.set_xlim(-0.25 * low, 1.6 * high)  # 0 at the start, no negative decades
        elif positive.size:
            ax.set_xscale("log")


def _series(ax: Any, xs: np.ndarray, means: list, sds: list, kind: str, line: bool, **kw) -> None:
    """One quantity against the setting: mean ± SD with lines (one swept setting), or a point
    per point of the sweep."""
    y = np.array([np.nan if m is None else m for m in means], dtype=float)
    if line:
        order = np.argsort(xs, kind="stable")
        err = np.array([np.nan if s is None else s for s in sds], dtype=float)[order]
        ax.errorbar(
            xs[order], y[order], yerr=np.nan_to_num(err), color=COLOURS[kind], capsize=3, ms=5, **kw
        )
    else:
        ax.plot(xs, y, ls="none", color=COLOURS[kind], alpha=0.75, ms=5, **kw)


def _mark(axes: Sequence[Any], selection: Selection, x: dict[str, float], y: dict) -> None:
    """The chosen point (a star on the validation curve, a dotted line on every panel) and
    the best on validation when it differs (a circle)."""
    chosen, best = selection.selected, selection.best
    axes[0].plot(
        x[chosen],
        y[chosen],
        "*",
        color="black",
        ms=14,
        zorder=5,
        label=f"chosen ({_rule(selection)})",
    )
    if best != chosen:
        axes[0].plot(
            x[best],
            y[best],
            "o",
            mfc="none",
            mec="black",
            ms=12,
            zorder=5,
            label="best on validation",
        )
    for ax in axes:
        ax.axvline(x[chosen], ls=":", color="0.3", lw=1)


def _setting_row(axes: Sequence[Any], selection: Selection, rows: list[SweepRow], k: str) -> None:
    """The metric and the gap against setting ``k`` (one row of panels)."""
    scale = selection.scales[k]
    xs, categories = _positions([r.values[k] for r in rows], scale)
    line = len(selection.settings) == 1
    at = {r.point: float(x) for r, x in zip(rows, xs, strict=True)}
    val = {r.point: r.val_mean for r in rows}
    metric_ax, gap_ax = axes
    series = (  # (axis, means, SDs, colour key, marker, label)
        (metric_ax, "val_mean", "val_sd", "validation", "o", "validation (makes the choice)"),
        (metric_ax, "test_mean", "test_sd", "test", "s", "test (the shape only)"),
        (gap_ax, "gap_mean", "gap_sd", "gap", "^", "training − validation accuracy"),
    )
    for ax, mean, sd, kind, marker, label in series:
        means = [getattr(r, mean) for r in rows]
        sds = [getattr(r, sd) for r in rows]
        _series(ax, xs, means, sds, kind, line, marker=marker, label=label)
    _mark(axes, selection, at, val)
    gap_ax.axhline(0, color="0.6", lw=0.8)
    for ax in axes:
        _set_scale(ax, xs, scale, categories)
        ax.set_xlabel(k)
    metric_ax.set_ylabel(_metric_label(selection))
    gap_ax.set_ylabel("Accuracy gap")


def _curves(path: Path, selection: Selection, rows: list[SweepRow]) -> None:
    """A row of panels (metric, gap) per swept setting."""
    n = len(selection.settings)
    with figure_file(path, 9.5, 3.3 * n + 0.6, (n, 2)) as (fig, axes):
        for i, k in enumerate(selection.settings):
            _setting_row(axes[i], selection, rows, k)
        axes[0, 0].legend(loc="best", fontsize="small")
        axes[0, 1].legend(loc="best", fontsize="small")
        spread = "mean ± SD over seeds" if n == 1 else "a point per point of the sweep"
        fig.suptitle(f"Sweep {selection.sweep} of {selection.base}: {spread}")


def _cell(row: SweepRow, settings: list[str], ys: list[str], xs: list[str]) -> tuple[int, int]:
    """The heat map cell (row, column) of a point."""
    return ys.index(value_label(row.values[settings[0]])), xs.index(
        value_label(row.values[settings[1]])
    )


def _grid(rows: list[SweepRow], settings: list[str], field: str) -> tuple[list, list, np.ndarray]:
    """The two settings' values (rows: the first, columns: the second) and ``field`` of
    each cell (NaN where undefined)."""
    ys = list(dict.fromkeys(value_label(r.values[settings[0]]) for r in rows))
    xs = list(dict.fromkeys(value_label(r.values[settings[1]]) for r in rows))
    cells = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        i, j = _cell(r, settings, ys, xs)
        value = getattr(r, field)
        cells[i, j] = np.nan if value is None else value
    return ys, xs, cells


def _heat_map(fig: Any, ax: Any, rows: list[SweepRow], selection: Selection, field: str) -> None:
    """One heat map of ``field`` over the two settings, the chosen (and best) cell framed."""
    from matplotlib.patches import Rectangle

    settings = selection.settings
    ys, xs, cells = _grid(rows, settings, field)
    image = ax.imshow(cells, origin="lower", aspect="auto", cmap="viridis")
    ax.grid(False)
    fig.colorbar(image, ax=ax, shrink=0.85)
    ax.set_xticks(range(len(xs)), xs, rotation=45 if len(xs) > 6 else 0)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(settings[1])
    ax.set_ylabel(settings[0])
    if max(len(xs), len(ys)) <= ANNOTATED:
        for (i, j), v in np.ndenumerate(cells):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.3f}",
                    ha="center",
                    va="center",
                    fontsize="small" if max(len(xs), len(ys)) <= 8 else "x-small",
                    color="white" if v < np.nanmean(cells) else "black",
                )
    for name, style in ((selection.best, "--"), (selection.selected, "-")):
        i, j = _cell(next(r for r in rows if r.point == name), settings, ys, xs)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.2, ls=style))


def _heat_maps(path: Path, selection: Selection, rows: list[SweepRow]) -> None:
    """Validation metric, test metric and gap over a two-setting grid."""
    n_rows = len({value_label(r.values[selection.settings[0]]) for r in rows})
    panels = (
        ("val_mean", f"{_metric_label(selection, 'validation')} (makes the choice)"),
        ("test_mean", f"{_metric_label(selection, 'test')} (the shape only)"),
        ("gap_mean", "Training − validation accuracy"),
    )
    with figure_file(path, 15.0, max(3.6, 0.35 * n_rows + 2.2), (1, 3)) as (fig, axes):
        for ax, (field, title) in zip(axes[0], panels, strict=True):
            _heat_map(fig, ax, rows, selection, field)
            ax.set_title(title)
        frames = f"solid frame: the chosen point, {_rule(selection)}"
        if selection.best != selection.selected:
            frames += "; dashed: the best on validation"
        title = f"Sweep {selection.sweep} of {selection.base}, mean over seeds"
        fig.suptitle(f"{title}. {capitalised(frames)}")


def plot_sweep(path: Path | str, selection: Selection, rows: Sequence[SweepRow]) -> Path:
    """Draw the sweep's figure to ``path``: heat maps for a grid of two settings, curves
    otherwise (see the module's docstring)."""
    path, rows = Path(path), list(rows)
    if selection.kind == "grid" and len(selection.settings) == 2:
        _heat_maps(path, selection, rows)
    else:
        _curves(path, selection, rows)
    return path
