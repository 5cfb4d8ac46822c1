"""Saliency of multi-label studies (biomedclf.explain.multilabel): the label each map explains
(``explain.label``), the images the figures show, the error gallery's images, and the explain
job and figures on a trained multi-label model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_multilabel_training import NAMES, train_and_evaluate, write_multilabel_cache

from biomedclf.evaluate.multilabel_predictions import (
    MultilabelPredictions,
    read_multilabel_predictions,
)
from biomedclf.explain import saliency as explain
from biomedclf.explain.files import read_errors, read_maps, read_sanity, write_maps
from biomedclf.explain.multilabel import (
    IGNORED,
    check_label,
    explained_labels,
    multilabel_errors,
    select_multilabel,
)
from biomedclf.explain.sanity import map_correlations
from biomedclf.explain.selection import GALLERY_MAX
from biomedclf.layout import EXPLAIN_FILES
from biomedclf.report.figures import errors as gallery
from biomedclf.report.figures import saliency as figure
from biomedclf.train.models import build_model, load_model
from biomedclf.train.scores import read_scores

LABELS = ["nodule", "effusion", "cardiomegaly"]


def _pred(labels, probs, calls=None, mask=None, names=LABELS) -> MultilabelPredictions:
    labels, probs = np.array(labels, dtype=np.int64), np.array(probs, dtype=float)
    n = labels.shape[0]
    return MultilabelPredictions(
        names=list(names),
        paths=[f"img{i:02d}.png" for i in range(n)],
        labels=labels,
        mask=np.ones_like(labels, bool) if mask is None else np.array(mask, bool),
        probabilities=probs,
        calls=(probs >= 0.5).astype(np.int64) if calls is None else np.array(calls, np.int64),
    )


# --- the explained label ---------------------------------------------------------------------


def test_default_label_is_the_most_probable_called_label_else_the_most_probable():
    probs = np.array(
        [
            [0.9, 0.7, 0.1],  # two called: the more probable
            [0.45, 0.35, 0.2],  # none called: the most probable
            [0.6, 0.3, 0.55],  # label 0 is below its threshold 0.7, label 2 reaches 0.5
            [0.2, 0.2, 0.1],  # a tie: the earlier label
        ]
    )
    thresholds = [0.7, 0.3, 0.5]
    got = explained_labels(probs, thresholds, LABELS, None)
    assert got.tolist() == [0, 1, 2, 0] and got.dtype == np.int64
    assert explained_labels(probs, thresholds, LABELS, "effusion").tolist() == [1] * 4


def test_an_unknown_or_single_label_setting_names_the_key_and_the_labels():
    with pytest.raises(ValueError, match=r"explain\.label: unknown label 'pleura'.*'nodule'"):
        check_label("pleura", LABELS, multilabel=True)
    with pytest.raises(ValueError, match=r"explain\.label: 'a' is for multi-label studies"):
        check_label("a", ["a", "b"], multilabel=False)
    check_label(None, ["a", "b"], multilabel=False)
    with pytest.raises(ValueError, match=r"3 thresholds for 2 labels"):
        explained_labels(np.zeros((1, 2)), [0.5] * 3, ["a", "b"], None)


# --- the selection ---------------------------------------------------------------------------


def test_selection_spreads_over_the_labels_and_shows_positives_only():
    labels = [
        [1, 0, 0],  # 0: nodule detected (0.9)
        [1, 0, 0],  # 1: nodule detected (0.8)
        [1, 0, 0],  # 2: nodule missed (0.1)
        [0, 1, 0],  # 3: effusion detected (0.7)
        [0, 1, 0],  # 4: effusion missed (0.3)
        [1, 1, 0],  # 5: both detected (0.95, 0.99): nodule's first, effusion's skips it
        [0, 0, 0],  # 6: no finding: never shown
        [0, 0, 1],  # 7: cardiomegaly missed (0.2)
    ]
    probs = [
        [0.9, 0.1, 0.1],
        [0.8, 0.1, 0.1],
        [0.1, 0.1, 0.1],
        [0.1, 0.7, 0.1],
        [0.1, 0.3, 0.1],
        [0.95, 0.99, 0.1],
        [0.99, 0.99, 0.99],
        [0.1, 0.1, 0.2],
    ]
    picks = select_multilabel(_pred(labels, probs), 7)
    got = [(p.label, p.outcome, p.rank, p.path) for p in picks]
    assert got == [
        (0, "correct", 0, "img05.png"),
        (0, "correct", 1, "img00.png"),
        (0, "correct", 2, "img01.png"),
        (0, "wrong", 0, "img02.png"),
        (1, "correct", 0, "img03.png"),  # img05 was taken for nodule
        (1, "wrong", 0, "img04.png"),
        (2, "wrong", 0, "img07.png"),
    ]
    assert "img06.png" not in {p.path for p in picks}
    assert all(p.predicted == (p.outcome == "correct") for p in picks)
    # rank 0 of every cell comes before any rank 1: five images give one per cell
    first = select_multilabel(_pred(labels, probs), 5)
    assert {(p.label, p.outcome) for p in first} == {
        (0, "correct"),
        (0, "wrong"),
        (1, "correct"),
        (1, "wrong"),
        (2, "wrong"),
    }


def test_selection_skips_ignored_entries_and_is_deterministic():
    labels = [[1, 1, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0]]
    mask = [[False, True, True], [True, True, True], [True, True, True], [True, True, True]]
    probs = [[0.9, 0.8, 0.1], [0.8, 0.1, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]
    pred = _pred(labels, probs, mask=mask)
    picks = select_multilabel(pred, 8)
    nodule = [p.path for p in picks if p.label == 0]
    assert nodule == ["img01.png", "img02.png"]  # img00's nodule is ignored; a tie by path
    assert [p.path for p in picks if p.label == 1] == ["img00.png", "img03.png"]
    order = [3, 2, 1, 0]
    shuffled = MultilabelPredictions(
        pred.names,
        [pred.paths[i] for i in order],
        pred.labels[order],
        pred.mask[order],
        pred.probabilities[order],
        pred.calls[order],
    )
    assert [p.path for p in select_multilabel(shuffled, 8)] == [p.path for p in picks]


# --- the error gallery -----------------------------------------------------------------------


def test_ensemble_errors_count_wrong_entries_then_the_gap(tmp_path):
    labels = [[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 1, 1]]
    mask = [[True] * 3, [True] * 3, [True] * 3, [True, True, False]]
    seed0 = _pred(
        labels,
        [[0.9, 0.1, 0.1], [0.2, 0.3, 0.6], [0.1, 0.6, 0.1], [0.1, 0.9, 0.1]],
        calls=[[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0]],
        mask=mask,
    )
    seed1 = _pred(
        labels,
        [[0.9, 0.1, 0.1], [0.4, 0.3, 0.6], [0.1, 0.9, 0.1], [0.1, 0.9, 0.1]],
        calls=[[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 0]],
        mask=mask,
    )
    err = multilabel_errors({1: seed1, 0: seed0}, "cnn")
    # img01: three wrong entries; img02: one (gap 0.75); img00 and img03 (its third ignored)
    assert err.paths == ["img01.png", "img02.png"] and err.seeds == [0, 1]
    assert err.n_test == 4 and err.labels[0].tolist() == [1, 1, 0]
    assert np.allclose(err.probabilities[1], [0.1, 0.75, 0.1])
    assert err.confusions() == [(0, 1, 1), (1, 1, 1), (1, 0, 1), (2, 0, 1)]  # missed first
    # a call of half the seeds counts: seed 1 alone calls img00's effusion
    seed1.calls[0, 1] = 1
    err = multilabel_errors({0: seed0, 1: seed1}, "cnn")
    assert "img00.png" in err.paths
    assert "img03.png" not in err.paths  # its ignored entry is never wrong


# --- the explain job on a trained multi-label model -----------------------------------------


@pytest.fixture(scope="module")
def ml_run(tmp_path_factory) -> tuple[Path, Path]:
    """(cache, run folder) of a short multi-label training with its evaluation."""
    root = tmp_path_factory.mktemp("ml_explain")
    data = write_multilabel_cache(root / "data")
    train_and_evaluate(data, root / "run", epochs=4)
    return data, root / "run"


def _explain(data: Path, run: Path, out: Path, label: str | None = None, n_images: int = 8):
    return explain.explain_run(
        run / "model.pt",
        data / "test.pt",
        baselines={"cnn": run / "predictions.csv"},
        ensemble={0: run / "predictions.csv"},
        n_images=n_images,
        outputs={role: out / name for role, name in EXPLAIN_FILES.items()},
        threads=1,
        label=label,
    )


def test_maps_explain_each_images_most_probable_positive_label(ml_run, tmp_path):
    data, run = ml_run
    written = _explain(data, run, tmp_path)
    m = read_maps(written["maps"])
    assert m.multilabel and m.target == "most probable positive label"
    n = len(m.paths)
    assert m.labels.shape == m.probabilities.shape == (n, len(NAMES)) and n == 8
    model, saved = load_model(run / "model.pt")
    expected = explained_labels(m.probabilities, saved["thresholds"], NAMES, None)
    assert np.array_equal(m.explained, expected)
    # the probabilities are the model's, as in its scores.csv
    test = read_scores(run / "scores.csv")["test"]
    row = {p: i for i, p in enumerate(test.paths)}
    assert np.allclose(
        m.probabilities, test.probabilities[[row[str(p)] for p in m.paths]], atol=1e-5
    )
    # the selection is the baseline's, and each row's chosen label is a positive target
    picks = select_multilabel(read_multilabel_predictions(run / "predictions.csv"), 8)
    assert [str(m.paths[i]) for i in m.rows_for("cnn")] == [p.path for p in picks]
    assert all(m.labels[r, k] == 1 for r, k in m.label_for("cnn").items())
    # each map is Grad-CAM of the explained label's logit, computed here with captum
    from captum.attr import LayerAttribution, LayerGradCam

    x = explain._inputs(saved, torch.from_numpy(m.images))
    layer = model.get_submodule(m.layer)
    cam = LayerGradCam(model, layer).attribute(
        x, target=torch.from_numpy(m.explained), relu_attributions=True
    )
    direct = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")[:, 0]
    assert np.allclose(m.maps, direct.detach().clamp_min(0).numpy(), atol=1e-6)
    # the sanity check ran on the same label logits
    rec = read_sanity(written["sanity"])
    assert np.allclose(m.spearman, map_correlations(m.maps, m.randomised_maps), equal_nan=True)
    assert rec["n_images"] == n and len(rec["cascade"]) == m.cascade_layers.shape[0]


def test_a_named_label_is_explained_for_every_image(ml_run, tmp_path):
    data, run = ml_run
    m = read_maps(_explain(data, run, tmp_path, label="effusion")["maps"])
    assert m.target == "label effusion" and set(m.explained.tolist()) == {NAMES.index("effusion")}
    with pytest.raises(ValueError, match=r"explain\.label: unknown label 'pleura'"):
        _explain(data, run, tmp_path / "bad", label="pleura")


def test_errors_npz_holds_the_ensembles_worst_images(ml_run, tmp_path):
    data, run = ml_run
    err = read_errors(_explain(data, run, tmp_path)["errors"])
    expected = multilabel_errors({0: run / "predictions.csv"}, "cnn")
    assert err.multilabel and err.n_errors == len(expected.paths)
    shown = min(GALLERY_MAX, len(expected.paths))
    assert err.paths.tolist() == expected.paths[:shown]
    assert err.labels.shape == err.predicted.shape == (shown, len(NAMES))
    assert set(np.unique(err.labels).tolist()) <= {IGNORED, 0, 1}
    test = torch.load(data / "test.pt", weights_only=True)
    row = {p: i for i, p in enumerate(test["paths"])}
    for k, p in enumerate(err.paths[:3]):
        assert np.array_equal(err.images[k], test["images"][row[str(p)]].numpy())
    assert int(err.confusions[:, 2].sum()) == int(
        ((expected.labels != IGNORED) & (expected.calls != expected.labels)).sum()
    )


def test_figures_name_the_explained_label(ml_run, tmp_path):
    data, run = ml_run
    written = _explain(data, run, tmp_path / "cnn")
    m = read_maps(written["maps"])
    r = int(np.flatnonzero(m.labels[np.arange(len(m.paths)), m.explained] == 1)[0])
    k = int(m.explained[r])
    assert figure._map_title(m, r) == f"{NAMES[k]} (p {m.probabilities[r, k]:.2f})"
    m.labels[r, k] = 0
    assert figure._map_title(m, r).endswith("\nabsent")
    comparisons = {"cmp": {"baseline": "cnn", "variants": ["again"]}}
    figures = {("cmp", kind): tmp_path / f"{kind}.png" for kind in ("saliency", "errors")}
    maps = {v: written["maps"] for v in ("cnn", "again")}
    errors = {v: written["errors"] for v in ("cnn", "again")}
    paths = gallery.plot_explain_figures(comparisons, maps, errors, figures)
    assert all(p.stat().st_size > 5000 for p in paths)
    heading = gallery.gallery_heading(read_errors(written["errors"]), "baseline")
    assert "test images with a wrong call" in heading and "most often wrong:" in heading


def test_maps_npz_of_a_multilabel_study_checks_its_shapes(ml_run, tmp_path):
    data, run = ml_run
    m = read_maps(_explain(data, run, tmp_path)["maps"])
    m.explained = m.explained[:-1]
    write_maps(tmp_path / "short.npz", m)
    with pytest.raises(ValueError, match=r"short\.npz: arrays \['explained'\] do not match"):
        read_maps(tmp_path / "short.npz")


def test_a_single_label_multilabel_model_attributes_its_logit_not_its_negative():
    model = build_model("conv", {"width": 4, "fc": 8}, 1, 16, n_classes=1, multilabel=True)
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(explain.ClassScores(model.eval(), multilabel=True)(x), model(x))


# --- figures at many labels with long names --------------------------------------------------

LONG = [f"{name}_{i}" for i, name in enumerate(["Pleural_Thickening", "Consolidation"] * 7)]


def _memory_maps(variant: str, names: list[str], n: int, seed: int):
    """A multi-label maps.npz's content (14 labels, long names), as the figure reads it."""
    from biomedclf.explain.files import MAPS_FORMAT, SaliencyMaps

    rng = np.random.default_rng(seed)
    k = len(names)
    labels = (rng.random((n, k)) < 0.4).astype(np.int64)
    labels[np.arange(n), rng.integers(0, k, n)] = 1  # a finding in every image
    labels[rng.random((n, k)) < 0.05] = IGNORED
    chosen = np.array([rng.choice(np.flatnonzero(row == 1)) for row in labels])
    return SaliencyMaps(
        format=MAPS_FORMAT,
        variant=variant,
        seed=0,
        method="grad_cam",
        layer="features.6",
        target="most probable positive label",
        class_names=np.array(names),
        paths=np.array([f"img{i}.png" for i in range(n)]),
        labels=labels,
        probabilities=rng.random((n, k)).astype(np.float32),
        images=rng.integers(0, 255, (n, 1, 28, 28), dtype=np.uint8),
        maps=rng.random((n, 28, 28)).astype(np.float32),
        randomised_maps=rng.random((n, 28, 28)).astype(np.float32),
        spearman=rng.random(n),
        cascade_layers=np.array(["fc"]),
        cascade_spearman=rng.random((1, n)),
        selection_baseline=np.array(["base"] * n),
        selection_image=np.arange(n),
        selection_outcome=np.array(["correct", "wrong"] * (n // 2) + ["correct"] * (n % 2)),
        selection_rank=np.arange(n) // 2,
        first_layer_weights=np.zeros((0, 1, 28, 28), np.float32),
        explained=rng.integers(0, k, n),
        selection_label=chosen,
    )


def _memory_errors(variant: str, names: list[str], shown: int, seed: int):
    from biomedclf.explain.files import ERRORS_FORMAT, ErrorImages

    rng = np.random.default_rng(seed)
    k = len(names)
    labels = (rng.random((shown, k)) < 0.4).astype(np.int64)
    return ErrorImages(
        format=ERRORS_FORMAT,
        variant=variant,
        seeds=np.array([0, 1, 2]),
        n_test=500,
        n_errors=shown + 7,
        class_names=np.array(names),
        paths=np.array([f"img{i}.png" for i in range(shown)]),
        labels=labels,
        predicted=np.where(rng.random((shown, k)) < 0.3, 1 - labels, labels),
        confidence=rng.random((shown, k)),
        images=rng.integers(0, 255, (shown, 1, 28, 28), dtype=np.uint8),
        confusions=np.array([[0, 1, 9], [k - 1, 0, 7], [k // 2, 1, 3]]),
    )


@pytest.mark.parametrize("n_labels,n_images", [(2, 2), (14, 16), (14, 40)])
def test_multilabel_figures_fit_their_canvas_with_long_label_names(n_labels, n_images):
    from test_mosaic_shapes import check_mosaic

    names = LONG[:n_labels]
    members = ["base", "a_rather_long_variant_name"]
    maps = {
        v: _memory_maps("base" if i == 0 else v, names, n_images, i) for i, v in enumerate(members)
    }
    check_mosaic(figure.saliency_mosaic("c" * 30, members, maps))
    errors = [
        _memory_errors(v, names, shown, i) for i, (v, shown) in enumerate(zip(members, (24, 3)))
    ]
    check_mosaic(gallery.errors_mosaic("c" * 30, errors))


def test_a_multilabel_model_on_a_single_label_cache_is_refused(ml_run, tmp_path):
    from test_train import write_cache

    _, run = ml_run
    single = write_cache(tmp_path / "data")
    with pytest.raises(ValueError, match=r"model\.pt: a multi-label model, but the test split"):
        _explain(single, run, tmp_path / "o")
