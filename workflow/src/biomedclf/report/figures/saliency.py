"""The saliency figure of a comparison (deterministic PNG).

The test images chosen from the baseline's predictions (:mod:`biomedclf.explain.selection`; a
green frame: the baseline got it right, red: wrong), and below each image every model's map
overlaid (the explained seed's ``maps.npz``), each scaled to its maximum, with the model's
probability of the true class above it and, when the model's call is wrong, the class it
chose. Row labels carry the method and the sanity check (mean rank correlation with the
randomised model's maps; ⚠ when the maps survive randomisation). A ``linear`` model's
first-layer weights follow as images (at most :data:`COLUMNS` units).

A multi-label study's figure (:mod:`biomedclf.explain.multilabel`): each image under the
label it was chosen for (and its other findings; green frame: the baseline detected it, red:
missed it), and above each map the label it explains with the model's probability of it,
``effusion (p 0.91)`` (``absent`` below when the image does not have that finding,
``unlabelled`` when its entry is ignored).

Panels wrap at :data:`COLUMNS` images per band of rows, more when that keeps the figure's
longer side shorter (64 images of 5 models: 3 bands of 22, not 8 of 8; :func:`band_shape`);
panel titles are cut to the width of a panel column, so 2 to 12 classes and long class names
read alike. The figure is a :class:`biomedclf.report.figures.mosaic.Mosaic` (one image under
the texts, a tenth of the time of one matplotlib axes per panel) sized to everything it holds
(:class:`biomedclf.report.figures.mosaic.Sketch`). The error galleries
(:mod:`biomedclf.report.figures.errors`) share the layout constants here. Only numpy and
matplotlib: reads ``maps.npz``, never the data cache.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.explain.files import METHODS, SaliencyMaps, read_maps
from biomedclf.explain.sanity import describe, survives
from biomedclf.report.figures.mosaic import (
    Mosaic,
    Sketch,
    coloured,
    fitted,
    image_rgb,
    nearest,
    text_box,
    wrapped,
)

#: Images per band of panel rows (at least, unless fewer images are shown).
COLUMNS = 8

#: Colour map of the overlaid maps, and the overlay's opacity.
CMAP, ALPHA = "turbo", 0.5

#: Layout in inches: panel side, gap between panels, room for a panel's title above it.
PANEL, GAP, TITLE = 0.95, 0.08, 0.3

#: Font size of panel titles and row labels.
SMALL = 6.5

#: Left edge (inches) of the first panel column; the row labels stand left of it.
LEFT = 1.35

#: Widest line of a panel's title (inches): a panel column less a small gap.
TITLE_WIDTH = PANEL + GAP - 0.06

RIGHT, WRONG = "#1a9850", "#d73027"


def short(name: str, width: int = 13) -> str:
    """A class name cut to ``width`` characters (with an ellipsis)."""
    return name if len(name) <= width else name[: width - 1] + "…"


def title_line(name: str, before: str = "", after: str = "") -> str:
    """``before``, class ``name`` (:func:`short`, then cut further where needed) and
    ``after``, at most :data:`TITLE_WIDTH` wide: the name gives way, never the numbers."""
    room = TITLE_WIDTH - text_box(0, 0, before + after, fontsize=SMALL).right
    return before + fitted(short(name), room, SMALL) + after


def column_x(left: float, column: int) -> float:
    """Left edge (inches) of a panel column."""
    return left + column * (PANEL + GAP)


def band_shape(n: int, rows: int, below: float, least: int) -> tuple[int, int]:
    """Bands and images per band for ``n`` images shown in ``rows`` panel rows a band, with
    ``below`` inches of further panel rows and at least ``least`` panel columns: at least
    :data:`COLUMNS` images a band (all of them when fewer), as many bands as make the
    figure's longer side shortest (fewer when equal)."""
    if n <= COLUMNS:
        return 1, max(1, n)
    shapes = []
    for bands in range(1, math.ceil(n / COLUMNS) + 1):
        columns = max(COLUMNS, math.ceil(n / bands))
        used = math.ceil(n / columns)
        width = column_x(LEFT, max(columns, least)) + 0.9
        height = 0.7 + used * (rows * (PANEL + TITLE) + 0.15) + below
        shapes.append((max(width, height), used, columns))
    _, used, columns = min(shapes)
    return used, columns


def panel(
    sketch: Sketch, rgb: np.ndarray, x: float, top: float, title: str, frame: str | None = None
) -> None:
    """A panel whose title band starts at ``top``: the title (each line cut to the width of a
    panel column), then the image below it."""
    sketch.paste(rgb, x, top + TITLE, PANEL, frame)
    lines = [fitted(line, TITLE_WIDTH, SMALL) for line in title.split("\n")]
    sketch.text(
        x + PANEL / 2,
        top + TITLE - 0.04,
        "\n".join(lines),
        ha="center",
        va="bottom",
        fontsize=SMALL,
    )


