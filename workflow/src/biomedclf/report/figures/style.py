"""What every figure of the study shares: style, colours, the grid of panels, drawing and saving.

Every figure is drawn inside :func:`figure_file`, which applies :data:`STYLE`, builds a
:class:`matplotlib.figure.Figure` on the Agg canvas (no pyplot, no global backend state) and
saves it as PNG without the ``Software`` text chunk, so the same inputs give the same bytes
with the same matplotlib. Used by every module of :mod:`biomedclf.report.figures` and by
:mod:`biomedclf.report.crossval`.

Names (variants, classes, comparisons) have no length limit in the config, so every text that
holds one is fitted to the room it has, measured with matplotlib's renderer: a name wider than
:data:`NAME_WIDTH` is shortened in its middle (:func:`shortened`), titles break into lines
(:func:`wrapped_text`; a panel's title no wider than its axes as laid out, :func:`fit_titles`;
the figure's title no wider than the figure, :func:`fit_suptitle`). Texts that fit are drawn
as they are.
"""

from __future__ import annotations

import logging
import math
import re
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
    "figure.titlesize": "large",
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}

#: The widest a name is drawn (inches, at the font size of its text): wider names are
#: shortened in their middle (:func:`shortened`).
NAME_WIDTH = 2.4

#: Room (inches) kept free between a text fitted to the figure and the figure's edge.
EDGE = 0.05

#: Pixels (at :data:`DPI`) a text may reach beyond the figure before :func:`figure_file`
#: grows it (a glyph's box overhangs its ink).
OVERFLOW = 1.5

#: Height (inches) a figure of panels with a fixed aspect grows by for each line that
#: breaking adds to a title (:func:`added_lines`).
LINE_HEIGHT = 0.2

#: A space at which :func:`wrapped_text` does not break a line (drawn as a plain space).
KEEP = "\u00a0"

#: The most times :func:`figure_file` saves a figure whose titles or layout do not fit.
SAVES = 4

