"""Figures of many small images, drawn as one picture: the saliency figures' canvas.

A figure with a hundred image panels built from matplotlib axes takes about a second to lay
out and draw (each axes carries ticks, spines and a transform tree). A :class:`Mosaic`
instead pastes every panel into one RGB array at the figure's resolution (nearest-neighbour
scaling, so each image pixel stays a sharp square), draws coloured frames into it, and shows
it with a single ``figimage`` under the texts: the same look at a tenth of the time.

A layout first places everything on a :class:`Sketch` (positions in inches, any origin; each
text measured with matplotlib's renderer as it is placed), which then sizes a :class:`Mosaic`
to the bounding box of all it holds plus :data:`MARGIN` (:meth:`Sketch.mosaic`): the canvas
follows from what is drawn, whatever the number of models, images, weight panels, classes or
the length of a name. A :class:`Mosaic` has a fixed canvas (positions in inches from its
top-left corner) and refuses a panel or a text that would not fit in it. Saved by
:meth:`Mosaic.save` through :func:`biomedclf.report.figures.style.figure_file` (Agg, no
``Software`` chunk: deterministic bytes).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biomedclf.report.figures.style import DPI, STYLE, figure_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Blank border (inches) a :class:`Sketch` leaves around everything it holds.
MARGIN = 0.1

#: Default font size of a mosaic's texts.
FONT = 7

#: Width (pixels) of a panel's frame, drawn just outside it.
FRAME = 3


@dataclass(frozen=True)
class Box:
    """A rectangle in inches, ``top`` < ``bottom`` (y grows downwards)."""

    left: float
    top: float
    right: float
    bottom: float

    def union(self, other: Box) -> Box:
        """The smallest box holding this one and ``other``."""
        return Box(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )


def nearest(values: np.ndarray, size: float, height: float | None = None) -> np.ndarray:
    """``values`` (h x w x ...) scaled to the pixels of a ``size``-inch square (``size`` x
    ``height``) as :meth:`Mosaic.paste` scales: nearest neighbour, each value a sharp block."""
    w = round(size * DPI)
    h = w if height is None else round(height * DPI)
    return values[np.arange(h) * values.shape[0] // h][:, np.arange(w) * values.shape[1] // w]


def image_rgb(image: np.ndarray, size: float | None = None) -> np.ndarray:
    """A uint8 C x H x W image as H x W x 3 floats in [0, 1] (grey for one channel); with
    ``size``, already scaled to a ``size``-inch panel (:func:`nearest`: the same pixels as
    pasting the full image, in a fraction of the time)."""
    pixels = np.moveaxis(image, 0, -1)
    if size is not None:
        pixels = nearest(pixels, size)
    if pixels.shape[2] == 3:
        return pixels / 255.0
    return np.repeat(pixels[..., :1] / 255.0, 3, axis=2)


def coloured(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """``values`` (H x W) through colour map ``cmap`` on [low, high], as H x W x 3."""
    from matplotlib import colormaps

    span = (high - low) or 1.0
    return colormaps[cmap](np.clip((values - low) / span, 0, 1))[..., :3]


@functools.lru_cache(maxsize=1)
def _measuring_canvas() -> Any:
    """A figure and its Agg renderer, to measure texts at :data:`DPI`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 10), dpi=DPI)
    return fig, FigureCanvasAgg(fig).get_renderer()


@functools.lru_cache(maxsize=8192)
def _offsets(s: str, kw: tuple[tuple[str, Any], ...]) -> tuple[float, float, float, float]:
    """Left, top, right and bottom of text ``s`` (keywords ``kw``) relative to its anchor,
    in inches (y downwards), as matplotlib lays it out."""
    import matplotlib
    from matplotlib.text import Text

    fig, renderer = _measuring_canvas()
    with matplotlib.rc_context(STYLE):
        text = Text(500.0, 500.0, s, figure=fig, **dict(kw))
        bb = text.get_window_extent(renderer)
    return (bb.x0 - 500) / DPI, (500 - bb.y1) / DPI, (bb.x1 - 500) / DPI, (500 - bb.y0) / DPI


