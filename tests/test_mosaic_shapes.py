"""Saliency figures and error galleries of any shape, drawn in memory (hypothesis).

Hypothesis draws the shapes a config allows (model kinds, image size, padding, channels,
classes, ``explain.n_images``, long names; for the galleries, how many errors each variant
shows) and builds the explain job's records without files
(:func:`figure_matrix_fixtures.memory_maps`, :func:`figure_matrix_fixtures.memory_errors`).
Each mosaic stays within :data:`figure_checks.MAX_SIDE` pixels a side, its texts inside it,
clear of its panels and of each other; the reported crash (``linear`` with 32 units at 256 px)
and the largest shape are explicit examples. A panel or a text placed outside a
:class:`biomedclf.report.figures.mosaic.Mosaic` is refused; a
:class:`biomedclf.report.figures.mosaic.Sketch` sizes its canvas to all it holds. The studies'
own mosaics are checked by tests/test_figure_matrix.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from figure_checks import MAX_SIDE, mosaic_overlaps, texts_outside
from figure_matrix_explain import memory_errors, memory_maps
from figure_matrix_fixtures import (
    CONV,
    GAP,
    LIN32,
    LIN512,
    RESNET,
    Case,
    variant_names,
)
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from biomedclf.explain.selection import GALLERY_MAX
from biomedclf.report.figures.errors import errors_mosaic
from biomedclf.report.figures.mosaic import MARGIN, Mosaic, Sketch
from biomedclf.report.figures.saliency import saliency_mosaic
from biomedclf.report.figures.style import DPI

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
