"""The images the saliency figures show: a fixed, deterministic selection from the baseline's
predictions (both classes, correct and wrong, shared by every model of a comparison), the
union an explain job computes, and the errors of a seed ensemble."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aggregate_fixtures import make_study, write_fake_explain

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.evaluate.run_results import Predictions, load_predictions
from biomedclf.explain.files import read_maps
from biomedclf.explain.selection import ensemble_errors, select_images, selection_union


def _pred(probs: list[list[float]], labels: list[int], names=("a", "b")) -> Predictions:
    n = len(labels)
    return Predictions(
        paths=[f"img{i:02d}.png" for i in range(n)],
        labels=np.array(labels),
        probs=np.array(probs, dtype=float),
        class_names=list(names),
        source=Path("predictions.csv"),
    )


def test_selection_takes_the_most_confident_right_and_wrong_of_each_class():
    p1 = [0.1, 0.3, 0.45, 0.9, 0.8, 0.6, 0.99, 0.2, 0.4, 0.7]
    labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    pred = _pred([[1 - p, p] for p in p1], labels)
    picks = select_images(pred, 8)
    got = [(p.label, p.outcome, p.rank, p.path) for p in picks]
    assert got == [
        (0, "correct", 0, "img00.png"),
        (0, "correct", 1, "img01.png"),  # p(0) 0.9, 0.7
        (0, "wrong", 0, "img03.png"),
        (0, "wrong", 1, "img04.png"),  # p(1) 0.9, 0.8
        (1, "correct", 0, "img06.png"),
        (1, "correct", 1, "img09.png"),  # 0.99, 0.7
        (1, "wrong", 0, "img07.png"),
        (1, "wrong", 1, "img08.png"),  # p(0) 0.8, 0.6
    ]
    assert all(p.confidence >= 0.5 for p in picks)
    assert [p.predicted for p in picks] == [0, 0, 1, 1, 1, 1, 0, 0]


def test_selection_is_deterministic_with_ties_broken_by_path_and_reruns_alike():
    pred = _pred([[0.2, 0.8]] * 6 + [[0.8, 0.2]] * 6, [1] * 6 + [0] * 6)
    picks = select_images(pred, 4)
    assert [p.path for p in picks] == ["img06.png", "img07.png", "img00.png", "img01.png"]
    assert select_images(pred, 4) == picks
    reordered = Predictions(
        pred.paths[::-1], pred.labels[::-1], pred.probs[::-1], pred.class_names, pred.source
    )
    assert [p.path for p in select_images(reordered, 4)] == [p.path for p in picks]


def test_selection_fills_from_other_cells_when_a_class_has_no_errors():
    pred = _pred([[0.9, 0.1]] * 5 + [[0.3, 0.7]] * 5, [0] * 5 + [1] * 5)
    picks = select_images(pred, 6)
    assert {p.outcome for p in picks} == {"correct"} and len(picks) == 6
    assert sorted({p.label for p in picks}) == [0, 1]
    assert len(select_images(pred, 64)) == 10  # never more than the test split


def test_eleven_classes_show_every_class_before_a_second_image_of_any():
    rng = np.random.default_rng(0)
    labels = np.arange(110) % 11
    probs = rng.dirichlet(np.ones(11), 110)
    probs[np.arange(0, 110, 2), labels[::2]] += 2  # half right
    probs /= probs.sum(1, keepdims=True)
    pred = _pred(probs.tolist(), labels.tolist(), [f"c{k}" for k in range(11)])
    picks = select_images(pred, 16)
    assert len(picks) == 16
    correct = [p.label for p in picks if p.outcome == "correct"]
    assert sorted(correct) == list(range(11))  # one correct image of each class first
    called = predict_classes(pred.probs)
    for p in picks:
        assert (called[p.index] == p.label) == (p.outcome == "correct")


def test_union_keeps_each_image_once_in_baseline_order():
    pred = _pred([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], [0, 1, 1, 0])
    other = _pred([[0.1, 0.9], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]], [0, 1, 1, 0])
    a, b = select_images(pred, 4), select_images(other, 4)
    union = selection_union({"zeta": a, "alpha": b})
    assert union[: len(b)] == [p.path for p in b]
    assert sorted(union) == sorted({p.path for p in a + b})


def test_baseline_and_variant_share_the_baseline_selection(tmp_path):
    runs, study = make_study(tmp_path, seeds=[0, 1], n_test=40)
    maps = write_fake_explain(tmp_path, runs, study["comparisons"], n_images=8)
    baseline = study["comparisons"]["dropout"]["baseline"]
    base, variant = read_maps(maps[baseline]), read_maps(maps["cnn_dropout"])
    expected = [p.path for p in select_images(load_predictions(runs[2].predictions), 8)]
    assert runs[2].variant == baseline and runs[2].seed == 0
    assert [str(base.paths[i]) for i in base.rows_for(baseline)] == expected
    assert [str(variant.paths[i]) for i in variant.rows_for(baseline)] == expected
    # cnn is also the variant of ann_vs_cnn: its maps cover ann's selection too
    assert set(expected) < {str(p) for p in base.paths}


def test_errors_of_the_seed_ensemble(tmp_path):
    runs, _ = make_study(tmp_path, seeds=[0, 1, 2], n_test=60, n_classes=3)
    files = {r.seed: r.predictions for r in runs if r.variant == "ann"}
    err = ensemble_errors(files, "ann")
    preds = [load_predictions(files[s]) for s in (0, 1, 2)]
    mean = np.mean([p.probs for p in preds], axis=0)
    wrong = predict_classes(mean) != preds[0].labels
    assert len(err.paths) == int(wrong.sum()) and err.n_test == 60
    assert err.seeds == [0, 1, 2] and err.n_seeds == 3
    assert np.all(np.diff(err.confidence) <= 0)  # most confident first
    assert np.all(err.predicted != err.labels)
    counts = err.confusions()
    assert sum(n for _, _, n in counts) == len(err.paths)
    assert [n for _, _, n in counts] == sorted((n for _, _, n in counts), reverse=True)
    # loaded predictions, in any order: averaged in seed order, the same bits
    loaded = {2: preds[2], 0: preds[0], 1: preds[1]}
    again = ensemble_errors(loaded, "ann")
    assert again.paths == err.paths and again.confidence.tobytes() == err.confidence.tobytes()
    assert again.seeds == [0, 1, 2]
    with pytest.raises(ValueError, match="variant nope: no predictions"):
        ensemble_errors({}, "nope")
