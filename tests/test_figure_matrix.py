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
it; the titles, axis labels and tick labels of different axes do not overlap, nor the tick
labels of one axis (boxes turned with slanted text); a mosaic's texts overlap neither its
panels nor each other. Hypothesis draws further saliency and gallery shapes in memory. Figures
drawn outside the mosaics that fail a check are listed in :data:`KNOWN` (strict expected
failures). Run with ``-s`` to see each figure's size.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aggregate_fixtures import figure_outputs, study_stats, summary_links, table_outputs
from figure_matrix_fixtures import (
    Case,
    Model,
    build_runs,
    comparisons,
    memory_errors,
    memory_maps,
    variant_names,
    write_explain,
)
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from biomedclf import layout
from biomedclf.crossval.across_folds import write_study_crossval
from biomedclf.explain.selection import GALLERY_MAX
from biomedclf.report.crossval import write_crossval_report
from biomedclf.report.figures import style
from biomedclf.report.figures.errors import errors_mosaic, plot_explain_figures
from biomedclf.report.figures.mosaic import MARGIN, Mosaic, Sketch
from biomedclf.report.figures.plots import plot_comparison, plot_study
from biomedclf.report.figures.saliency import saliency_mosaic
from biomedclf.report.figures.style import DPI
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
        "256px-linear32-64images-long-names-11-classes",
        models=(LIN32, CONV),
        comparisons=((1, 0),),
        image_size=256,
        n_classes=11,
        n_images=64,
        long_names=True,
        n_test=132,
    ),
    Case(
        "28px-linear512-2images-5-seeds",
        models=(LIN512, LIN32, CONV),
        comparisons=((2, 0, 1),),
        image_size=28,
        seeds=5,
        n_images=2,
        n_test=40,
        architecture=True,
    ),
    Case(
        "64px-padded-rgb-4-classes-5-seeds",
        models=(GAP, CONV, RESNET),
        comparisons=((0, 1, 2),),
        image_size=64,
        padded=True,
        channels=3,
        n_classes=4,
        seeds=5,
    ),
    Case(
        "64px-4-variants-long-names-5-folds",
        models=(CONV, LIN32, GAP, RESNET, CONV),
        comparisons=((0, 1, 2, 3, 4),),
        image_size=64,
        folds=5,
        long_names=True,
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
    original, save = style.figure_file, Mosaic.save

    @contextmanager
    def recorded(path: Path | str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with original(path, *args, **kwargs) as drawn:
            yield drawn
            # saved at DPI anyway; at DPI before saving, the figure keeps the positions it was
            # saved with (legends place their texts in pixels)
            drawn[0].set_dpi(style.DPI)
        figures[Path(path)] = drawn[0]

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
    if case.architecture:
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


class Studies:
    """Each case's study, drawn on first use (once per test module; a failure to draw is
    raised again by every later test of the case, without drawing again)."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp, self.drawn = tmp, {}

    def _draw(self, case: Case) -> Drawn:
        root = self.tmp.mktemp("study")
        figures: dict[Path, Any] = {}
        mosaics: dict[Path, Mosaic] = {}
        with capturing(figures, mosaics):
            study = draw_study(root, case)
        return Drawn(case, root, study, figures, mosaics)

    def __getitem__(self, case: Case) -> Drawn:
        if case.id not in self.drawn:
            try:
                self.drawn[case.id] = self._draw(case)
            except Exception as error:  # kept for the case's other tests
                self.drawn[case.id] = error
                raise
        found = self.drawn[case.id]
        if isinstance(found, Exception):
            raise RuntimeError(f"{case.id}: the study could not be drawn") from found
        return found


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Studies:
    return Studies(tmp_path_factory)


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


def corners(text: Any, renderer: Any) -> np.ndarray:
    """The 4 corners (display pixels) of a text's box, turned with the text: its axis-aligned
    box would make two neighbouring slanted labels overlap where their letters do not."""
    box = text.get_window_extent(renderer)
    angle = text.get_rotation()
    if angle % 90 == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    text.set_rotation(0)
    flat = text.get_window_extent(renderer)
    text.set_rotation(angle)
    turn = np.radians(angle)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    rect = np.array([[0, 0], [flat.width, 0], [flat.width, flat.height], [0, flat.height]])
    turned = rect @ rotation.T
    return turned + np.array([box.x0, box.y0]) - turned.min(axis=0)


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


# --------------------------------------------------------------------------------------------
# The matrix of studies
# --------------------------------------------------------------------------------------------


def figure_names(case: Case) -> list[tuple[str, str]]:
    """(figure, its PNG's stem) of every figure of ``case``, as the rules name them."""
    names = [(f, f) for f in layout.STUDY_FIGURES]
    names += [(f, f"{f}_{c}") for c in comparisons(case) for f in layout.COMPARISON_FIGURES]
    return names + [(f, f) for f in layout.CROSSVAL_FIGURES] * bool(case.folds)


#: Problems of figures drawn outside this area, found by the matrix: (case, figure, check) ->
#: what is wrong. Marked as expected failures (strict: fixing one makes its test fail until its
#: entry goes).
RISKY, FIVE = CASES[0].id, CASES[3].id
RELIABILITY = (
    "plots.plot_reliability: a panel title '{variant} (1 seed pooled)' of a 30-character name is "
    "wider than its 3.3-inch panel (and the suptitle than the figure)"
)
CONFUSION = (
    "classes.plot_confusion: panel titles of 30-character variant names overlap their "
    "neighbours'; 30-character class names, unrotated for 2 classes, overlap on the x axis"
)
KNOWN: dict[tuple[str, str, str], str] = {
    (RISKY, "reliability", "inside"): RELIABILITY,
    (RISKY, "reliability", "axes"): RELIABILITY,
    (FIVE, "reliability", "inside"): RELIABILITY,
    (FIVE, "reliability", "axes"): RELIABILITY,
    (FIVE, "roc", "inside"): (
        "curves.plot_roc: the title 'Comparison {name}: ROC, ...' of a 30-character comparison "
        "name is wider than the 5-inch figure"
    ),
    (FIVE, "confusion", "axes"): CONFUSION,
    (FIVE, "confusion", "ticks"): CONFUSION,
}

MOSAICS = ("saliency", "errors")


def figure_params(check: str, kinds: tuple[str, ...] | None = None) -> list[Any]:
    """pytest parameters (case, PNG stem) of every figure (of ``kinds``) for ``check``."""
    params = []
    for case in CASES:
        for figure, stem in figure_names(case):
            if kinds is not None and figure not in kinds:
                continue
            known = KNOWN.get((case.id, figure, check))
            marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
            params.append(pytest.param(case, stem, marks=marks, id=f"{case.id}-{stem}"))
    return params


def _figure(studies: Studies, case: Case, stem: str) -> tuple[Drawn, Path]:
    drawn = studies[case]
    return drawn, layout.figure_file(drawn.root, stem)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_table_figure_and_the_summary_is_written(studies: Studies, case: Case) -> None:
    drawn = studies[case]
    root, comps = drawn.root, drawn.study["comparisons"]
    tables = [layout.STUDY_TABLES] + [layout.CROSSVAL_TABLES] * bool(case.folds)
    files = [f for names in tables for pair in table_outputs(root, names).values() for f in pair]
    for c in comps:
        files += [
            f for pair in table_outputs(root, layout.COMPARISON_TABLES, c).values() for f in pair
        ]
    if not case.architecture:  # written in one case only: it builds the models (torch)
        files = [f for f in files if f.stem != "architecture"]
    assert all(len(f.read_text().splitlines()) >= 2 for f in files), files
    pngs = [layout.figure_file(root, stem) for _, stem in figure_names(case)]
    assert sorted(drawn.figures) == sorted(pngs), "every figure drawn through figure_file"
    assert sorted(drawn.mosaics) == sorted(p for p in pngs if p.stem.startswith(MOSAICS))
    summary = layout.summary_file(root).read_text()
    links = {Path(link) for link in re.findall(r"\]\(([^)#]+)\)", summary)}
    missing = [link for link in links if not (root / link).is_file()]
    unwritten = [] if case.architecture else [layout.table_files(".", "architecture")["md"]]
    assert links and missing == unwritten


@pytest.mark.parametrize(("case", "stem"), figure_params("size"))
def test_png_is_within_the_bound(studies: Studies, case: Case, stem: str) -> None:
    _, path = _figure(studies, case, stem)
    width, height = png_size(path)
    print(f"{case.id} {stem}: {width} x {height}")
    assert max(width, height) <= MAX_SIDE


@pytest.mark.parametrize(("case", "stem"), figure_params("inside"))
def test_texts_stay_inside_the_figure(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert texts_outside(drawn.figures[path]) == []


@pytest.mark.parametrize(
    ("case", "stem"),
    figure_params(
        "axes", layout.STUDY_FIGURES + ("curves", "roc", "confusion") + layout.CROSSVAL_FIGURES
    ),
)
def test_texts_of_different_axes_do_not_overlap(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert axes_overlaps(drawn.figures[path]) == []


@pytest.mark.parametrize(
    ("case", "stem"),
    figure_params(
        "ticks", layout.STUDY_FIGURES + ("curves", "roc", "confusion") + layout.CROSSVAL_FIGURES
    ),
)
def test_tick_labels_of_an_axis_do_not_overlap(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert tick_overlaps(drawn.figures[path]) == []


@pytest.mark.parametrize(("case", "stem"), figure_params("mosaic", MOSAICS))
def test_mosaic_texts_clear_panels_and_each_other(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert mosaic_overlaps(drawn.figures[path], drawn.mosaics[path]) == []


# --------------------------------------------------------------------------------------------
# Mosaics of any shape, in memory (hypothesis)
# --------------------------------------------------------------------------------------------

KIND_MODELS = {
    "linear32": LIN32,
    "linear512": LIN512,
    "conv": CONV,
    "conv_gap": GAP,
    "resnet18": RESNET,
}

shapes = st.builds(
    Case,
    id=st.just("drawn"),
    models=st.lists(st.sampled_from(sorted(KIND_MODELS)), min_size=1, max_size=5).map(
        lambda kinds: tuple(KIND_MODELS[k] for k in kinds)
    ),
    comparisons=st.just(()),
    image_size=st.sampled_from([28, 64, 256]),
    padded=st.booleans(),
    channels=st.sampled_from([1, 3]),
    n_classes=st.sampled_from([2, 4, 11]),
    n_images=st.integers(1, 64),
    long_names=st.booleans(),
)


#: No shrinking: a drawn mosaic takes about a second; a failure shows its example as drawn.
PHASES = (Phase.explicit, Phase.generate)


def check_mosaic(mosaic: Mosaic) -> None:
    """The mosaic within :data:`MAX_SIDE` a side, its texts inside it, clear of its panels and
    of each other."""
    height, width = mosaic.pixels.shape[:2]
    assert max(width, height) <= MAX_SIDE
    fig = mosaic.figure()
    assert texts_outside(fig) == []
    assert mosaic_overlaps(fig, mosaic) == []


@settings(max_examples=6, deadline=None, database=None, phases=PHASES)
@given(case=shapes)
@example(  # the reported crash: linear 32 units, 256 px, fewer images than weight panels
    case=Case("issue", (LIN32, CONV), (), image_size=256, n_images=2)
)
@example(  # the largest: 64 images, 5 linear models with weights, long names, 11 classes
    case=Case(
        "largest", (LIN512,) * 5, (), image_size=256, n_classes=11, n_images=64, long_names=True
    )
)
def test_any_saliency_mosaic_fits_its_canvas(case: Case) -> None:
    names = variant_names(case)
    maps = {v: memory_maps(v, m, case, names[0]) for v, m in zip(names, case.models)}
    check_mosaic(saliency_mosaic("c" * (30 if case.long_names else 4), names, maps))


@settings(max_examples=6, deadline=None, database=None, phases=PHASES)
@given(case=shapes, shown=st.lists(st.integers(0, GALLERY_MAX), min_size=1, max_size=5))
@example(case=Case("none", (CONV,), (), image_size=28), shown=[0])
def test_any_error_gallery_fits_its_canvas(case: Case, shown: list[int]) -> None:
    names = variant_names(Case("g", (CONV,) * len(shown), (), long_names=case.long_names))
    errors = [memory_errors(v, case, e, 5 * e + 3, 5) for v, e in zip(names, shown)]
    check_mosaic(errors_mosaic("c" * (30 if case.long_names else 4), errors))


def test_a_panel_or_text_outside_the_canvas_is_refused() -> None:
    mosaic = Mosaic(2.0, 1.0)
    rgb = np.zeros((4, 4, 3))
    mosaic.paste(rgb, 0.5, 0.025, 0.95, frame="red")
    with pytest.raises(ValueError, match=r"114 x 114 px panel .* does not fit the 240 x 120 px"):
        mosaic.paste(rgb, 1.1, 0.0, 0.95)
    with pytest.raises(ValueError, match="does not fit"):
        mosaic.paste(rgb, 0.0, 0.0, 0.5, frame="red")  # the frame leaves the canvas
    with pytest.raises(ValueError, match="text 'a long heading"):
        mosaic.text(1.0, 0.5, "a long heading " * 5, ha="center")


def test_a_sketch_sizes_the_canvas_to_all_it_holds() -> None:
    sketch = Sketch()
    sketch.paste(np.ones((2, 2, 3)), -3.0, 2.0, 1.0, frame="red")
    box = sketch.text(5.0, -1.0, "far right", ha="left", va="top")
    mosaic = sketch.mosaic()
    assert mosaic.width == pytest.approx(box.right + 3.0 + 3 / DPI + 2 * MARGIN, abs=1 / DPI)
    assert mosaic.panels[0][:2] == (round(MARGIN * DPI), round((3.0 + MARGIN) * DPI) - 3)
    with pytest.raises(ValueError, match="nothing placed"):
        Sketch().mosaic()


def test_the_checks_see_overlaps_and_slanted_neighbours_apart() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2), dpi=DPI)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    left.set_title("a title much too long for its half of the figure")
    right.set_title("its neighbour")
    right.set_xticks(range(3), ["a_long_slanted_label"] * 3, rotation=45, ha="right")
    fig.draw_without_rendering()
    title = "'a title much too long for its half of the figure' (axes 0)"
    assert f"{title} × 'its neighbour' (axes 1)" in axes_overlaps(fig)
    assert tick_overlaps(fig) == []  # parallel slanted labels: boxes overlap, letters do not
    assert any("a title much too long" in t for t in texts_outside(fig))
    right.set_xticks(range(3), ["a_long_flat_label"] * 3, rotation=0)
    fig.draw_without_rendering()
    assert len(tick_overlaps(fig)) == 2
