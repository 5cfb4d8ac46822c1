"""Split groups and group-aware stratified splitting."""

from __future__ import annotations

import numpy as np
import pytest

from biomedclf.data.split import SplitError, assign_splits, carve, check_nonempty, split_groups


def test_split_groups_joins_names_and_hashes() -> None:
    groups = ["p1", "p1", None, None, "p2", None]
    hashes = ["h1", "h2", "h2", "h3", "h4", "h3"]
    ids = split_groups(groups, hashes)
    # 0-1 by name, 1-2 by hash, 3-5 by hash; 4 alone.
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] == ids[5]
    assert len(set(ids.tolist())) == 3
    assert ids.tolist() == [0, 0, 0, 1, 2, 1]  # numbered by first appearance


def test_split_groups_without_anything_is_singletons() -> None:
    assert split_groups([None] * 4).tolist() == [0, 1, 2, 3]


def test_assign_splits_stratified_exact_without_groups() -> None:
    labels = np.array([0] * 60 + [1] * 40)
    ids = np.arange(100)
    splits = assign_splits(labels, ids, val=0.15, test=0.2, seed=0)
    counts = check_nonempty(splits, labels, ["a", "b"])
    assert counts["test"] == {"a": 12, "b": 8}
    assert counts["val"] == {"a": 9, "b": 6}
    assert np.array_equal(splits, assign_splits(labels, ids, 0.15, 0.2, seed=0))
    assert not np.array_equal(splits, assign_splits(labels, ids, 0.15, 0.2, seed=1))


@pytest.mark.parametrize("mixed", [False, True])
def test_assign_splits_never_cuts_a_group(mixed: bool) -> None:
    rng = np.random.default_rng(0)
    ids = np.repeat(np.arange(60), rng.integers(1, 5, 60))
    labels = (ids % 2).astype(np.int64)
    if mixed:
        labels[::7] = 1 - labels[::7]
    splits = assign_splits(labels, ids, val=0.15, test=0.2, seed=3)
    for g in np.unique(ids):
        assert len(set(splits[ids == g])) == 1
    frac_test = np.mean(splits == "test")
    assert 0.1 < frac_test < 0.3
    check_nonempty(splits, labels, ["a", "b"])


def test_carve_fraction_and_errors() -> None:
    labels = np.array([0, 1] * 20)
    mask = carve(labels, np.arange(40), 0.25, seed=0)
    assert mask.sum() == 10 and labels[mask].sum() == 5
    with pytest.raises(SplitError, match="cannot carve val"):
        carve(np.array([0, 0, 0, 1]), np.arange(4), 0.25, seed=0, what="val")


def test_check_nonempty_names_class_and_counts() -> None:
    splits = np.array(["train", "train", "val", "test", "test"], dtype=object)
    labels = np.array([0, 1, 0, 0, 1])
    with pytest.raises(
        SplitError, match=r"'val' would hold no image of class 'pos'.*val: neg 1, pos 0"
    ):
        check_nonempty(splits, labels, ["neg", "pos"])


def test_fractions_must_leave_training_data() -> None:
    with pytest.raises(SplitError, match="data.split.val"):
        assign_splits(np.array([0, 1] * 5), np.arange(10), val=0.5, test=0.5, seed=0)


def test_k_class_split_is_stratified_and_exact() -> None:
    labels = np.repeat(np.arange(5), [40, 60, 20, 80, 100])
    splits = assign_splits(labels, np.arange(len(labels)), val=0.15, test=0.2, seed=0)
    names = ["a", "b", "c", "d", "e"]
    counts = check_nonempty(splits, labels, names)
    assert counts["test"] == {"a": 8, "b": 12, "c": 4, "d": 16, "e": 20}
    assert counts["val"] == {"a": 6, "b": 9, "c": 3, "d": 12, "e": 15}


@pytest.mark.parametrize("mixed", [False, True])
def test_k_class_split_never_cuts_a_group(mixed: bool) -> None:
    rng = np.random.default_rng(1)
    ids = np.repeat(np.arange(120), rng.integers(1, 4, 120))
    labels = (ids % 4).astype(np.int64)
    if mixed:
        labels[::9] = (labels[::9] + 1) % 4
    splits = assign_splits(labels, ids, val=0.15, test=0.2, seed=2)
    for g in np.unique(ids):
        assert len(set(splits[ids == g])) == 1
    counts = check_nonempty(splits, labels, ["a", "b", "c", "d"])
    for k, name in enumerate("abcd"):  # each class about 20 % in test
        assert 0.1 < counts["test"][name] / (labels == k).sum() < 0.3


def test_carve_with_k_classes() -> None:
    labels = np.array([0, 1, 2] * 20)
    mask = carve(labels, np.arange(60), 0.25, seed=0, class_names=["x", "y", "z"])
    assert mask.sum() == 15
    assert np.bincount(labels[mask]).tolist() == [5, 5, 5]


def test_a_class_with_too_few_groups_is_named_with_its_count() -> None:
    labels = np.array([0] * 10 + [1] * 10 + [2] * 2)
    with pytest.raises(SplitError, match=r"class 'c' has only 2 image\(s\), but train, val"):
        assign_splits(labels, np.arange(22), 0.15, 0.2, seed=0, class_names=["a", "b", "c"])
    labels[-4:] = 2  # four images of c, two of them in one group: three groups
    assign_splits(labels, np.array(list(range(18)) + [18, 19, 20, 20]), 0.15, 0.2, 0, "abc")
    with pytest.raises(SplitError, match=r"'c' has only 1 image\(s\).*val and the rest"):
        carve(np.array([0] * 9 + [1] * 9 + [2]), np.arange(19), 0.2, 0, "abc", what="val")
    with pytest.raises(SplitError, match=r"'c' has only 2 image\(s\) in 1 group\(s\)"):
        carve(np.array([0] * 9 + [1] * 9 + [2] * 2), np.array([*range(19), 18]), 0.2, 0, "abc")
