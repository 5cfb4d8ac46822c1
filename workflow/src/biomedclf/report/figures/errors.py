"""``figures/errors_{comp}.png``, the test images each model of a comparison gets wrong, and
:func:`plot_explain_figures`, which draws every comparison's saliency figure and gallery.

Per model (baseline first), the images its seed ensemble (the probabilities of its
``predictions.csv`` averaged over seeds) calls wrong, most confident first, at most
:data:`biomedclf.explain.selection.GALLERY_MAX`; under each its true class and the class it was
mistaken for with the ensemble's probability; the heading gives the number of errors and the
most frequent confusions. The explain job stored them with their images (``errors.npz``,
:class:`biomedclf.explain.files.ErrorImages`), so drawing needs neither the data cache nor
torch. Drawn with the helpers of :mod:`biomedclf.report.figures.saliency`.
"""

from __future__ import annotations

import math
from pathlib import Path

from biomedclf.explain.files import ErrorImages, read_errors
from biomedclf.report.figures.mosaic import Mosaic, image_rgb
from biomedclf.report.figures.saliency import (
    COLUMNS,
    PANEL,
    TITLE,
    WRONG,
    column_x,
    panel,
    plot_explanations,
    short,
)
from biomedclf.report.figures.style import save, seeds_text

#: Inches above each model's panels for its heading, and left of them.
HEADING, LEFT = 0.5, 0.3


def gallery_heading(err: ErrorImages, role: str) -> str:
    """``cnn (baseline): 37 of 150 test images wrong ...`` and the most frequent confusions."""
    shown = err.paths.shape[0]
    text = (
        f"{err.variant} ({role}): {err.n_errors} of {err.n_test} test images wrong "
        f"(seed ensemble of {seeds_text(err.seeds.shape[0])})"
    )
    if shown < err.n_errors:
        text += f"; the {shown} most confident shown"
    names = [str(c) for c in err.class_names]
    top = [(int(t), int(p), int(n)) for t, p, n in err.confusions[:3]]
    if top:
        text += "\nmost frequent: " + ", ".join(
            f"{short(names[t])} → {short(names[p])} ×{n}" for t, p, n in top
        )
    return text


def _rows(err: ErrorImages) -> int:
    return max(1, math.ceil(err.paths.shape[0] / COLUMNS))


def _draw_model(mosaic: Mosaic, top: float, err: ErrorImages, role: str) -> float:
    """One model's heading and thumbnails from ``top`` (inches); returns where it ends."""
    mosaic.text(
        mosaic.width / 2, top + 0.05, gallery_heading(err, role), ha="center", va="top", fontsize=8
    )
    top += HEADING
    names = [str(c) for c in err.class_names]
    for k in range(err.paths.shape[0]):
        true, called = names[int(err.labels[k])], names[int(err.predicted[k])]
        panel(
            mosaic,
            image_rgb(err.images[k]),
            column_x(LEFT, k % COLUMNS),
            top + (k // COLUMNS) * (PANEL + TITLE),
            f"{short(true)}\n→ {short(called)} {err.confidence[k]:.2f}",
            WRONG,
        )
    if not err.paths.shape[0]:
        mosaic.text(mosaic.width / 2, top + 0.4, "no test image wrong", ha="center", fontsize=8)
    return top + _rows(err) * (PANEL + TITLE) + 0.1


def plot_errors(comp_name: str, errors: list[ErrorImages], path: Path) -> Path:
    """The error gallery of one comparison; ``errors[0]`` is the baseline's."""
    height = 0.45 + sum(HEADING + _rows(e) * (PANEL + TITLE) + 0.1 for e in errors) + 0.1
    mosaic = Mosaic(column_x(LEFT, COLUMNS) + 0.2, height)
    top = 0.45
    for i, err in enumerate(errors):
        top = _draw_model(mosaic, top, err, "baseline" if i == 0 else "variant")
    mosaic.text(
        mosaic.width / 2,
        0.12,
        f"Comparison {comp_name}: error gallery (true class, "
        "then → the class predicted, with its probability)",
        ha="center",
        va="top",
        fontsize=9,
    )
    return save(mosaic.figure(), path)


def plot_explain_figures(
    comparisons: dict[str, dict], maps: dict[str, Path], errors: dict[str, Path], out_dir: Path
) -> list[Path]:
    """``{out_dir}/saliency_{comp}.png`` and ``errors_{comp}.png`` of every comparison (the
    config's entries, sorted by name): ``maps`` and ``errors`` hold each member's
    ``maps.npz`` and ``errors.npz`` of the explained seed."""
    out_dir = Path(out_dir)
    written = []
    for name in sorted(comparisons):
        comp = comparisons[name]
        members = [comp["baseline"], *comp["variants"]]
        lacking = [v for v in members if v not in errors]
        if lacking:
            raise ValueError(f"comparisons.{name}: no errors.npz given for {lacking}")
        written.append(plot_explanations(name, comp, maps, out_dir / f"saliency_{name}.png"))
        written.append(
            plot_errors(
                name, [read_errors(errors[v]) for v in members], out_dir / f"errors_{name}.png"
            )
        )
    return written
