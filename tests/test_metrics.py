"""Metrics against small cases worked out by hand, and against scikit-learn."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from biomedclf.evaluate.metrics import METRIC_KEYS, binary_metrics
from biomedclf.evaluate.multiclass import multiclass_metrics, predict_classes
from biomedclf.train.threshold import roc_curve, youden_threshold

LABELS = [0, 0, 0, 1, 1, 1]
PROBS = [0.1, 0.6, 0.3, 0.8, 0.4, 0.9]


def test_six_samples_at_half() -> None:
    m = binary_metrics(LABELS, PROBS, 0.5)
    assert list(m) == list(METRIC_KEYS)
    # calls: [0, 1, 0, 1, 0, 1] -> tn 2 (0.1, 0.3), fp 1 (0.6), fn 1 (0.4), tp 2 (0.8, 0.9)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # AUROC: of the 9 (pos, neg) pairs the positive scores higher in 8 (0.4 < 0.6 only)
    assert m["auroc"] == pytest.approx(8 / 9)
    # AP: ranked 0.9 P, 0.8 P, 0.6 N, 0.4 P -> precisions at the positives 1, 1, 3/4
    assert m["average_precision"] == pytest.approx((1 + 1 + 0.75) / 3)
    # Brier: (0.01 + 0.36 + 0.09 + 0.04 + 0.36 + 0.01) / 6
    assert m["brier"] == pytest.approx(0.87 / 6)
    assert m["threshold"] == 0.5


def test_threshold_is_inclusive_and_changes_calls() -> None:
    m = binary_metrics(LABELS, PROBS, 0.6)  # 0.6 itself is called positive
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    m = binary_metrics(LABELS, PROBS, 0.7)
    assert m["confusion_matrix"] == [[3, 0], [1, 2]]
    assert m["specificity"] == 1.0
    assert m["precision"] == 1.0
    assert m["sensitivity"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(0.8)  # 2 * 1 * 2/3 / (1 + 2/3)
    assert m["auroc"] == pytest.approx(8 / 9)  # threshold-free


def test_youden_threshold_by_hand() -> None:
    # J at each score: 0.9 -> 1/3, 0.8 -> 2/3, 0.6 -> 1/3, 0.4 -> 2/3, 0.3 -> 1/3, 0.1 -> 0.
    # First maximum at 0.8; scores in (0.6, 0.8] classify alike -> midpoint 0.7.
    assert youden_threshold(LABELS, PROBS) == pytest.approx(0.7)
    # perfectly separated: the cut lands between the classes
    assert youden_threshold([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9]) == pytest.approx(0.45)


def test_single_class_gives_none_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="biomedclf.evaluate.metrics"):
        m = binary_metrics([0, 0, 0], [0.1, 0.6, 0.3], 0.5)
        t = youden_threshold([1, 1], [0.2, 0.9])
    assert t == 0.5
    assert m["auroc"] is None and m["average_precision"] is None
    assert m["sensitivity"] is None and m["balanced_accuracy"] is None
    assert m["specificity"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"] == [[2, 1], [0, 0]]
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.09) / 3)
    assert "only class 0" in caplog.text and "only one class" in caplog.text


def test_no_positive_calls_precision_undefined() -> None:
    m = binary_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], 0.5)
    assert m["confusion_matrix"] == [[2, 0], [2, 0]]
    assert m["precision"] is None
    assert m["sensitivity"] == 0.0
    assert m["auroc"] == pytest.approx(0.75)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        binary_metrics([0, 1], [0.5], 0.5)
    with pytest.raises(ValueError, match="0/1"):
        binary_metrics([0, 2], [0.5, 0.5], 0.5)
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics([0, 1], [0.5, float("nan")], 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_every_value_matches_scikit_learn(seed: int) -> None:
    """The numpy implementations give scikit-learn's values, ties in the scores included."""
    from sklearn import metrics as sk

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = np.round(rng.random(n), int(rng.integers(1, 4)))  # coarse scores: many ties
    fpr, tpr, thr = roc_curve(y, p)
    sk_fpr, sk_tpr, sk_thr = sk.roc_curve(y, p, drop_intermediate=False)
    np.testing.assert_array_equal(thr, sk_thr)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=1e-15)
    for t in (0.5, float(np.median(p)), youden_threshold(y, p)):
        got = binary_metrics(y, p, t)
        pred = (p >= t).astype(int)
        expected = {
            "accuracy": sk.accuracy_score(y, pred),
            "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
            "sensitivity": sk.recall_score(y, pred, zero_division=np.nan),
            "specificity": sk.recall_score(y, pred, pos_label=0, zero_division=np.nan),
            "precision": sk.precision_score(y, pred, zero_division=np.nan),
            "f1": sk.f1_score(y, pred, zero_division=np.nan),
            "auroc": sk.roc_auc_score(y, p),
            "average_precision": sk.average_precision_score(y, p),
            "brier": sk.brier_score_loss(y, p),
        }
        for key, value in expected.items():
            if np.isnan(value):
                assert got[key] is None, key
            else:
                assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        assert got["confusion_matrix"] == sk.confusion_matrix(y, pred).tolist()


