"""The error gallery of a comparison, the test images each of its models gets wrong, and
:func:`plot_explain_figures`, which draws every comparison's saliency figure and gallery (the
``explain_figures`` rule).

Per model (baseline first), the images its seed ensemble (the probabilities of its
``predictions.csv`` averaged over seeds) calls wrong, most confident first, at most
:data:`biomedclf.explain.selection.GALLERY_MAX`; under each its true class and the class it was
mistaken for with the ensemble's probability; the heading gives the number of errors and the
most frequent confusions. The explain job stored them with their images (``errors.npz``,
:class:`biomedclf.explain.files.ErrorImages`), so drawing needs neither the data cache nor
torch. Drawn with the helpers of :mod:`biomedclf.report.figures.saliency`, on a canvas
sized to what it shows (:class:`biomedclf.report.figures.mosaic.Sketch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from biomedclf.explain.files import ErrorImages, read_errors
from biomedclf.report.figures.mosaic import MARGIN, Box, Mosaic, Sketch, image_rgb
from biomedclf.report.figures.saliency import (
    COLUMNS,
    PANEL,
    TITLE,
    WRONG,
    column_x,
    panel,
    plot_explanations,
    short,
    title_line,
)
from biomedclf.report.figures.style import grid_shape
from biomedclf.report.rendering import plural

#: Inches above each model's panels for its heading, and left of them.
HEADING, LEFT = 0.5, 0.3


def gallery_heading(err: ErrorImages, role: str) -> str:
    """``cnn (baseline): 37 of 150 test images wrong ...`` and the most frequent confusions."""
    shown = err.paths.shape[0]
    text = (
        f"{err.variant} ({role}): {err.n_errors} of {err.n_test} test images wrong "
        f"(seed ensemble of {plural(err.seeds.shape[0], 'seed')})"
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
    """Rows of thumbnails of one model (at least one)."""
    return grid_shape(err.paths.shape[0], COLUMNS)[0]


def _draw_model(sketch: Sketch, top: float, err: ErrorImages, role: str, centre: float) -> float:
    """One model's heading (centred on ``centre``) and thumbnails from ``top`` (inches);
    returns where it ends."""
    heading = sketch.text(
        centre, top + 0.05, gallery_heading(err, role), ha="center", va="top", fontsize=8
    )
    top = max(top + HEADING, heading.bottom + 0.15)
    names = [str(c) for c in err.class_names]
    for k in range(err.paths.shape[0]):
        true, called = names[int(err.labels[k])], names[int(err.predicted[k])]
        panel(
            sketch,
            image_rgb(err.images[k], PANEL),
            column_x(LEFT, k % COLUMNS),
            top + (k // COLUMNS) * (PANEL + TITLE),
            f"{title_line(true)}\n{title_line(called, '→ ', f' {err.confidence[k]:.2f}')}",
            WRONG,
        )
    if not err.paths.shape[0]:
        sketch.text(centre, top + 0.4, "no test image wrong", ha="center", fontsize=8)
    return top + _rows(err) * (PANEL + TITLE) + 0.1


def errors_mosaic(comp_name: str, errors: list[ErrorImages]) -> Mosaic:
    """The error gallery of one comparison as a mosaic sized to what it shows; ``errors[0]``
    is the baseline's."""
    sketch = Sketch()
    width = column_x(LEFT, COLUMNS) + 0.2
    sketch.reserve(Box(MARGIN, 0.0, width - MARGIN, 0.0))  # as wide as COLUMNS thumbnails
    centre = width / 2
    title = sketch.text(
        centre,
        0.12,
        f"Comparison {comp_name}: error gallery (true class, "
        "then → the class predicted, with its probability)",
        ha="center",
        va="top",
        fontsize=9,
    )
    top = max(0.45, title.bottom + 0.15)
    for i, err in enumerate(errors):
        top = _draw_model(sketch, top, err, "baseline" if i == 0 else "variant", centre)
    return sketch.mosaic()


def plot_errors(comp_name: str, errors: list[ErrorImages], path: Path) -> Path:
    """The error gallery of one comparison at ``path``; ``errors[0]`` is the baseline's."""
    return errors_mosaic(comp_name, errors).save(path)


def plot_explain_figures(
    comparisons: dict[str, dict],
    maps: Mapping[str, Path | str],
    errors: Mapping[str, Path | str],
    figures: Mapping[tuple[str, str], Path | str],
) -> list[Path]:
    """Draw the saliency figure and the error gallery of every comparison (each entry holds
    its ``baseline`` and ``variants``), in the order of ``comparisons``; returns the paths.

    ``maps`` and ``errors`` hold each member's ``maps.npz`` and ``errors.npz`` of the
    explained seed; ``figures`` maps (comparison, ``saliency`` | ``errors``) to the PNG file.
    """
    wanted = {(c, kind) for c in comparisons for kind in ("saliency", "errors")}
    if set(figures) != wanted:
        raise ValueError(
            f"explain figures: the rule names {sorted(figures)}, this step draws "
            f"{sorted(wanted)}; name a saliency and an errors figure per comparison"
        )
    written = []
    for name, comp in comparisons.items():
        members = [comp["baseline"], *comp["variants"]]
        lacking = [v for v in members if v not in errors]
        if lacking:
            raise ValueError(f"comparisons.{name}: no errors.npz given for {lacking}")
        written.append(plot_explanations(name, comp, dict(maps), Path(figures[(name, "saliency")])))
        gallery = [read_errors(errors[v]) for v in members]
        written.append(plot_errors(name, gallery, Path(figures[(name, "errors")])))
    return written
