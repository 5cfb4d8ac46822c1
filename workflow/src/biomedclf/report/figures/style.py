"""What every figure of the study shares: style, colours, the canvas, saving.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global backend state) and saved without the ``Software`` PNG text chunk, so the same inputs
give the same bytes with the same matplotlib. Used by :mod:`biomedclf.report.figures.plots` and
:mod:`biomedclf.report.figures.classes`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from biomedclf.io import atomic_path
from biomedclf.stats.records import StudyStats

log = logging.getLogger(__name__)

#: Resolution of the saved figures.
DPI = 120

#: matplotlib settings of every figure.
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def colours_for(variants: Sequence[str], stats: StudyStats | None = None) -> dict[str, Any]:
    """A fixed colour per variant, by its position in the study (tab10, then tab20).

    With ``stats``, positions follow the study's variant order in the statistics (every
    variant of the study), so a variant keeps its colour in figures that show a subset.
    """
    from matplotlib import colormaps

    if stats and stats.variants:
        order = list(stats.variants)
        variants = order + [v for v in variants if v not in order]

    cmap = colormaps["tab10" if len(variants) <= 10 else "tab20"]
    return {v: cmap(i % cmap.N) for i, v in enumerate(variants)}


def new_figure(
    width: float, height: float, nrows: int = 1, ncols: int = 1, **kw: Any
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure on an Agg canvas and its 2-D array of axes."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as PNG atomically, without the Software text chunk."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    log.info("wrote %s", path)
    return path


def seeds_text(n_seeds: int) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n_seeds} seed{'s' * (n_seeds != 1)}"
