"""Every table and figure for the shapes a config allows, on generated run files.

The study pipeline after training (statistics, the study's and each comparison's tables and
figures, the saliency figures and error galleries, the cross-validation report, summary.md;
tests/figure_matrix_studies.py) runs on a covering set of generated studies (:data:`CASES`,
built by tests/figure_matrix_fixtures.py): each value of each dimension at least once (image
size 28, 64, 256 and a padded non-square source; 1 and 3 channels; 2, 3, 4 and 11 classes;
``linear`` with 32 and 512 first-layer units, ``conv``, ``conv_gap``, ``resnet18``; with and
without folds; 1, 2 and 5 seeds; ``explain.n_images`` 2, 16 and 64; 30- and 120-character
names, class names with spaces; a comparison of 4 variants), and the risky combination
(256 px, ``linear`` with 32 units, 64 images, long names, 11 classes) explicitly. Every PNG
stays within :data:`figure_checks.MAX_SIDE` pixels a side; no text of a figure leaves it; the
titles, axis labels and tick labels of different axes do not overlap, nor the tick labels of
one axis (boxes turned with slanted text), nor a legend any of them or another legend, nor
the texts inside one axes each other or a legend; each point of ``accuracy_vs_time`` has its
own legend entry (colour and marker); a mosaic's texts overlap neither its panels nor each
other (tests/figure_checks.py). Figures that fail a check for a known reason are listed in
:data:`KNOWN` (strict expected failures).
Mosaics of further shapes are drawn in memory by tests/test_mosaic_shapes.py. Run with ``-s``
to see each figure's size.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aggregate_fixtures import table_outputs
from figure_checks import (
    MAX_SIDE,
    axes_overlaps,
    inner_text_overlaps,
    legend_overlaps,
    mosaic_overlaps,
    png_size,
    texts_outside,
    tick_overlaps,
)
from figure_matrix_fixtures import CONV, GAP, LIN32, LIN512, RESNET, Case, comparisons
from figure_matrix_studies import Drawn, Studies

from biomedclf import layout
from biomedclf.report.figures.style import DPI

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
    Case(
        "120-character-names-3-classes-3-folds",
        models=(GAP, LIN32, CONV),
        comparisons=((0, 1, 2),),
        n_classes=3,
        folds=3,
        seeds=2,
        n_images=4,
        long_names=True,
        name_length=120,
        spaced=True,
    ),
]


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Studies:
    return Studies(tmp_path_factory)


def figure_names(case: Case) -> list[tuple[str, str]]:
    """(figure, its PNG's stem) of every figure of ``case``, as the rules name them."""
    names = [(f, f) for f in layout.STUDY_FIGURES]
    names += [(f, f"{f}_{c}") for c in comparisons(case) for f in layout.COMPARISON_FIGURES]
    return names + [(f, f) for f in layout.CROSSVAL_FIGURES] * bool(case.folds)


#: Figures that fail a check for a known reason: (case id, figure, check) -> the reason.
#: Marked as expected failures (strict: fixing one makes its test fail until its entry goes).
KNOWN: dict[tuple[str, str, str], str] = {}

#: The figures drawn on matplotlib axes (the others are mosaics).
AXES_FIGURES = layout.STUDY_FIGURES + ("curves", "roc", "confusion") + layout.CROSSVAL_FIGURES

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
    figure_params("axes", AXES_FIGURES),
)
def test_texts_of_different_axes_do_not_overlap(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert axes_overlaps(drawn.figures[path]) == []


@pytest.mark.parametrize(
    ("case", "stem"),
    figure_params("ticks", AXES_FIGURES),
)
def test_tick_labels_of_an_axis_do_not_overlap(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert tick_overlaps(drawn.figures[path]) == []


@pytest.mark.parametrize(("case", "stem"), figure_params("legends", AXES_FIGURES))
def test_legends_cover_no_label_nor_each_other(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert legend_overlaps(drawn.figures[path]) == []


@pytest.mark.parametrize(("case", "stem"), figure_params("inner", AXES_FIGURES))
def test_texts_inside_an_axes_overlap_neither_each_other_nor_a_legend(
    studies: Studies, case: Case, stem: str
) -> None:
    drawn, path = _figure(studies, case, stem)
    assert inner_text_overlaps(drawn.figures[path]) == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_point_of_accuracy_vs_time_is_told_apart_in_the_legend(
    studies: Studies, case: Case
) -> None:
    drawn, path = _figure(studies, case, "accuracy_vs_time")
    ax = drawn.figures[path].axes[0]
    handles, labels = ax.get_legend_handles_labels()
    looks = {(h[0].get_marker(), str(h[0].get_color())) for h in handles}
    assert len(labels) == len(drawn.study["variants"]) == len(looks)


@pytest.mark.parametrize(("case", "stem"), figure_params("mosaic", MOSAICS))
def test_mosaic_texts_clear_panels_and_each_other(studies: Studies, case: Case, stem: str) -> None:
    drawn, path = _figure(studies, case, stem)
    assert mosaic_overlaps(drawn.figures[path], drawn.mosaics[path]) == []


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
    left.plot([0, 1], label="a legend much wider than its axes")
    left.legend(loc="upper right")  # reaches left over the axis' tick labels
    fig.draw_without_rendering()
    assert any("legend 0 ×" in found for found in legend_overlaps(fig))
    assert inner_text_overlaps(fig) == []
    for name in ("point_a", "point_b"):  # two labels of points that lie close together
        right.annotate(name, (0.5, 0.5), xytext=(6, 6), textcoords="offset points")
    fig.draw_without_rendering()
    assert inner_text_overlaps(fig) == ["'point_a' × 'point_b'"]