#: Titles to fit to their axes as laid out, per figure being drawn in :func:`figure_file`
#: (:func:`fit_titles`): the titles and their font size.
_TITLES: dict[Figure, tuple[list[tuple[Any, str]], float]] = {}


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
    drawn and saved with :data:`STYLE` applied. When the saved layout leaves a title given by
    :func:`fit_titles` too little room, or puts a text beyond the figure (constrained layout
    does not make room for the decorations of panels with a fixed aspect), the title is broken
    to its room or the figure grown by what lay beyond it, and the figure saved again.
    """
    import matplotlib

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), layout=layout, dpi=dpi)
        FigureCanvasAgg(fig)
        axes = None if shape is None else fig.subplots(*shape, squeeze=False, **subplots)
        try:
            yield fig, axes
            with atomic_path(Path(path)) as tmp:
                for _ in range(SAVES):  # saved again while a title or the layout does not fit
                    fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
                    fig.set_dpi(DPI)  # measured as saved (axis labels are placed in pixels)
                    if not (_refit_titles(fig) | _grown(fig)):
                        break
        finally:
            _TITLES.pop(fig, None)
    log.info("wrote %s", path)


def text_width(s: str, fontsize: float | str) -> float:
    """Width (inches) of text ``s`` (its widest line) at ``fontsize``, as drawn with
    :data:`STYLE`."""
    # measured as the mosaics measure (one cached renderer); mosaic imports this module
    from biomedclf.report.figures.mosaic import text_box

    box = text_box(0.0, 0.0, s, fontsize=fontsize)
    return box.right - box.left


def shortened(name: str, fontsize: float | str, width: float = NAME_WIDTH) -> str:
    """``name`` when it is at most ``width`` inches wide at ``fontsize``; otherwise its start
    and its end joined by an ellipsis (``conv_with_a…ption_04``), as long as fits: names that
    share a prefix stay apart."""
    if text_width(name, fontsize) <= width:
        return name
    low, high = 1, len(name) - 1  # characters kept: low fits, high does not
    while high - low > 1:
        mid = (low + high) // 2
        if text_width(_elided(name, mid), fontsize) <= width:
            low = mid
        else:
            high = mid
    return _elided(name, low)


def title_name(name: str, width: float) -> str:
    """A name as the title of a ``width``-inch figure shows it: shortened to one line of it
    (less :data:`EDGE` each side)."""
    return shortened(name, STYLE["figure.titlesize"], width - 2 * EDGE)


def _elided(name: str, keep: int) -> str:
    """The first ``ceil(keep / 2)`` and last ``floor(keep / 2)`` characters of ``name``
    around an ellipsis."""
    head = (keep + 1) // 2
    return name[:head] + "…" + name[len(name) - (keep - head) :]


def together(s: str) -> str:
    """``s`` with its spaces turned into :data:`KEEP`: :func:`wrapped_text` keeps it on one
    line when it fits one."""
    return s.replace(" ", KEEP)


def wrapped_text(s: str, width: float, fontsize: float | str) -> str:
    """``s`` with each of its lines broken so that no line is wider than ``width`` inches at
    ``fontsize``: between words (not at a :data:`KEEP` space), else inside a word after ``_``,
    ``-`` or ``/``, else between any two characters. A text that fits is returned as
    it is (every :data:`KEEP` a plain space)."""
    if text_width(s, fontsize) <= width:
        return s.replace(KEEP, " ")
    lines: list[str] = []
    for line in s.split("\n"):
        current = ""
        for piece in re.split(r"(?<=[ _/-])", line):
            if current and text_width((current + piece).rstrip(), fontsize) > width:
                lines.append(current.rstrip())
                current = ""
            while len(piece) > 1 and text_width(piece.rstrip(), fontsize) > width:
                cut = _longest_prefix(piece, width, fontsize)
                lines.append(piece[:cut])
                piece = piece[cut:]
            current += piece
        lines.append(current.rstrip())
    return "\n".join(lines).replace(KEEP, " ")


def _longest_prefix(piece: str, width: float, fontsize: float | str) -> int:
    """The number of leading characters of ``piece`` (at least one) no wider than ``width``."""
    low, high = 1, len(piece)  # low characters fit (or are the minimum), high do not
    while high - low > 1:
        mid = (low + high) // 2
        if text_width(piece[:mid], fontsize) <= width:
            low = mid
        else:
            high = mid
    return low


def added_lines(s: str, width: float, fontsize: float | str) -> int:
    """How many lines breaking ``s`` to ``width`` inches at ``fontsize`` adds
    (:func:`wrapped_text`): a figure of panels with a fixed aspect grows by
    :data:`LINE_HEIGHT` for each (constrained layout does not shrink such panels to make room
    for a taller title)."""
    return wrapped_text(s, width, fontsize).count("\n") - s.count("\n")


def grid_added_lines(titles: Sequence[str], ncols: int, width: float, fontsize: float | str) -> int:
    """The lines breaking adds (:func:`added_lines`) to the tallest title of each row of a grid
    of panels ``ncols`` wide (titles row by row), summed over the rows."""
    rows = [titles[r : r + ncols] for r in range(0, len(titles), ncols)]
    return sum(max(added_lines(t, width, fontsize) for t in row) for row in rows)


def suptitle_lines(s: str, width: float) -> int:
    """How many lines :func:`fit_suptitle` adds to the title ``s`` of a ``width``-inch figure."""
    return added_lines(s, width - 2 * EDGE, STYLE["figure.titlesize"])


def fit_suptitle(fig: Figure, s: str) -> None:
    """The figure's title ``s``, its lines broken to the figure's width (less :data:`EDGE`
    each side)."""
    size = STYLE["figure.titlesize"]
    fig.suptitle(wrapped_text(s, fig.get_figwidth() - 2 * EDGE, size), fontsize=size)


def fit_titles(
    fig: Figure, titles: Sequence[tuple[Any, str]], fontsize: float | None = None
) -> None:
    """Give each axes of ``titles`` its title, its lines broken to the width of the axes as
    the figure's layout places them, so that no title reaches over a neighbouring panel; a
    lone titled axes may use the figure's width around its centre (less :data:`EDGE`).

    For a figure drawn in :func:`figure_file`. Each title is first broken to its columns'
    share of the figure's width; :func:`figure_file` measures the titles in the layout it saved
    and, where one is wider than its room, breaks it there and saves again (its axes then
    shrink; :data:`SAVES` at most). A figure whose titles fit is saved once, as without this
    function. Once a title is broken, the titled axes are anchored at their top
    (:func:`_set_title`).
    """
    size = fontsize if fontsize is not None else STYLE["axes.titlesize"]
    for ax, s in titles:
        share = fig.get_figwidth() * _column_share(ax) - 2 * EDGE
        _set_title(ax, s, wrapped_text(s, share, size), size, [a for a, _ in titles])
    _TITLES[fig] = (list(titles), size)


def _set_title(ax: Any, s: str, shown: str, size: float, panels: Sequence[Any]) -> None:
    """Title ``shown`` (``s`` broken into lines) on ``ax``; when it has more lines than ``s``,
    every axes of ``panels`` anchored at its top: constrained layout keeps the title of a
    panel with a fixed aspect (shrunk within its box, centred by default) inside the figure
    only when the panel sits at the top of its box."""
    ax.set_title(shown, fontsize=size)
    if shown.count("\n") > s.count("\n"):
        for panel in panels:
            panel.set_anchor("N")


def _refit_titles(fig: Figure) -> bool:
    """Break again, to the room the last layout gave them, the titles of ``fig``
    (:func:`fit_titles`) that are wider than that room; whether any was."""
    titles, size = _TITLES.get(fig, ([], 0.0))
    renderer = fig.canvas.get_renderer()
    crowded = False
    for ax, s in titles:
        box = ax.get_window_extent()
        if len(titles) > 1:
            room = box.width / fig.dpi
        else:
            centre = (box.x0 + box.x1) / 2 / fig.dpi
            room = 2 * (min(centre, fig.get_figwidth() - centre) - EDGE)
        if ax.title.get_window_extent(renderer).width / fig.dpi > room:
            _set_title(ax, s, wrapped_text(s, 0.97 * room, size), size, [a for a, _ in titles])
            crowded = True
    return crowded


def _grown(fig: Figure) -> bool:
    """Grow a laid-out figure (not a mosaic) by as much as its titles, axis labels and legends
    (of its axes and its own) reach beyond it, plus :data:`EDGE`; whether they did (by more
    than :data:`OVERFLOW` pixels). Tick labels, which the layout places first, are not
    measured (a tenth of a second a figure)."""
    if fig.get_layout_engine() is None:
        return False
    renderer = fig.canvas.get_renderer()
    shown = [*fig.texts, *fig.legends]
    for ax in fig.axes:
        if ax.get_visible():
            shown += [ax.title, ax.xaxis.label, ax.yaxis.label, ax.get_legend()]
    boxes = [
        a.get_window_extent(renderer)
        for a in shown
        if a is not None and a.get_visible() and (not hasattr(a, "get_text") or a.get_text())
    ]
    if not boxes:
        return False
    width, height = fig.bbox.width, fig.bbox.height
    left, right = -min(b.x0 for b in boxes), max(b.x1 for b in boxes) - width
    bottom, top = -min(b.y0 for b in boxes), max(b.y1 for b in boxes) - height
    sides = [(left, right), (bottom, top)]
    grow = [sum(over / fig.dpi + EDGE for over in pair if over > OVERFLOW) for pair in sides]
    if not any(grow):
        return False
    fig.set_size_inches(fig.get_figwidth() + grow[0], fig.get_figheight() + grow[1])
    return True


def _column_share(ax: Any) -> float:
    """The fraction of the figure's width that the grid columns of ``ax`` span."""
    spec = ax.get_subplotspec()
    return len(spec.colspan) / spec.get_gridspec().ncols