def text_box(x: float, y: float, s: str, **kw: Any) -> Box:
    """The box (inches) of text ``s`` anchored at (``x``, ``y``), keywords as ``Figure.text``
    (font size :data:`FONT` unless given)."""
    left, top, right, bottom = _offsets(s, tuple(sorted({"fontsize": FONT, **kw}.items())))
    return Box(x + left, y + top, x + right, y + bottom)


def fitted(s: str, width: float, fontsize: float) -> str:
    """``s`` cut (with an ellipsis) to at most ``width`` inches at ``fontsize``."""
    if text_box(0, 0, s, fontsize=fontsize).right <= width:
        return s
    keep = len(s) - 1
    while keep > 1 and text_box(0, 0, s[:keep] + "…", fontsize=fontsize).right > width:
        keep -= 1
    return s[:keep] + "…"


def wrapped(s: str, width: float, fontsize: float) -> str:
    """``s`` with each of its lines broken between words so that no line is wider than
    ``width`` inches at ``fontsize`` (a single word wider than that stays whole)."""
    out = []
    for line in s.split("\n"):
        words = line.split(" ")
        current = words[0]
        for word in words[1:]:
            candidate = f"{current} {word}"
            if text_box(0, 0, candidate, fontsize=fontsize).right <= width:
                current = candidate
            else:
                out.append(current)
                current = word
        out.append(current)
    return "\n".join(out)


