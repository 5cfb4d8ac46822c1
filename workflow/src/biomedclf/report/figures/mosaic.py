"""Figures of many small images, drawn as one picture: the saliency figures' canvas.

A figure with a hundred image panels built from matplotlib axes takes about a second to lay
out and draw (each axes carries ticks, spines and a transform tree). A :class:`Mosaic`
instead pastes every panel into one RGB array at the figure's resolution (nearest-neighbour
scaling, so each image pixel stays a sharp square), draws coloured frames into it, and shows
it with a single ``figimage`` under the texts: the same look at a tenth of the time. Positions
are in inches from the figure's top-left corner. Saved by :func:`biomedclf.report.figures.style.save`
(Agg, no ``Software`` chunk: deterministic bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biomedclf.report.figures.style import DPI, STYLE


def image_rgb(image: np.ndarray) -> np.ndarray:
    """A uint8 C x H x W image as H x W x 3 floats in [0, 1] (grey for one channel)."""
    if image.shape[0] == 3:
        return np.transpose(image, (1, 2, 0)) / 255.0
    return np.repeat(np.transpose(image[:1], (1, 2, 0)) / 255.0, 3, axis=2)


def coloured(values: np.ndarray, cmap: str, low: float, high: float) -> np.ndarray:
    """``values`` (H x W) through colour map ``cmap`` on [low, high], as H x W x 3."""
    from matplotlib import colormaps

    span = (high - low) or 1.0
    return colormaps[cmap](np.clip((values - low) / span, 0, 1))[..., :3]


@dataclass
class Mosaic:
    """A ``width`` x ``height`` inch figure drawn as one RGB array plus texts."""

    width: float
    height: float
    pixels: np.ndarray = field(init=False)
    texts: list[tuple[float, float, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pixels = np.ones((round(self.height * DPI), round(self.width * DPI), 3))

    def _px(self, inches: float) -> int:
        return int(round(inches * DPI))

    def paste(
        self,
        rgb: np.ndarray,
        left: float,
        top: float,
        size: float,
        frame: str | None = None,
        frame_px: int = 3,
    ) -> None:
        """``rgb`` (h x w x 3) scaled to a ``size``-inch square at (``left``, ``top``), with a
        frame of colour ``frame`` drawn just outside it."""
        from matplotlib.colors import to_rgb

        n, x, y = self._px(size), self._px(left), self._px(top)
        rows = np.arange(n) * rgb.shape[0] // n
        cols = np.arange(n) * rgb.shape[1] // n
        if frame:
            f = frame_px
            self.pixels[max(y - f, 0) : y + n + f, max(x - f, 0) : x + n + f] = to_rgb(frame)
        self.pixels[y : y + n, x : x + n] = np.clip(rgb[rows][:, cols], 0, 1)

    def text(self, x: float, y: float, s: str, **kw: Any) -> None:
        """Text at (``x``, ``y``) inches; keywords as ``Axes.text`` (default size 7)."""
        self.texts.append((x, y, s, {"fontsize": 7, **kw}))

    def colour_bar(self, left: float, top: float, length: float, cmap: str, label: str) -> None:
        """A vertical bar of ``cmap`` from 1 (top) to 0, ticks 0, 0.5, 1 and a label."""
        ramp = np.linspace(1, 0, 256)[:, None] * np.ones((1, 8))
        n, x, y = self._px(length), self._px(left), self._px(top)
        w = self._px(0.14)
        rows = np.arange(n) * 256 // n
        self.pixels[y : y + n, x : x + w] = coloured(ramp, cmap, 0, 1)[rows][:, :1].repeat(w, 1)
        for value in (0.0, 0.5, 1.0):
            self.text(left + 0.2, top + (1 - value) * length, f"{value:g}", va="center")
        self.text(left + 0.55, top + length / 2, label, rotation=90, va="center", ha="center")

    def figure(self) -> Any:
        """The matplotlib figure (Agg canvas): the array, placed pixel for pixel
        (``figimage``: no resampling), under the texts."""
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        height, width = self.pixels.shape[:2]
        with matplotlib.rc_context(STYLE):
            fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
            FigureCanvasAgg(fig)
            fig.figimage(np.round(self.pixels * 255).astype(np.uint8), origin="upper")
            for x, y, s, kw in self.texts:
                fig.text(x * DPI / width, 1 - y * DPI / height, s, **kw)
        return fig
