"""Every table and figure for the shapes a config allows, on generated run files.

The study pipeline after training (statistics, the study's and each comparison's tables and
figures, the saliency figures and error galleries, the cross-validation report, summary.md) runs
on a covering set of generated studies (:data:`CASES`, built by ``figure_matrix_fixtures``):
each value of each dimension at least once (image size 28, 64, 256 and a padded non-square
source; 1 and 3 channels; 2, 4 and 11 classes; ``linear`` with 32 and 512 first-layer units,
``conv``, ``conv_gap``, ``resnet18``; with and without folds; 1 and 5 seeds;
``explain.n_images`` 2, 16 and 64; 30-character names; a comparison of 4 variants), and the
risky combination (256 px, ``linear`` with 32 units, 64 images, long names, 11 classes)
explicitly. Every PNG stays within :data:`MAX_SIDE` pixels a side; no text of a figure leaves
it; the titles, axis labels and tick labels of different axes do not overlap; a mosaic's texts
overlap neither its panels nor each other. Hypothesis draws further saliency and gallery
shapes in memory. Run with ``-s`` to see each figure's size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aggregate_fixtures import figure_outputs, study_stats, summary_links, table_outputs
from figure_matrix_fixtures import Case, Model, build_runs, write_explain

from biomedclf import layout
from biomedclf.crossval.across_folds import write_study_crossval
from biomedclf.report.crossval import write_crossval_report
from biomedclf.report.figures import style
from biomedclf.report.figures.errors import plot_explain_figures
from biomedclf.report.figures.mosaic import Mosaic
from biomedclf.report.figures.plots import plot_comparison, plot_study
from biomedclf.report.summary.document import write_summary
from biomedclf.report.tables.architecture import write_architecture_table
from biomedclf.report.tables.write import write_comparison_tables, write_study_tables

#: The largest side of any PNG of the matrix, in pixels.
MAX_SIDE = 4000

#: Overlap (pixels, each direction) below which two boxes count as touching, not overlapping.
TOLERANCE = 1.0

LIN32, LIN512 = Model("linear", 32), Model("linear", 512)
CONV, GAP, RESNET = Model("conv"), Model("conv_gap"), Model("resnet18")

CASES = [
    Case(
        "256px-linear32-64images-long-names-11-classes-4-variants",
        models=(LIN32, CONV, GAP, RESNET, LIN32),
        comparisons=((0, 1, 2, 3, 4),),
        image_size=256,
        n_classes=11,
        n_images=64,
        long_names=True,
        n_test=132,
    ),
    Case(
        "28px-linear512-2images-5-seeds",
        models=(LIN512, LIN32, CONV),
        comparisons=((0, 2), (1, 2)),
        image_size=28,
        seeds=5,
        n_images=2,
        n_test=40,
    ),
    Case(
        "padded-rgb-4-classes-3-folds-5-seeds",
        models=(GAP, CONV, RESNET),
        comparisons=((0, 1), (0, 2)),
        image_size=64,
        padded=True,
        channels=3,
        n_classes=4,
        folds=3,
        seeds=5,
    ),
    Case(
        "64px-rgb-11-classes-folds-64images-long-names",
        models=(LIN32, CONV, RESNET),
        comparisons=((1, 0, 2),),
        image_size=64,
        channels=3,
        n_classes=11,
        folds=3,
        n_images=64,
        long_names=True,
        n_test=132,
    ),
]


# --------------------------------------------------------------------------------------------
# Drawing a study, with every figure captured as it is saved
# --------------------------------------------------------------------------------------------


@dataclass
class Drawn:
    """A drawn study: its folder, each PNG's figure and each mosaic (by PNG path)."""

    case: Case
    root: Path
    study: dict[str, Any]
    figures: dict[Path, Any]
    mosaics: dict[Path, Mosaic]


