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

A multi-label study's gallery (:func:`biomedclf.explain.multilabel.multilabel_errors`): the
images with the most wrong calls first, each under its wrong labels, ``− effusion 0.12`` for
a finding missed and ``+ nodule 0.81`` for one called that is absent, with the ensemble's
probability (the two largest gaps; ``and 2 more`` when there are more); the heading gives the
labels most often wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from biomedclf.explain.files import ErrorImages, read_errors
from biomedclf.report.figures.mosaic import MARGIN, Box, Mosaic, Sketch, image_rgb, wrapped
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


def _multilabel_confusions(names: list[str], confusions: np.ndarray) -> str:
    """``effusion missed ×5, nodule absent but called ×3``: the labels most often wrong."""
    kinds = {1: "missed", 0: "absent but called"}
    return ", ".join(f"{short(names[k])} {kinds[int(t)]} ×{n}" for k, t, n in confusions[:3])


def gallery_heading(err: ErrorImages, role: str) -> str:
    """``cnn (baseline): 37 of 150 test images wrong ...`` and the most frequent confusions."""
    shown = err.paths.shape[0]
    wrong = "with a wrong call" if err.multilabel else "wrong"
    text = (
        f"{err.variant} ({role}): {err.n_errors} of {err.n_test} test images {wrong} "
        f"(seed ensemble of {plural(err.seeds.shape[0], 'seed')})"
    )
    if shown < err.n_errors:
        text += f"; the {shown} most {'wrong' if err.multilabel else 'confident'} shown"
    names = [str(c) for c in err.class_names]
    if err.multilabel:
        top_labels = _multilabel_confusions(names, err.confusions)
        return text + ("\nmost often wrong: " + top_labels if top_labels else "")
    top = [(int(t), int(p), int(n)) for t, p, n in err.confusions[:3]]
    if top:
        text += "\nmost frequent: " + ", ".join(
            f"{short(names[t])} → {short(names[p])} ×{n}" for t, p, n in top
        )
    return text


def _rows(err: ErrorImages) -> int:
    """Rows of thumbnails of one model (at least one)."""
    return grid_shape(err.paths.shape[0], COLUMNS)[0]


def _wrong_labels(err: ErrorImages, k: int) -> str:
    """A multi-label thumbnail's title: its wrong labels, the largest gap first (at most
    two lines)."""
    y, calls, p = err.labels[k], err.predicted[k], err.confidence[k]
    wrong = np.flatnonzero((y >= 0) & (calls != y)).tolist()
    wrong.sort(key=lambda j: (-abs(p[j] - y[j]), j))
    names = [str(c) for c in err.class_names]
    lines = [title_line(names[j], "− " if y[j] == 1 else "+ ", f" {p[j]:.2f}") for j in wrong[:2]]
    if len(wrong) > 2:
        lines[1] = f"and {len(wrong) - 1} more"
    return "\n".join(lines)


def _title(err: ErrorImages, k: int) -> str:
    """A thumbnail's title: true class, then → the class predicted with its probability."""
    if err.multilabel:
        return _wrong_labels(err, k)
    names = [str(c) for c in err.class_names]
    true, called = names[int(err.labels[k])], names[int(err.predicted[k])]
    return f"{title_line(true)}\n{title_line(called, '→ ', f' {err.confidence[k]:.2f}')}"


def _draw_model(sketch: Sketch, top: float, err: ErrorImages, role: str, centre: float) -> float:
    """One model's heading (centred on ``centre``) and thumbnails from ``top`` (inches);
    returns where it ends."""
    heading = sketch.text(
        centre, top + 0.05, gallery_heading(err, role), ha="center", va="top", fontsize=8
    )
    top = max(top + HEADING, heading.bottom + 0.15)
    for k in range(err.paths.shape[0]):
        panel(
            sketch,
            image_rgb(err.images[k], PANEL),
            column_x(LEFT, k % COLUMNS),
            top + (k // COLUMNS) * (PANEL + TITLE),
            _title(err, k),
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
    explained = (
        "the labels called wrong: − a finding missed, + one called that is absent, with "
        "the probability"
        if errors and errors[0].multilabel
        else "true class, then → the class predicted, with its probability"
    )
    title = sketch.text(
        centre,
        0.12,
        wrapped(f"Comparison {comp_name}: error gallery ({explained})", width, 9),
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