@dataclass
class Mosaic:
    """A ``width`` x ``height`` inch figure drawn as one RGB array plus texts; ``panels``
    holds the pixel box (left, top, right, bottom; frame included) of every panel pasted."""

    width: float
    height: float
    pixels: np.ndarray = field(init=False)
    texts: list[tuple[float, float, str, dict[str, Any]]] = field(default_factory=list)
    panels: list[tuple[int, int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pixels = np.full((round(self.height * DPI), round(self.width * DPI), 3), 255, np.uint8)

    def _px(self, inches: float) -> int:
        return int(round(inches * DPI))

    def _check(self, what: str, box: tuple[int, int, int, int]) -> None:
        """ValueError when the pixel ``box`` of ``what`` leaves the canvas."""
        height, width = self.pixels.shape[:2]
        if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
            raise ValueError(
                f"mosaic: {what} at pixels {box} (left, top, right, bottom) does not fit the "
                f"{width} x {height} px canvas; size the canvas to what it holds "
                "(biomedclf.report.figures.mosaic.Sketch.mosaic)"
            )

    def paste(
        self,
        rgb: np.ndarray,
        left: float,
        top: float,
        size: float,
        frame: str | None = None,
        frame_px: int = FRAME,
        height: float | None = None,
    ) -> None:
        """``rgb`` (h x w x 3) scaled to a ``size``-inch square (``size`` x ``height`` when
        given) at (``left``, ``top``), with a frame of colour ``frame`` drawn just outside
        it; ValueError when the panel or its frame would leave the canvas."""
        from matplotlib.colors import to_rgb

        x, y, w = self._px(left), self._px(top), self._px(size)
        h = w if height is None else self._px(height)
        f = frame_px if frame else 0
        self._check(f"a {w} x {h} px panel", (x - f, y - f, x + w + f, y + h + f))
        if frame:
            self.pixels[y - f : y + h + f, x - f : x + w + f] = np.round(
                np.multiply(to_rgb(frame), 255)
            )
        self.pixels[y : y + h, x : x + w] = np.round(
            np.clip(nearest(rgb, size, height), 0, 1) * 255
        )
        self.panels.append((x - f, y - f, x + w + f, y + h + f))

    def text(self, x: float, y: float, s: str, **kw: Any) -> None:
        """Text at (``x``, ``y``) inches; keywords as ``Figure.text`` (font size
        :data:`FONT` unless given); ValueError when it would leave the canvas."""
        kw = {"fontsize": FONT, **kw}
        box = text_box(x, y, s, **kw)
        pixels = (box.left, box.top, box.right, box.bottom)
        self._check(f"text {s[:40]!r}", tuple(int(round(v * DPI)) for v in pixels))
        self.texts.append((x, y, s, kw))

    def draw(self, fig: Figure) -> None:
        """Draw the mosaic on ``fig`` (of the mosaic's size at :data:`DPI`): the array placed
        pixel for pixel (``figimage``: no resampling) under the texts."""
        height, width = self.pixels.shape[:2]
        opaque = np.full((height, width, 1), 255, np.uint8)
        # RGBA and nearest: the same pixels as RGB, drawn in a fifth of the time
        fig.figimage(
            np.concatenate([self.pixels, opaque], axis=2), origin="upper", interpolation="nearest"
        )
        for x, y, s, kw in self.texts:
            fig.text(x * DPI / width, 1 - y * DPI / height, s, **kw)

    def figure(self) -> Figure:
        """The mosaic drawn on a new figure (Agg canvas), as :meth:`save` saves it."""
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        height, width = self.pixels.shape[:2]
        with matplotlib.rc_context(STYLE):
            fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
            FigureCanvasAgg(fig)
            self.draw(fig)
        return fig

    def save(self, path: Path) -> Path:
        """Save the mosaic as ``path`` (PNG, its canvas pixel for pixel)."""
        height, width = self.pixels.shape[:2]
        with figure_file(path, width / DPI, height / DPI, None, layout=None, dpi=DPI) as (fig, _):
            self.draw(fig)
        return path


@dataclass
class Sketch:
    """Panels and texts placed in inches (any origin, y downwards) before the canvas exists;
    :meth:`mosaic` sizes the canvas to the bounding box of everything placed."""

    panels: list[tuple[np.ndarray, float, float, float, str | None, float | None]] = field(
        default_factory=list
    )
    texts: list[tuple[float, float, str, dict[str, Any]]] = field(default_factory=list)
    box: Box | None = None

    def _grow(self, box: Box) -> Box:
        self.box = box if self.box is None else self.box.union(box)
        return box

    def reserve(self, box: Box) -> Box:
        """Keep ``box`` inside the canvas without drawing in it (a fixed width, say)."""
        return self._grow(box)

    def paste(
        self,
        rgb: np.ndarray,
        left: float,
        top: float,
        size: float,
        frame: str | None = None,
        height: float | None = None,
    ) -> Box:
        """Place a panel as :meth:`Mosaic.paste` draws it (a frame of :data:`FRAME` pixels);
        returns its box (frame included)."""
        f = FRAME / DPI if frame else 0.0
        bottom = top + (size if height is None else height)
        self.panels.append((rgb, left, top, size, frame, height))
        return self._grow(Box(left - f, top - f, left + size + f, bottom + f))

    def text(self, x: float, y: float, s: str, **kw: Any) -> Box:
        """Place a text as :meth:`Mosaic.text` draws it; returns its measured box."""
        kw = {"fontsize": FONT, **kw}
        self.texts.append((x, y, s, kw))
        return self._grow(text_box(x, y, s, **kw))

    def colour_bar(self, left: float, top: float, length: float, cmap: str, label: str) -> None:
        """A vertical bar of ``cmap`` from 1 (top) to 0, ticks 0, 0.5, 1 and a label."""
        ramp = coloured(np.linspace(1, 0, 256)[:, None], cmap, 0, 1)
        self.paste(ramp, left, top, 0.14, height=length)
        for value in (0.0, 0.5, 1.0):
            self.text(left + 0.2, top + (1 - value) * length, f"{value:g}", va="center")
        self.text(left + 0.55, top + length / 2, label, rotation=90, va="center", ha="center")

    def mosaic(self) -> Mosaic:
        """A :class:`Mosaic` of the size of everything placed plus :data:`MARGIN` on every
        side, with everything drawn on it (moved so the bounding box starts at the margin)."""
        if self.box is None:
            raise ValueError("mosaic: nothing placed; place panels or texts before drawing")
        dx, dy = MARGIN - self.box.left, MARGIN - self.box.top
        mosaic = Mosaic(
            np.ceil((self.box.right - self.box.left + 2 * MARGIN) * DPI) / DPI,
            np.ceil((self.box.bottom - self.box.top + 2 * MARGIN) * DPI) / DPI,
        )
        for rgb, left, top, size, frame, height in self.panels:
            mosaic.paste(rgb, left + dx, top + dy, size, frame, height=height)
        for x, y, s, kw in self.texts:
            mosaic.text(x + dx, y + dy, s, **kw)
        return mosaic
