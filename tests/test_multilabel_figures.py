"""The multi-label figures at the shapes a config allows (1 to 6 variants, 2 to 14 labels, long
names): inside their bounds, no overlapping texts; ROC points and co-occurrence checked
against scikit-learn and a direct count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from figure_checks import (
    MAX_SIDE,
    axes_overlaps,
    inner_text_overlaps,
    legend_overlaps,
    png_size,
    texts_outside,
    tick_overlaps,
)
from figure_matrix_studies import capturing
from sklearn.metrics import roc_curve

from biomedclf.report.figures import multilabel as figures

SHAPES = {
    "14-labels-6-long-variants": (14, 6, 40),
    "2-labels-1-variant": (2, 1, 6),
    "5-labels-3-variants": (5, 3, 12),
}


def _names(prefix: str, n: int, length: int) -> list[str]:
    return [f"{prefix}{i}_".ljust(length, "x") for i in range(n)]


def _shape(n_labels: int, n_variants: int, length: int) -> dict[str, Any]:
    rng = np.random.default_rng(n_labels * 10 + n_variants)
    labels, variants = _names("finding", n_labels, length), _names("variant", n_variants, length)
    y = (rng.random((200, n_labels)) < 0.3).astype(np.int64)
    mask = rng.random((200, n_labels)) > 0.1
    ensembles = {v: (y * mask, mask, rng.random((200, n_labels))) for v in variants}
    rows = [
        {"label": n, "auroc": a, "low": a - 0.08, "high": min(1.0, a + 0.06)}
        for n, a in zip(labels, rng.uniform(0.5, 0.95, n_labels))
    ]
    stats = {
        "labels": labels,
        "settings": {"confidence": 0.95},
        "variants": {v: {"ensemble": {"per_label": rows}} for v in variants},
    }
    prevalence = {
        s: {n: float(p) for n, p in zip(labels, rng.uniform(0.05, 0.5, n_labels))}
        for s in ("train", "val", "test", "all")
    }
    histories = {
        v: [{"epoch": np.arange(1, 6), "val_loss": rng.random(5), "train_loss": rng.random(5)}]
        for v in variants
    }
    return {
        "stats": stats,
        "ensembles": ensembles,
        "prevalence": prevalence,
        "histories": histories,
        "y": y,
        "mask": mask,
    }


def _draw(shape: dict[str, Any], out: Path) -> dict[Path, Any]:
    drawn: dict[Path, Any] = {}
    labels = shape["stats"]["labels"]
    with capturing(drawn, {}):
        figures.plot_label_auroc(shape["stats"], out / "auroc_per_label.png")
        figures.plot_roc_labels(labels, shape["ensembles"], out / "roc_labels.png")
        figures.plot_prevalence(shape["prevalence"], out / "label_prevalence.png")
        figures.plot_cooccurrence(labels, shape["y"], shape["mask"], out / "cooccurrence.png")
        figures.plot_loss_curves(shape["histories"], out / "loss_curves.png")
    return drawn


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[Path, Any]]:
    return {key: _draw(_shape(*dims), tmp_path_factory.mktemp(key)) for key, dims in SHAPES.items()}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_figure_is_bounded_and_its_texts_apart(drawn: dict, shape: str) -> None:
    assert len(drawn[shape]) == 5
    for path, fig in drawn[shape].items():
        assert max(png_size(path)) <= MAX_SIDE, path.name
        for check in (texts_outside, axes_overlaps, tick_overlaps, legend_overlaps):
            assert check(fig) == [], (path.name, check.__name__)
        assert inner_text_overlaps(fig) == [], path.name


def test_roc_points_are_sklearns() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300), 2)  # ties
    fpr, tpr = figures.roc_points(y, scores)
    want_fpr, want_tpr, _ = roc_curve(y, scores, drop_intermediate=False)
    assert np.allclose(fpr, want_fpr) and np.allclose(tpr, want_tpr)


def test_cooccurrence_counts_kept_positives() -> None:
    y = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 0]])
    mask = np.ones_like(y, dtype=bool)
    mask[2, 2] = False  # the only positive of the third label is ignored
    share = figures.cooccurrence(y, mask)
    assert share[0].tolist() == pytest.approx([1.0, 2 / 3, 0.0])
    assert share[1, 0] == pytest.approx(2 / 3) and np.isnan(share[2]).all()