def overlay_rgb(image: np.ndarray, saliency: np.ndarray) -> tuple[np.ndarray, bool]:
    """The image with ``saliency`` (scaled to its maximum) blended on top, at a panel's
    pixels (:func:`biomedclf.report.figures.mosaic.nearest`), and whether the map is not
    empty (all zero)."""
    peak = float(saliency.max()) if saliency.size else 0.0
    shown = nearest(saliency, PANEL)
    scaled = shown / peak if peak > 0 else np.zeros_like(shown)
    return (1 - ALPHA) * image_rgb(image, PANEL) + ALPHA * coloured(scaled, CMAP, 0, 1), peak > 0


def _label_title(m: SaliencyMaps, row: int) -> str:
    """``effusion (p 0.91)``: the label a multi-label map explains and the model's probability
    of it, ``absent`` or ``unlabelled`` below when the image's target is not positive."""
    k = int(m.explained[row])
    text = title_line(str(m.class_names[k]), "", f" (p {m.probabilities[row, k]:.2f})")
    target = int(m.labels[row, k])
    return text + ("" if target == 1 else "\n" + ("absent" if target == 0 else "unlabelled"))


def _image_title(m: SaliencyMaps, row: int, chosen: int | None) -> str:
    """Above an image: its true class, or the label it was chosen for and, in a second line,
    its other findings (multi-label)."""
    if not m.multilabel:
        return title_line(str(m.class_names[int(m.labels[row])]))
    names = [str(n) for n in m.class_names]
    head = names[chosen] if chosen is not None else ""
    others = [short(names[k], 9) for k in np.flatnonzero(m.labels[row] == 1) if k != chosen]
    return title_line(head) + ("\n+ " + ", ".join(others) if others else "")


def _map_title(m: SaliencyMaps, row: int) -> str:
    """``p 0.93`` or ``p 0.12 → viral``: probability of the true class, and a wrong call;
    multi-label: :func:`_label_title`."""
    if m.multilabel:
        return _label_title(m, row)
    probs = m.probabilities[row]
    label = int(m.labels[row])
    called = int(predict_classes(probs[None])[0])
    text = f"p {probs[label]:.2f}"
    if called != label:
        text += "\n" + title_line(str(m.class_names[called]), "→ ")
    return text


def _row_label(v: str, role: str, m: SaliencyMaps) -> str:
    """``cnn (baseline)``, the method and the sanity check, left of a model's row."""
    rho = describe(m.spearman)["mean"]
    sanity = "n/a" if rho is None else f"{rho:.2f}" + (" ⚠" if survives(rho) else "")
    return f"{v}\n({role})\n{METHODS.get(m.method, m.method)}\nρ random: {sanity}"


def _rows_of(comp_name: str, maps: dict[str, SaliencyMaps], baseline: str) -> dict[str, list]:
    """Per model, its rows of the baseline's selection (matched by path)."""
    paths = [str(maps[baseline].paths[i]) for i in maps[baseline].rows_for(baseline)]
    out = {}
    for v, m in maps.items():
        index = {str(p): i for i, p in enumerate(m.paths)}
        missing = [p for p in paths if p not in index]
        if missing:
            raise ValueError(
                f"comparisons.{comp_name}: the maps of {v} lack {len(missing)} of the images "
                f"chosen from {baseline}'s predictions (e.g. {missing[0]!r}); rerun its "
                "explain job (snakemake --forcerun explain)"
            )
        out[v] = [index[p] for p in paths]
    return out


def _row_text(sketch: Sketch, top: float, text: str, left: float) -> None:
    """A row's label, right-aligned left of its panels (whose title band starts at ``top``)."""
    sketch.text(left - 0.1, top + TITLE + PANEL / 2, text, ha="right", va="center", fontsize=SMALL)


def _draw_band(
    sketch: Sketch,
    top: float,
    left: float,
    maps: dict[str, SaliencyMaps],
    rows: dict[str, list],
    baseline: str,
) -> float:
    """One band: the images, then each model's maps below them; returns the band's bottom."""
    base = maps[baseline]
    outcomes, chosen = base.outcome_for(baseline), base.label_for(baseline)
    step = PANEL + TITLE
    for j, r in enumerate(rows[baseline]):
        x = column_x(left, j)
        panel(
            sketch,
            image_rgb(base.images[r], PANEL),
            x,
            top,
            _image_title(base, r, chosen.get(r)),
            RIGHT if outcomes.get(r) == "correct" else WRONG,
        )
        for i, (v, m) in enumerate(maps.items(), start=1):
            rgb, filled = overlay_rgb(m.images[rows[v][j]], m.maps[rows[v][j]])
            title = _map_title(m, rows[v][j]) + ("" if filled else " (empty)")
            panel(sketch, rgb, x, top + i * step, title)
    _row_text(sketch, top, "finding\nchosen for" if base.multilabel else "true class", left)
    for i, (v, m) in enumerate(maps.items(), start=1):
        role = "baseline" if v == baseline else "variant"
        _row_text(sketch, top + i * step, _row_label(v, role, m), left)
    return top + (1 + len(maps)) * step


