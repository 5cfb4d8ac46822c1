"""Multi-label metrics against scikit-learn: per label, macro and micro, with and without a
mask of ignored entries; thresholds chosen per label on validation."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from biomedclf.evaluate.multilabel import MEAN_OF, choose_thresholds, multilabel_metrics

NAMES = ["a", "b", "c", "d"]


def scored(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, probabilities that carry some signal (rounded: many ties) and a mask."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(NAMES))) < [0.5, 0.3, 0.15, 0.08]).astype(np.int64)
    p = np.clip(0.35 * y + rng.random(y.shape) * 0.65, 0, 1).round(2)
    mask = rng.random(y.shape) > 0.2
    return y, p, mask


def sk_label(y: np.ndarray, p: np.ndarray, thr: float) -> dict[str, float]:
    """scikit-learn's per-label metrics of one label's kept entries."""
    call = (p >= thr).astype(int)
    return {
        "auroc": roc_auc_score(y, p),
        "average_precision": average_precision_score(y, p),
        "f1": f1_score(y, call),
        "sensitivity": recall_score(y, call),
        "specificity": recall_score(y, call, pos_label=0),
        "precision": precision_score(y, call),
    }


@pytest.mark.parametrize("masked", [False, True])
def test_per_label_and_means_match_sklearn(masked: bool) -> None:
    y, p, mask = scored(0)
    mask = mask if masked else np.ones_like(mask)
    thr = np.array([0.5, 0.45, 0.6, 0.55])
    m = multilabel_metrics(y, p, thr, NAMES, mask if masked else None)
    sk = [sk_label(y[mask[:, j], j], p[mask[:, j], j], thr[j]) for j in range(len(NAMES))]
    for j, row in enumerate(m["per_label"]):
        assert row["label"] == NAMES[j] and row["index"] == j and row["note"] is None
        assert row["n"] == mask[:, j].sum() and row["positives"] == y[mask[:, j], j].sum()
        for key in MEAN_OF:
            assert row[key] == pytest.approx(sk[j][key], abs=1e-12), (NAMES[j], key)
    for key in MEAN_OF:
        assert m[f"macro_{key}"] == pytest.approx(np.mean([s[key] for s in sk]), abs=1e-12)
    assert m["mean_auroc"] == m["macro_auroc"] and m["n_labels_auroc"] == 4
    # micro: every kept entry of every label pooled, each called at its label's threshold
    yk, pk, ck = y[mask], p[mask], (p >= thr)[mask].astype(int)
    assert m["micro_auroc"] == pytest.approx(roc_auc_score(yk, pk), abs=1e-12)
    assert m["micro_average_precision"] == pytest.approx(average_precision_score(yk, pk), abs=1e-12)
    assert m["micro_f1"] == pytest.approx(f1_score(yk, ck), abs=1e-12)
    assert m["micro_sensitivity"] == pytest.approx(recall_score(yk, ck), abs=1e-12)
    assert m["micro_specificity"] == pytest.approx(recall_score(yk, ck, pos_label=0), abs=1e-12)
    assert m["micro_precision"] == pytest.approx(precision_score(yk, ck), abs=1e-12)


def test_unmasked_means_match_sklearn_multilabel_averages() -> None:
    y, p, _ = scored(1)
    thr = np.full(4, 0.5)
    calls = (p >= thr).astype(int)
    m = multilabel_metrics(y, p, thr, NAMES)
    for avg in ("macro", "micro"):
        assert m[f"{avg}_auroc"] == pytest.approx(roc_auc_score(y, p, average=avg), abs=1e-12)
        ap = average_precision_score(y, p, average=avg)
        assert m[f"{avg}_average_precision"] == pytest.approx(ap, abs=1e-12)
        assert m[f"{avg}_f1"] == pytest.approx(f1_score(y, calls, average=avg), abs=1e-12)
        assert m[f"{avg}_sensitivity"] == pytest.approx(recall_score(y, calls, average=avg))
        assert m[f"{avg}_precision"] == pytest.approx(precision_score(y, calls, average=avg))


def test_one_class_label_is_none_with_a_note_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    y, p, mask = scored(2)
    mask[:, 3] &= y[:, 3] == 0  # label d keeps only negatives on this test split
    thr = np.full(4, 0.5)
    with caplog.at_level(logging.WARNING, logger="biomedclf.evaluate.multilabel"):
        m = multilabel_metrics(y, p, thr, NAMES, mask)
    d = m["per_label"][3]
    assert d["auroc"] is None and d["average_precision"] is None and d["sensitivity"] is None
    assert "only negatives" in d["note"] and "AUROC" in d["note"]
    assert d["specificity"] == pytest.approx(
        recall_score(y[mask[:, 3], 3], p[mask[:, 3], 3] >= 0.5, pos_label=0)
    )
    assert "label 'd'" in caplog.text
    assert m["n_labels_auroc"] == 3
    defined = [roc_auc_score(y[mask[:, j], j], p[mask[:, j], j]) for j in range(3)]
    assert m["mean_auroc"] == pytest.approx(np.mean(defined), abs=1e-12)
    # sklearn's macro F1 with zero_division=nan leaves undefined labels out, as here
    mask[:, 3] = False
    m = multilabel_metrics(y, p, thr, NAMES, mask)
    assert m["per_label"][3]["n"] == 0 and m["per_label"][3]["f1"] is None
    assert "no kept entry" in m["per_label"][3]["note"]
    f1s = [f1_score(y[mask[:, j], j], p[mask[:, j], j] >= 0.5) for j in range(3)]
    assert m["macro_f1"] == pytest.approx(np.mean(f1s), abs=1e-12)


def test_thresholds_maximise_youden_j_per_label_on_kept_entries() -> None:
    y, p, mask = scored(3)
    thr = choose_thresholds(y, p, mask)
    assert thr.shape == (4,)
    for j in range(4):
        yk, pk = y[mask[:, j], j], p[mask[:, j], j]
        fpr, tpr, _ = roc_curve(yk, pk, drop_intermediate=False)
        call = pk >= thr[j]
        j_at = recall_score(yk, call) + recall_score(yk, call, pos_label=0) - 1
        assert j_at == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    # an ignored entry cannot move a threshold: rescoring it changes nothing
    p2 = p.copy()
    p2[~mask] = 1 - p2[~mask]
    assert np.array_equal(thr, choose_thresholds(y, p2, mask))


def test_threshold_of_a_one_class_label_is_half() -> None:
    y, p, mask = scored(4)
    y[:, 2] = 0
    assert choose_thresholds(y, p, mask)[2] == 0.5


def test_bad_inputs_are_refused() -> None:
    y, p, mask = scored(5)
    with pytest.raises(ValueError, match="must all be"):
        multilabel_metrics(y[:, :3], p, np.full(4, 0.5), NAMES)
    with pytest.raises(ValueError, match="4 names and 3 thresholds"):
        multilabel_metrics(y, p, np.full(3, 0.5), NAMES)
    p[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        multilabel_metrics(y, p, np.full(4, 0.5), NAMES)
    mask[0, 0] = False  # an ignored entry may hold anything, a NaN probability or label -1
    y[0, 0] = -1
    assert (
        multilabel_metrics(y, p, np.full(4, 0.5), NAMES, mask)["per_label"][0]["n"]
        == mask[:, 0].sum()
    )
