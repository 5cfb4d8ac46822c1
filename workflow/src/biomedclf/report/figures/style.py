"""What every figure of the study shares: style, colours, the grid of panels, drawing and saving.

Every figure is drawn inside :func:`figure_file`, which applies :data:`STYLE`, builds a
:class:`matplotlib.figure.Figure` on the Agg canvas (no pyplot, no global backend state) and
saves it as PNG without the ``Software`` text chunk, so the same inputs give the same bytes
with the same matplotlib. Used by every module of :mod:`biomedclf.report.figures` and by
:mod:`biomedclf.report.crossval`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


def grid_shape(n: int, max_columns: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``n`` panels, at most ``max_columns`` a row (at least
    one row and one column)."""
    columns = max(1, min(max_columns, n))
    return max(1, math.ceil(n / columns)), columns


def hide_unused(axes: np.ndarray, n: int) -> None:
    """Hide the panels of a grid after the first ``n`` (row by row)."""
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)


@contextmanager
def figure_file(
    path: Path | str,
    width: float,
    height: float,
    shape: tuple[int, int] | None = (1, 1),
    *,
    layout: str | None = "constrained",
    dpi: float | None = None,
    **subplots: Any,
) -> Iterator[tuple[Figure, np.ndarray | None]]:
    """Draw a ``width`` x ``height`` inch figure and save it to ``path`` (PNG, atomically, no
    ``Software`` chunk) when the block ends without an error.

    Yields the figure and its 2-D array of axes (``shape`` rows x columns; keywords as
    :meth:`Figure.subplots`), or ``None`` for axes when ``shape`` is ``None``. Everything is
    drawn and saved with :data:`STYLE` applied.
    """
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout=layout, dpi=dpi)
        FigureCanvasAgg(fig)
        axes = None if shape is None else fig.subplots(*shape, squeeze=False, **subplots)
        yield fig, axes
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    log.info("wrote %s", path)