def weight_columns(weights: np.ndarray) -> int:
    """Panels of a model's first-layer weights: one per unit, at most :data:`COLUMNS`."""
    return min(COLUMNS, weights.shape[0])


def _draw_weights(sketch: Sketch, top: float, left: float, v: str, weights: np.ndarray) -> None:
    """A linear model's first-layer weights, one unit per panel (symmetric colour scale)."""
    for j in range(weight_columns(weights)):
        w = weights[j].mean(axis=0)
        limit = float(np.abs(w).max()) or 1.0
        rgb = coloured(nearest(w, PANEL), "RdBu_r", -limit, limit)
        panel(sketch, rgb, column_x(left, j), top, f"unit {j + 1}")
    _row_text(sketch, top, f"{v}\nfirst-layer\nweights\n(red +, blue −)", left)


def _heading(sketch: Sketch, comp_name: str, base: SaliencyMaps, n: int, right: float) -> float:
    """The figure's heading, centred over [0, ``right``] and wrapped to that width; returns
    its bottom."""
    text = (
        f"Comparison {comp_name}: saliency maps (seed {base.seed}) on {n} test "
        f"images chosen from {base.variant}'s predictions:\n"
    )
    if base.multilabel:
        text += (
            "per label its most confident detected (green frame) and missed (red) findings. "
            f"Each map explains one label ({base.target}): above it the label and the "
            "model's probability of it"
        )
    else:
        text += (
            "per class its most confident correct (green frame) and wrong (red) calls. Above "
            "each map: the model's probability of the true class (→ its call when wrong)"
        )
    box = sketch.text(right / 2, 0.12, wrapped(text, right, 8), ha="center", va="top", fontsize=8)
    return box.bottom


def saliency_mosaic(comp_name: str, members: list[str], maps: dict[str, SaliencyMaps]) -> Mosaic:
    """The saliency figure (module docstring) as a mosaic sized to what it shows;
    ``members[0]`` is the baseline."""
    maps = {v: maps[v] for v in members}
    baseline = members[0]
    rows = _rows_of(comp_name, maps, baseline)
    n = len(rows[baseline])
    linear = [v for v in members if maps[v].first_layer_weights.shape[0]]
    weights = max([0] + [weight_columns(maps[v].first_layer_weights) for v in linear])
    left, step = LEFT, PANEL + TITLE
    bands, columns = band_shape(n, 1 + len(members), len(linear) * step, weights)
    widest = max(columns, weights)
    sketch = Sketch()
    bottom = _heading(sketch, comp_name, maps[baseline], n, column_x(left, widest) + 0.9)
    top = first = max(0.7, bottom + 0.3)
    for b in range(bands):
        band = {v: r[b * columns : (b + 1) * columns] for v, r in rows.items()}
        top = _draw_band(sketch, top, left, maps, band, baseline) + 0.15
    for v in linear:
        _draw_weights(sketch, top, left, v, maps[v].first_layer_weights)
        top += step
    bar = min(3.0, len(members) * step - TITLE)
    sketch.colour_bar(
        column_x(left, widest) + 0.05, first + TITLE + step, bar, CMAP, "map / its maximum"
    )
    return sketch.mosaic()


def plot_saliency(
    comp_name: str, members: list[str], maps: dict[str, SaliencyMaps], path: Path
) -> Path:
    """The saliency figure (module docstring) at ``path``; ``members[0]`` is the baseline."""
    return saliency_mosaic(comp_name, members, maps).save(path)


def plot_explanations(comp_name: str, comparison: dict, maps: dict[str, Path], path: Path) -> Path:
    """The saliency figure of comparison ``comp_name`` (its config entry) at ``path``;
    ``maps`` holds each member's ``maps.npz`` of the explained seed."""
    members = [comparison["baseline"], *comparison["variants"]]
    lacking = [v for v in members if v not in maps]
    if lacking:
        raise ValueError(f"comparisons.{comp_name}: no maps.npz given for {lacking}")
    return plot_saliency(comp_name, members, {v: read_maps(maps[v]) for v in members}, path)