@contextmanager
def capturing(figures: dict[Path, Any], mosaics: dict[Path, Mosaic]) -> Iterator[None]:
    """Record every figure saved through ``style.figure_file`` (in whichever report module
    imported it) and every mosaic saved, by PNG path."""
    import sys

    original, save = style.figure_file, Mosaic.save

    @contextmanager
    def recorded(path: Path | str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with original(path, *args, **kwargs) as drawn:
            yield drawn
        fig = drawn[0]
        fig.set_dpi(style.DPI)  # lay out again as saved (legends keep pixel positions)
        fig.draw_without_rendering()
        figures[Path(path)] = fig

    def saved(self: Mosaic, path: Path) -> Path:
        mosaics[Path(path)] = self
        return save(self, path)

    modules = [
        m
        for name, m in list(sys.modules.items())
        if name.startswith("biomedclf.report") and getattr(m, "figure_file", None) is original
    ]
    with pytest.MonkeyPatch.context() as mp:
        for module in modules:
            mp.setattr(module, "figure_file", recorded)
        mp.setattr(Mosaic, "save", saved)
        yield


def _crossval_report(root: Path, runs: list, study: dict[str, Any], folds: int) -> Path:
    """stats/crossval.json and the cross-validation tables and figures; returns the former."""
    comps = study["comparisons"]
    path = layout.stats_file(root, "crossval")
    files = {
        (r.variant, r.seed): layout.crossval_files(root, r.variant, r.seed)["crossval"]
        for r in runs
    }
    write_study_crossval(path, files, comps, primary="accuracy", confidence=0.95)
    histories = {
        (v, f): layout.train_files(root, v, 0, f)["history"]
        for v in study["variants"]
        for f in range(folds)
    }
    outputs = {
        **table_outputs(root, layout.CROSSVAL_TABLES),
        **figure_outputs(root, layout.CROSSVAL_FIGURES),
    }
    write_crossval_report(path, histories, comps, 0.95, outputs)
    return path


def draw_study(root: Path, case: Case) -> dict[str, Any]:
    """Every step after training, as the rules call them, on the generated study of
    ``case``: statistics, tables, figures, saliency figures, cross-validation, summary."""
    runs, study = build_runs(root, case)
    comps = study["comparisons"]
    stats = layout.stats_file(root)
    study_stats(runs, comps, stats, "out-of-fold" if case.folds else "test", n_bootstrap=100)
    tables = table_outputs(root, layout.STUDY_TABLES)
    architecture = tables.pop("architecture")
    write_study_tables(runs, stats, tables)
    write_architecture_table(
        study["variants"], case.channels, case.image_size, case.n_classes, architecture
    )
    plot_study(runs, stats, figure_outputs(root, layout.STUDY_FIGURES))
    for name, comp in comps.items():
        outputs = table_outputs(root, layout.COMPARISON_TABLES, name)
        write_comparison_tables(name, comp, runs, stats, outputs)
        plot_comparison(
            name, comp, runs, stats, figure_outputs(root, ("curves", "roc", "confusion"), name)
        )
    explained = layout.study_runs(root, list(study["variants"]), study["seeds"], bool(case.folds))
    maps, errors, sanity = write_explain(root, explained, case)
    pictures = {
        (c, k): layout.figure_file(root, k, c) for c in comps for k in ("saliency", "errors")
    }
    plot_explain_figures(comps, maps, errors, pictures)
    crossval = _crossval_report(root, runs, study, case.folds) if case.folds else None
    links = summary_links(root, comps, list(sanity), folds=bool(case.folds))
    data = layout.data_file(root, "summary")
    write_summary(study, runs, stats, data, sanity, crossval, links, layout.summary_file(root))
    return study


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def drawn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Drawn:
    case = request.param
    root = tmp_path_factory.mktemp("study")
    figures: dict[Path, Any] = {}
    mosaics: dict[Path, Mosaic] = {}
    with capturing(figures, mosaics):
        study = draw_study(root, case)
    return Drawn(case, root, study, figures, mosaics)


# --------------------------------------------------------------------------------------------
# What a figure must satisfy
# --------------------------------------------------------------------------------------------


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


def figure_texts(fig: Any) -> list[Any]:
    """Every text a figure draws: axes texts, annotations, legends, figure texts."""
    texts = [t for group in axes_texts(fig) for t in group] + list(fig.texts)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_visible())]
    for legend in legends:
        if legend is not None and legend.get_visible():
            texts += [*legend.get_texts(), legend.get_title()]
    texts += [t for ax in fig.axes if ax.get_visible() for t in ax.texts]
    return [t for t in texts if _shown(t)]


def _boxes(texts: list[Any], renderer: Any) -> np.ndarray:
    """(n, 4) display boxes (x0, y0, x1, y1) of ``texts``."""
    boxes = [t.get_window_extent(renderer).extents for t in texts]
    return np.array(boxes, dtype=float).reshape(-1, 4)


def overlapping(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len a, len b) whether box i of ``a`` and box j of ``b`` overlap by more than
    :data:`TOLERANCE` in both directions."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return (w > TOLERANCE) & (h > TOLERANCE)


def axes_overlaps(fig: Any) -> list[str]:
    """Texts of different axes (titles, axis labels, tick labels) that overlap."""
    renderer = fig.canvas.get_renderer()
    groups = axes_texts(fig)
    boxes = [_boxes(g, renderer) for g in groups]
    found = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            for a, b in zip(*np.nonzero(overlapping(boxes[i], boxes[j])), strict=True):
                first, second = groups[i][a].get_text(), groups[j][b].get_text()
                found.append(f"{first!r} (axes {i}) × {second!r} (axes {j})")
    return found


