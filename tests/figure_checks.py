"""What a figure of the report must satisfy, measured with matplotlib's renderer.

Used by the figure matrix (tests/test_figure_matrix.py, tests/test_mosaic_shapes.py): a
PNG's pixel size (:func:`png_size`, at most :data:`MAX_SIDE` a side); texts that leave the
figure (:func:`texts_outside`); titles, axis labels and tick labels of different axes that
overlap (:func:`axes_overlaps`); tick labels of one axis that overlap each other
(:func:`tick_overlaps`); legends that cover a title, an axis label, a tick label or another
legend (:func:`legend_overlaps`); a mosaic's texts over its panels or each other
(:func:`mosaic_overlaps`). Slanted texts are compared by their turned boxes (separating axes),
so that parallel slanted neighbours whose letters do not touch count as apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.report.figures.mosaic import Mosaic

#: The largest side of any PNG of the matrix, in pixels.
MAX_SIDE = 4000

#: Overlap (pixels, each direction) below which two boxes count as touching, not overlapping.
TOLERANCE = 1.0


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, from its header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _shown(text: Any) -> bool:
    return text is not None and text.get_visible() and bool(text.get_text().strip())


def _tick_labels(axis: Any) -> list[Any]:
    """The tick labels an axis draws: visible, non-empty, at ticks inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * max(1.0, hi - lo)
    return [
        label
        for tick in axis.get_major_ticks()
        if lo - eps <= tick.get_loc() <= hi + eps
        for label in (tick.label1, tick.label2)
        if _shown(label)
    ]


def axes_texts(fig: Any) -> list[list[Any]]:
    """Per visible axes its title, axis labels and tick labels."""
    groups = []
    for ax in fig.axes:
        if ax.get_visible():
            texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
            texts += _tick_labels(ax.xaxis) + _tick_labels(ax.yaxis)
            groups.append([t for t in texts if _shown(t)])
    return groups


def _legends(fig: Any) -> list[Any]:
    """The visible legends of the figure and of its visible axes."""
    found = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_visible())]
    return [legend for legend in found if legend is not None and legend.get_visible()]


def figure_texts(fig: Any) -> list[Any]:
    """Every text a figure draws: axes texts, annotations, legends, figure texts."""
    texts = [t for group in axes_texts(fig) for t in group] + list(fig.texts)
    for legend in _legends(fig):
        texts += [*legend.get_texts(), legend.get_title()]
    texts += [t for ax in fig.axes if ax.get_visible() for t in ax.texts]
    return [t for t in texts if _shown(t)]


def corners(text: Any, renderer: Any) -> np.ndarray:
    """The 4 corners (display pixels) of a text's box, turned with the text: its axis-aligned
    box would make two neighbouring slanted labels overlap where their letters do not."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation()
    if angle % 90 == 0:
        return _rectangle(box)
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(angle)
    turn = np.radians(angle)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    rect = np.array([[0, 0], [flat.width, 0], [flat.width, flat.height], [0, flat.height]])
    turned = rect @ rotation.T
    return turned + np.array([box.x0, box.y0]) - turned.min(axis=0)


def _rectangle(box: Any) -> np.ndarray:
    """The 4 corners of an axis-aligned box (a matplotlib ``Bbox``)."""
    return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])


def _apart(p: np.ndarray, q: np.ndarray) -> bool:
    """Whether convex quadrilaterals ``p`` and ``q`` overlap by at most :data:`TOLERANCE`
    along one of their edges' normals (separating axes)."""
    for poly in (p, q):
        for edge in np.roll(poly, -1, axis=0) - poly:
            normal = np.array([-edge[1], edge[0]]) / (np.hypot(*edge) or 1.0)
            a, b = p @ normal, q @ normal
            if min(a.max(), b.max()) - max(a.min(), b.min()) <= TOLERANCE:
                return True
    return False