# ---- more than two classes ------------------------------------------------------------------


def _random_case(seed: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and class probabilities with many ties: coarse logits, rounded probabilities."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3 * k, 400))
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)  # every class present
    logits = np.round(rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y], 1)
    p = np.exp(logits)
    p = np.round(p / p.sum(axis=1, keepdims=True), int(rng.integers(1, 3)))
    return y, p


def _hand_brier_and_ece(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[float, float]:
    """The multi-class Brier score and the top-label ECE by their formulas, loop by loop."""
    n, k = p.shape
    brier = sum(sum((p[i, c] - (y[i] == c)) ** 2 for c in range(k)) for i in range(n)) / n
    pred = predict_classes(p)
    bins: dict[int, list[tuple[float, bool]]] = {}
    for i in range(n):
        conf = p[i, pred[i]]
        bins.setdefault(min(int(conf * n_bins), n_bins - 1), []).append((conf, pred[i] == y[i]))
    ece = sum(
        len(b) / n * abs(np.mean([c for c, _ in b]) - np.mean([r for _, r in b]))
        for b in bins.values()
    )
    return brier, ece


@pytest.mark.parametrize("k", [2, 3, 9])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ordinal", [False, True])
def test_multiclass_metrics_match_scikit_learn(k: int, seed: int, ordinal: bool) -> None:
    """Every multi-class value against sklearn.metrics (and the hand formulas of Brier and
    ECE), on random data with ties in the probabilities."""
    from sklearn import metrics as sk

    y, p = _random_case(seed, k)
    m = multiclass_metrics(y, p, None, ordinal)
    pred = predict_classes(p)
    if k == 2:
        np.testing.assert_array_equal(pred, (p[:, 1] >= 0.5).astype(int))
    else:
        np.testing.assert_array_equal(pred, np.argmax(p, axis=1))
    labels = list(range(k))
    expected = {
        "accuracy": sk.accuracy_score(y, pred),
        "balanced_accuracy": sk.balanced_accuracy_score(y, pred),
        "macro_f1": sk.f1_score(y, pred, average="macro"),
        "weighted_f1": sk.f1_score(y, pred, average="weighted"),
        "kappa": sk.cohen_kappa_score(
            y, pred, labels=labels, weights="quadratic" if ordinal else None
        ),
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert m["kappa_weights"] == ("quadratic" if ordinal else "none")
    assert m["confusion_matrix"] == sk.confusion_matrix(y, pred, labels=labels).tolist()
    prec, rec, f1, support = sk.precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=np.nan
    )
    aurocs, aps = [], []
    for c, row in enumerate(m["per_class"]):
        assert (row["class"], row["index"], row["support"]) == (str(c), c, int(support[c]))
        for key, want in (("precision", prec[c]), ("recall", rec[c]), ("f1", f1[c])):
            assert (row[key] is None) if np.isnan(want) else row[key] == pytest.approx(want), key
        want_spec = sk.recall_score(y == c, pred == c, pos_label=False, zero_division=np.nan)
        assert row["specificity"] == pytest.approx(want_spec)
        aurocs.append(sk.roc_auc_score(y == c, p[:, c]))
        aps.append(sk.average_precision_score(y == c, p[:, c]))
        assert row["auroc"] == pytest.approx(aurocs[-1], rel=1e-12)
        assert row["average_precision"] == pytest.approx(aps[-1], rel=1e-12)
    assert m["macro_auroc"] == pytest.approx(np.mean(aurocs))
    assert m["macro_average_precision"] == pytest.approx(np.mean(aps))
    assert m["macro_precision"] == pytest.approx(np.nanmean(prec))
    assert m["macro_recall"] == pytest.approx(m["balanced_accuracy"])
    brier, ece = _hand_brier_and_ece(y, p)
    assert m["brier"] == pytest.approx(brier, rel=1e-12)
    assert m["ece"] == pytest.approx(ece, rel=1e-12, abs=1e-15)


def test_two_classes_agree_with_the_binary_block() -> None:
    """For K = 2 the multi-class block calls like the threshold-0.5 block."""
    y, p = _random_case(11, 2)
    mc = multiclass_metrics(y, p, None, False)
    b = binary_metrics(y, p[:, 1], 0.5)
    assert mc["accuracy"] == b["accuracy"]
    assert mc["confusion_matrix"] == b["confusion_matrix"]
    assert mc["per_class"][1]["recall"] == pytest.approx(b["sensitivity"])
    assert mc["per_class"][1]["specificity"] == pytest.approx(b["specificity"])
    assert mc["per_class"][1]["auroc"] == pytest.approx(b["auroc"])
    assert mc["brier"] == pytest.approx(2 * b["brier"])  # summed over both classes
    assert mc["prediction"] == "class 1 when its probability >= 0.5"


def test_quadratic_kappa_by_hand() -> None:
    """Ordered grades: a call one grade off costs 1, two grades off 4 (quadratic weights)."""
    y = [0, 0, 1, 1, 2, 2]
    p = np.eye(3)[[0, 1, 1, 1, 2, 0]]  # one call one grade off, one two grades off
    # observed disagreement: weights 1 + 4 = 5 over 6 images; expected: from the row sums
    # (true) [2, 2, 2] and column sums (predicted) [2, 3, 1], sum_ij w_ij * r_i * c_j / 6
    r, c = np.array([2, 2, 2]), np.array([2, 3, 1])
    w = (np.arange(3)[:, None] - np.arange(3)[None, :]) ** 2
    want = 1 - 5 / (np.sum(w * np.outer(r, c)) / 6)
    assert multiclass_metrics(y, p, None, True)["kappa"] == pytest.approx(want)
    unweighted = 1 - (2 / 6) / (1 - np.sum(r * c) / 36)
    assert multiclass_metrics(y, p, None, False)["kappa"] == pytest.approx(unweighted)


def test_undefined_multiclass_values_are_null_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    y = [0, 0, 1, 1]  # class 2 has no test image and is never predicted
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1]])
    with caplog.at_level(logging.WARNING, logger="biomedclf.evaluate.multiclass"):
        m = multiclass_metrics(y, p, ["a", "b", "c"], False)
    c = m["per_class"][2]
    assert c["support"] == 0 and c["recall"] is None and c["precision"] is None
    assert c["auroc"] is None and c["average_precision"] is None and c["f1"] is None
    assert c["specificity"] == 1.0
    assert m["macro_auroc"] == pytest.approx(np.mean([m["per_class"][i]["auroc"] for i in (0, 1)]))
    assert "class(es) c" in caplog.text
    one = multiclass_metrics([1, 1], np.eye(3)[[1, 1]], None, False)
    assert one["kappa"] is None and one["accuracy"] == 1.0
    json.dumps(m, allow_nan=False)


def test_multiclass_input_is_checked() -> None:
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        multiclass_metrics([0, 3], np.full((2, 3), 1 / 3), None, False)
    with pytest.raises(ValueError, match="shape"):
        multiclass_metrics([0, 1], np.full((3, 3), 1 / 3), None, False)
    with pytest.raises(ValueError, match="NaN"):
        multiclass_metrics([0, 1], [[0.5, np.nan], [0.5, 0.5]], None, False)
    with pytest.raises(ValueError, match="2 class names for 3"):
        multiclass_metrics([0, 1], np.full((2, 3), 1 / 3), ["a", "b"], False)
