"""Metrics against small cases worked out by hand, and against scikit-learn."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from biomedclf.metrics import METRIC_KEYS, binary_metrics, roc_curve, youden_threshold

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
    with caplog.at_level(logging.WARNING, logger="biomedclf.metrics"):
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