def overlapping(a: list[np.ndarray], b: list[np.ndarray]) -> list[tuple[int, int]]:
    """Pairs (i, j) of shapes ``a[i]`` and ``b[j]`` (corner arrays) that overlap by more than
    :data:`TOLERANCE` pixels."""
    if not a or not b:
        return []
    lo_a, hi_a = np.array([c.min(0) for c in a]), np.array([c.max(0) for c in a])
    lo_b, hi_b = np.array([c.min(0) for c in b]), np.array([c.max(0) for c in b])
    depth = np.minimum(hi_a[:, None], hi_b[None]) - np.maximum(lo_a[:, None], lo_b[None])
    near = np.all(depth > TOLERANCE, axis=2)
    return [(i, j) for i, j in zip(*np.nonzero(near), strict=True) if not _apart(a[i], b[j])]


def axes_overlaps(fig: Any) -> list[str]:
    """Texts of different axes (titles, axis labels, tick labels) that overlap."""
    renderer = fig.canvas.get_renderer()
    groups = axes_texts(fig)
    shapes = [[corners(t, renderer) for t in g] for g in groups]
    found = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            for a, b in overlapping(shapes[i], shapes[j]):
                first, second = groups[i][a].get_text(), groups[j][b].get_text()
                found.append(f"{first!r} (axes {i}) × {second!r} (axes {j})")
    return found


def tick_overlaps(fig: Any) -> list[str]:
    """Tick labels of one axis that overlap each other."""
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = _tick_labels(axis) if ax.get_visible() else []
            shapes = [corners(t, renderer) for t in labels]
            found += [
                f"{labels[i].get_text()!r} × {labels[j].get_text()!r}"
                for i, j in overlapping(shapes, shapes)
                if i < j
            ]
    return found


def legend_overlaps(fig: Any) -> list[str]:
    """Legends (their frames) that cover a title, an axis label or a tick label of any axes,
    or another legend."""
    renderer = fig.canvas.get_renderer()
    legends = _legends(fig)
    frames = [_rectangle(legend.get_window_extent(renderer)) for legend in legends]
    texts = [t for group in axes_texts(fig) for t in group]
    shapes = [corners(t, renderer) for t in texts]
    found = [f"legend {i} × {texts[j].get_text()!r}" for i, j in overlapping(frames, shapes)]
    return found + [f"legend {i} × legend {j}" for i, j in overlapping(frames, frames) if i < j]


def inner_text_overlaps(fig: Any) -> list[str]:
    """Texts placed inside one axes (labels of points, numbers of cells) that overlap each
    other or a legend."""
    renderer = fig.canvas.get_renderer()
    frames = [_rectangle(legend.get_window_extent(renderer)) for legend in _legends(fig)]
    found = []
    for ax in fig.axes:
        texts = [t for t in ax.texts if _shown(t)] if ax.get_visible() else []
        shapes = [corners(t, renderer) for t in texts]
        found += [
            f"{texts[i].get_text()!r} × {texts[j].get_text()!r}"
            for i, j in overlapping(shapes, shapes)
            if i < j
        ]
        found += [f"legend {i} × {texts[j].get_text()!r}" for i, j in overlapping(frames, shapes)]
    return found


def texts_outside(fig: Any) -> list[str]:
    """Texts that reach beyond the figure."""
    renderer = fig.canvas.get_renderer()
    size = np.array([fig.bbox.width, fig.bbox.height])
    found = []
    for text in figure_texts(fig):
        c = corners(text, renderer)
        if (c < -TOLERANCE).any() or (c > size + TOLERANCE).any():
            found.append(f"{text.get_text()[:60]!r} at {c.min(0).round(1)}–{c.max(0).round(1)}")
    return found


def mosaic_overlaps(fig: Any, mosaic: Mosaic) -> list[str]:
    """Texts of a mosaic's figure that overlap one of its panels (frames included) or
    another text."""
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.texts if _shown(t)]
    shapes = [corners(t, renderer) for t in texts]
    height = mosaic.pixels.shape[0]
    panels = [
        np.array([[x0, height - y1], [x1, height - y1], [x1, height - y0], [x0, height - y0]])
        for x0, y0, x1, y1 in mosaic.panels
    ]
    found = [
        f"{texts[i].get_text()!r} × panel {mosaic.panels[j]}"
        for i, j in overlapping(shapes, panels)
    ]
    found += [
        f"{texts[i].get_text()!r} × {texts[j].get_text()!r}"
        for i, j in overlapping(shapes, shapes)
        if i < j
    ]
    return found