def texts_outside(fig: Any) -> list[str]:
    """Texts that reach beyond the figure."""
    renderer = fig.canvas.get_renderer()
    texts = figure_texts(fig)
    box = _boxes(texts, renderer)
    width, height = fig.bbox.width, fig.bbox.height
    out = (box[:, 0] < -TOLERANCE) | (box[:, 1] < -TOLERANCE)
    out |= (box[:, 2] > width + TOLERANCE) | (box[:, 3] > height + TOLERANCE)
    return [f"{texts[i].get_text()[:60]!r} at {box[i].round(1)}" for i in np.nonzero(out)[0]]


def mosaic_overlaps(fig: Any, mosaic: Mosaic) -> list[str]:
    """Texts of a mosaic's figure that overlap one of its panels (frames included) or
    another text."""
    renderer = fig.canvas.get_renderer()
    texts = [t for t in fig.texts if _shown(t)]
    boxes = _boxes(texts, renderer)
    height = mosaic.pixels.shape[0]
    panels = np.array([(x0, height - y1, x1, height - y0) for x0, y0, x1, y1 in mosaic.panels])
    found = [
        f"{texts[i].get_text()!r} × panel {panels[j]}"
        for i, j in zip(*np.nonzero(overlapping(boxes, panels.reshape(-1, 4))), strict=True)
    ]
    pairs = np.triu(overlapping(boxes, boxes), k=1)
    found += [
        f"{texts[i].get_text()!r} × {texts[j].get_text()!r}"
        for i, j in zip(*np.nonzero(pairs), strict=True)
    ]
    return found


# --------------------------------------------------------------------------------------------
# The matrix of studies
# --------------------------------------------------------------------------------------------


def expected_files(drawn: Drawn) -> tuple[list[Path], list[Path]]:
    """Every table file and every PNG the rules name for the drawn study."""
    root, comps = drawn.root, drawn.study["comparisons"]
    tables = [layout.STUDY_TABLES] + [layout.CROSSVAL_TABLES] * bool(drawn.case.folds)
    figures = [layout.STUDY_FIGURES] + [layout.CROSSVAL_FIGURES] * bool(drawn.case.folds)
    table_files = [f for names in tables for fs in table_outputs(root, names).values() for f in fs]
    pngs = [f for names in figures for f in figure_outputs(root, names).values()]
    for c in comps:
        table_files += [
            f for fs in table_outputs(root, layout.COMPARISON_TABLES, c).values() for f in fs
        ]
        pngs += list(figure_outputs(root, layout.COMPARISON_FIGURES, c).values())
    return table_files, pngs


def test_every_table_figure_and_the_summary_is_written(drawn: Drawn) -> None:
    tables, pngs = expected_files(drawn)
    for path in tables:
        lines = path.read_text().splitlines()
        assert len(lines) >= 2, f"{path}: {lines}"
    assert sorted(drawn.figures) == sorted(pngs), "every figure drawn, each through figure_file"
    assert sorted(drawn.mosaics) == sorted(
        p for p in pngs if p.stem.startswith(("saliency", "errors"))
    )
    summary = layout.summary_file(drawn.root).read_text()
    links = re.findall(r"\]\(([^)#]+)\)", summary)
    assert links and all((drawn.root / link).is_file() for link in links), links


def test_png_sizes_are_bounded(drawn: Drawn) -> None:
    sizes = {p.name: png_size(p) for p in drawn.figures}
    print(f"\n{drawn.case.id}:", ", ".join(f"{n} {w}x{h}" for n, (w, h) in sorted(sizes.items())))
    too_large = {n: s for n, s in sizes.items() if max(s) > MAX_SIDE}
    assert not too_large, f"PNGs over {MAX_SIDE} px a side: {too_large}"


def test_texts_stay_inside_their_figures(drawn: Drawn) -> None:
    outside = {p.name: texts_outside(fig) for p, fig in drawn.figures.items()}
    assert not {n: t for n, t in outside.items() if t}


def test_texts_of_different_axes_do_not_overlap(drawn: Drawn) -> None:
    found = {
        p.name: axes_overlaps(fig) for p, fig in drawn.figures.items() if p not in drawn.mosaics
    }
    assert not {n: t for n, t in found.items() if t}


def test_mosaic_texts_clear_panels_and_each_other(drawn: Drawn) -> None:
    found = {p.name: mosaic_overlaps(drawn.figures[p], m) for p, m in drawn.mosaics.items()}
    assert not {n: t for n, t in found.items() if t}
