"""The saliency figure of a comparison, ``figures/saliency_{comp}.png`` (deterministic PNG).

The test images chosen from the baseline's predictions (:mod:`biomedclf.explain.selection`; a
green frame: the baseline got it right, red: wrong), and below each image every model's map
overlaid (the explained seed's ``maps.npz``), each scaled to its maximum, with the model's
probability of the true class above it and, when the model's call is wrong, the class it
chose. Row labels carry the method and the sanity check (mean rank correlation with the
randomised model's maps; ⚠ when the maps survive randomisation). A ``linear`` model's
first-layer weights follow as images.

Panels wrap at :data:`COLUMNS` per row and class names are shortened, so 2 to 12 classes read
alike. The figure is a :class:`biomedclf.report.figures.mosaic.Mosaic` (one image under the texts,
a tenth of the time of one matplotlib axes per panel). The error galleries
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
from biomedclf.report.figures.mosaic import Mosaic, coloured, image_rgb
from biomedclf.report.figures.style import save

#: Images per row of panels.
COLUMNS = 8

#: Colour map of the overlaid maps, and the overlay's opacity.
CMAP, ALPHA = "turbo", 0.5

#: Layout in inches: panel side, gap between panels, room for a panel's title above it.
PANEL, GAP, TITLE = 0.95, 0.08, 0.3

RIGHT, WRONG = "#1a9850", "#d73027"


def short(name: str, width: int = 13) -> str:
    """A class name cut to ``width`` characters (with an ellipsis)."""
    return name if len(name) <= width else name[: width - 1] + "…"


def column_x(left: float, column: int) -> float:
    """Left edge (inches) of a panel column."""
    return left + column * (PANEL + GAP)


def panel(
    mosaic: Mosaic, rgb: np.ndarray, x: float, top: float, title: str, frame: str | None = None
) -> None:
    """A panel whose title band starts at ``top``: the title, then the image below it."""
    mosaic.paste(rgb, x, top + TITLE, PANEL, frame)
    mosaic.text(x + PANEL / 2, top + TITLE - 0.04, title, ha="center", va="bottom", fontsize=6.5)


def overlay_rgb(image: np.ndarray, saliency: np.ndarray) -> tuple[np.ndarray, bool]:
    """The image with ``saliency`` (scaled to its maximum) blended on top, and whether the
    map is not empty (all zero)."""
    peak = float(saliency.max()) if saliency.size else 0.0
    scaled = saliency / peak if peak > 0 else np.zeros_like(saliency)
    return (1 - ALPHA) * image_rgb(image) + ALPHA * coloured(scaled, CMAP, 0, 1), peak > 0


def _map_title(m: SaliencyMaps, row: int) -> str:
    """``p 0.93`` or ``p 0.12 → viral``: probability of the true class, and a wrong call."""
    probs = m.probabilities[row]
    label = int(m.labels[row])
    called = int(predict_classes(probs[None])[0])
    text = f"p {probs[label]:.2f}"
    if called != label:
        text += f"\n→ {short(str(m.class_names[called]))}"
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


def _row_text(mosaic: Mosaic, top: float, text: str, left: float) -> None:
    mosaic.text(left - 0.1, top + TITLE + PANEL / 2, text, ha="right", va="center", fontsize=6.5)


def _draw_band(
    mosaic: Mosaic,
    top: float,
    left: float,
    maps: dict[str, SaliencyMaps],
    rows: dict[str, list],
    baseline: str,
) -> float:
    """One band: the images, then each model's maps below them; returns the band's bottom."""
    base = maps[baseline]
    outcomes = base.outcome_for(baseline)
    step = PANEL + TITLE
    for j, r in enumerate(rows[baseline]):
        x = column_x(left, j)
        panel(
            mosaic,
            image_rgb(base.images[r]),
            x,
            top,
            short(str(base.class_names[int(base.labels[r])])),
            RIGHT if outcomes.get(r) == "correct" else WRONG,
        )
        for i, (v, m) in enumerate(maps.items(), start=1):
            rgb, filled = overlay_rgb(m.images[rows[v][j]], m.maps[rows[v][j]])
            title = _map_title(m, rows[v][j]) + ("" if filled else " (empty)")
            panel(mosaic, rgb, x, top + i * step, title)
    _row_text(mosaic, top, "true class", left)
    for i, (v, m) in enumerate(maps.items(), start=1):
        role = "baseline" if v == baseline else "variant"
        _row_text(mosaic, top + i * step, _row_label(v, role, m), left)
    return top + (1 + len(maps)) * step


def _draw_weights(mosaic: Mosaic, top: float, left: float, v: str, weights: np.ndarray) -> None:
    """A linear model's first-layer weights, one unit per panel (symmetric colour scale)."""
    for j in range(min(COLUMNS, weights.shape[0])):
        w = weights[j].mean(axis=0)
        limit = float(np.abs(w).max()) or 1.0
        panel(mosaic, coloured(w, "RdBu_r", -limit, limit), column_x(left, j), top, f"unit {j + 1}")
    _row_text(mosaic, top, f"{v}\nfirst-layer\nweights\n(red +, blue −)", left)


def plot_saliency(
    comp_name: str, members: list[str], maps: dict[str, SaliencyMaps], path: Path
) -> Path:
    """``figures/saliency_{comp}.png`` (module docstring); ``members[0]`` is the baseline."""
    maps = {v: maps[v] for v in members}
    baseline = members[0]
    rows = _rows_of(comp_name, maps, baseline)
    n = len(rows[baseline])
    columns = max(1, min(COLUMNS, n))
    bands = max(1, math.ceil(n / columns))
    linear = [v for v in members if maps[v].first_layer_weights.shape[0]]
    left, step = 1.35, PANEL + TITLE
    height = 0.7 + bands * ((1 + len(members)) * step + 0.15) + len(linear) * step + 0.1
    mosaic = Mosaic(column_x(left, columns) + 0.9, height)
    top = 0.7
    for b in range(bands):
        band = {v: r[b * columns : (b + 1) * columns] for v, r in rows.items()}
        top = _draw_band(mosaic, top, left, maps, band, baseline) + 0.15
    for v in linear:
        _draw_weights(mosaic, top, left, v, maps[v].first_layer_weights)
        top += step
    mosaic.colour_bar(
        column_x(left, columns) + 0.05,
        0.7 + TITLE + step,
        min(3.0, height / 3),
        CMAP,
        "map / its maximum",
    )
    mosaic.text(
        mosaic.width / 2,
        0.12,
        (
            f"Comparison {comp_name}: saliency maps (seed {maps[baseline].seed}) on {n} test images "
            f"chosen from {baseline}'s predictions:\nper class its most confident correct (green "
            "frame) and wrong (red) calls. Above each map: the model's probability of the true "
            "class (→ its call when wrong)"
        ),
        ha="center",
        va="top",
        fontsize=8,
    )
    return save(mosaic.figure(), path)


def plot_explanations(comp_name: str, comparison: dict, maps: dict[str, Path], path: Path) -> Path:
    """``figures/saliency_{comp}.png`` of comparison ``comp_name`` (its config entry);
    ``maps`` holds each member's ``maps.npz`` of the explained seed."""
    members = [comparison["baseline"], *comparison["variants"]]
    lacking = [v for v in members if v not in maps]
    if lacking:
        raise ValueError(f"comparisons.{comp_name}: no maps.npz given for {lacking}")
    return plot_saliency(comp_name, members, {v: read_maps(maps[v]) for v in members}, path)
