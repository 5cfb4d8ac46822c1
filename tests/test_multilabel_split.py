"""Multi-label splits and folds: whole patients, stratified on label sets, seeded, and the
iterative-stratification package's folds."""

from __future__ import annotations

import numpy as np
import pytest

from biomedclf.data.multilabel_split import (
    assign_multilabel_folds,
    assign_multilabel_splits,
    group_label_sets,
    inner_multilabel_validation,
    prevalence,
    stratify_groups,
)
from biomedclf.data.split import SplitError

NAMES = ["a", "b", "c", "d", "e"]
PREVALENCE = np.array([0.4, 0.25, 0.12, 0.06, 0.03])


def patient_set(n_patients: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels (images x 5) and patient ids: 1-3 images per patient; a patient's findings
    show in each of its images with probability 0.8, independently per label."""
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(n_patients), rng.integers(1, 4, n_patients))
    has = rng.random((n_patients, len(NAMES))) < PREVALENCE
    labels = (has[patients] & (rng.random((len(patients), len(NAMES))) < 0.8)).astype(np.int8)
    return labels, np.array([f"p{p}" for p in patients])


def test_group_label_sets_union_of_kept_positives() -> None:
    labels = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    mask = np.array([[1, 1], [1, 0], [1, 1], [0, 1]], bool)
    per_group, inverse = group_label_sets(labels, mask, np.array(["x", "x", "y", "z"]))
    assert per_group.tolist() == [[True, False], [False, False], [False, True]]
    assert inverse.tolist() == [0, 0, 1, 2]


def test_split_keeps_patients_whole_and_prevalence_close() -> None:
    labels, patients = patient_set(1500)
    splits = assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 0, NAMES)
    for p in np.unique(patients):
        assert len(set(splits[patients == p])) == 1, p
    # fractions of patients as asked, within a patient or two
    n_pat = len(np.unique(patients))
    for part, share in (("val", 0.15), ("test", 0.2)):
        assert len(np.unique(patients[splits == part])) == pytest.approx(share * n_pat, abs=2)
    prev = prevalence(labels, None, splits, NAMES)
    for j, name in enumerate(NAMES):
        assert prev["all"][name] == pytest.approx(labels[:, j].mean())
        for part in ("train", "val", "test"):
            # patient-level stratification: within 25% (relative) or 0.01 of the overall
            assert prev[part][name] == pytest.approx(prev["all"][name], rel=0.25, abs=0.01)


def test_split_is_stratified_better_than_chance() -> None:
    """Positive patients per label land in each part in proportion (to one patient), which a
    random patient split does not do for every label."""
    labels, patients = patient_set(800, seed=3)
    splits = assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 1, NAMES)
    per_group, inverse = group_label_sets(labels, None, patients)
    part_of_group = np.empty(len(per_group), dtype=object)
    part_of_group[inverse] = splits
    for part, share in (("train", 0.65), ("val", 0.15), ("test", 0.2)):
        got = per_group[part_of_group == part].sum(axis=0)
        assert np.all(np.abs(got - share * per_group.sum(axis=0)) <= 1.0), (part, got)


def test_split_is_deterministic_and_seeded() -> None:
    labels, patients = patient_set(300)
    labels = labels[:, :3]
    first = assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 7, NAMES[:3])
    assert np.array_equal(
        first, assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 7, NAMES[:3])
    )
    other = assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 8, NAMES[:3])
    assert not np.array_equal(first, other)


def test_masked_positives_do_not_count() -> None:
    labels, patients = patient_set(300)
    mask = np.ones(labels.shape, bool)
    mask[:, 4] = labels[:, 4] == 0  # label e: every positive ignored
    with pytest.raises(SplitError, match=r"'e': 0\b"):
        assign_multilabel_splits(labels, mask, patients, 0.15, 0.2, 0, NAMES)


def test_too_few_positive_patients_is_refused_with_counts() -> None:
    labels, patients = patient_set(200)
    labels[:, 4] = 0
    labels[patients == "p5", 4] = 1
    labels[patients == "p9", 4] = 1
    with pytest.raises(SplitError) as err:
        assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 0, NAMES)
    msg = str(err.value)
    assert "'e': 2" in msg and "train, val, test" in msg and "data.classes" in msg


def test_a_part_left_without_positives_is_reported() -> None:
    """Three positive patients pass the count check, but a 10% test share of three rounds
    to none: the check after the cut names the label and the positives per split."""
    labels, patients = patient_set(200)
    labels[:, 4] = 0
    for p in ("p1", "p2", "p3"):
        labels[patients == p, 4] = 1
    with pytest.raises(SplitError, match=r"no positive image of label 'e' \(positives: train"):
        assign_multilabel_splits(labels, None, patients, 0.1, 0.1, 0, NAMES)


def test_fractions_must_leave_training_and_names_match_columns() -> None:
    labels, patients = patient_set(50)
    with pytest.raises(SplitError, match=r"data.split.val \(0.5\) \+ data.split.test"):
        assign_multilabel_splits(labels, None, patients, 0.5, 0.5, 0, NAMES)
    with pytest.raises(ValueError, match="2 label names for 5 label columns"):
        assign_multilabel_splits(labels, None, patients, 0.15, 0.2, 0, NAMES[:2])


def test_folds_are_iterstrat_multilabel_kfold_on_patients() -> None:
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

    labels, patients = patient_set(400)
    labels = labels[:, :4]
    fold = assign_multilabel_folds(labels, None, patients, 5, 3, NAMES[:4])
    per_group, inverse = group_label_sets(labels, None, patients)
    splitter = MultilabelStratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    expected = np.empty(len(per_group), dtype=np.int64)
    for f, (_, held) in enumerate(splitter.split(np.zeros(len(per_group)), per_group)):
        expected[held] = f
    assert np.array_equal(fold, expected[inverse])
    for p in np.unique(patients):
        assert len(set(fold[patients == p])) == 1


def test_folds_refuse_a_label_rarer_than_k() -> None:
    labels, patients = patient_set(300)
    with pytest.raises(SplitError, match=r"data.split.folds: 40 folds.*'e'"):
        assign_multilabel_folds(labels, None, patients, 40, 0, NAMES)


def test_inner_validation_outside_the_fold_and_whole_patients() -> None:
    labels, patients = patient_set(400)
    labels = labels[:, :3]
    fold = assign_multilabel_folds(labels, None, patients, 4, 0, NAMES[:3])
    inner = inner_multilabel_validation(labels, None, patients, fold, 0.2, 0)
    assert len(inner) == 4
    for f, rows in enumerate(inner):
        assert not np.any(fold[rows] == f)
        inside = set(patients[rows])
        outside = set(patients[np.setdiff1d(np.flatnonzero(fold != f), rows)])
        assert not inside & outside
        share = len(inside) / len(set(patients[fold != f]))
        assert share == pytest.approx(0.2, abs=0.01)


def test_stratify_groups_equal_ratios_spread_all_zero_groups() -> None:
    per_group = np.zeros((10, 2), bool)
    part = stratify_groups(per_group, [0.5, 0.5], 0)
    assert np.bincount(part).tolist() == [5, 5]
