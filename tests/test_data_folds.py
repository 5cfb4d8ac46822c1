"""Cross-validation folds: group-aware and stratified fold assignment, inner validation parts
that never touch the held-out fold, the fold count check, and prepare's outputs with folds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import data_config, data_files

from biomedclf.data.cache import load_split
from biomedclf.data.fold_cache import fold_parts
from biomedclf.data.folds import (
    assign_folds,
    check_fold_count,
    inner_validation,
    largest_k,
    read_folds,
)
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.split import SplitError, split_groups
from biomedclf.data.synthetic import GROUP_PATTERN, generate_synthetic

NAMES = ["a", "b", "c"]


def _grouped(seed: int = 0, n_groups: int = 60) -> tuple[np.ndarray, np.ndarray, int]:
    """Labels and split groups: patients of 1-4 images of one class, plus duplicate images
    shared between two patients (which joins them into one split group)."""
    rng = np.random.default_rng(seed)
    labels, patients, hashes = [], [], []
    for g in range(n_groups):
        k = g % 3
        for i in range(int(rng.integers(1, 5))):
            labels.append(k)
            patients.append(f"p{g}")
            hashes.append(f"h{g}_{i}")
    # patient 0's first image is pixel-identical to patient 3's first (same class)
    p3 = patients.index("p3")
    hashes[p3] = hashes[0]
    return np.array(labels), split_groups(patients, hashes), p3


def test_no_group_and_no_duplicate_in_two_folds() -> None:
    labels, groups, p3 = _grouped()
    fold = assign_folds(labels, groups, 5, seed=0, class_names=NAMES)
    for g in np.unique(groups):
        assert len(np.unique(fold[groups == g])) == 1, f"group {g} in two folds"
    # the duplicate linked patients 0 and 3: one split group, so one fold
    assert groups[0] == groups[p3] and fold[0] == fold[p3]
    assert set(fold.tolist()) == set(range(5))


def test_stratified_within_one_image_per_class_per_fold() -> None:
    labels = np.repeat(np.arange(3), [23, 41, 17])
    groups = np.arange(len(labels))  # every image its own group
    fold = assign_folds(labels, groups, 5, seed=3, class_names=NAMES)
    for k in range(3):
        per_fold = np.bincount(fold[labels == k], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (k, per_fold)


def test_fold_assignment_is_deterministic_for_a_seed() -> None:
    labels, groups, _ = _grouped()
    first = assign_folds(labels, groups, 4, seed=7, class_names=NAMES)
    assert np.array_equal(first, assign_folds(labels, groups, 4, seed=7, class_names=NAMES))
    assert not np.array_equal(first, assign_folds(labels, groups, 4, seed=8, class_names=NAMES))


def test_inner_validation_never_holds_held_out_images_and_keeps_groups_whole() -> None:
    labels, groups, _ = _grouped(seed=1)
    fold = assign_folds(labels, groups, 5, seed=0, class_names=NAMES)
    inner = inner_validation(labels, groups, fold, 0.2, seed=0, class_names=NAMES)
    assert len(inner) == 5
    for f, rows in enumerate(inner):
        assert not (fold[rows] == f).any(), f"fold {f}: held-out image in its inner validation"
        train = np.setdiff1d(np.flatnonzero(fold != f), rows)
        assert not set(groups[rows]) & set(groups[train]), "a group in inner val and train"
        assert set(labels[rows]) == {0, 1, 2}
        share = len(rows) / np.sum(fold != f)
        assert 0.1 < share < 0.3, share


def test_too_many_folds_names_the_class_its_count_and_the_largest_k() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 8)
    with pytest.raises(SplitError) as err:
        check_fold_count(labels, np.arange(len(labels)), 5, NAMES)
    text = str(err.value)
    assert "data.split.folds: 5" in text and "'b'" in text and "only 3 image" in text
    assert "largest k that works is 3" in text
    check_fold_count(labels, np.arange(len(labels)), 3, NAMES)  # 3 folds work


def test_fold_count_counts_patients_when_grouped() -> None:
    labels = np.array([0] * 12 + [1] * 12)
    groups = np.array([i // 4 for i in range(24)])  # 3 patients per class
    assert largest_k(labels, groups, 2) == (3, 0)
    with pytest.raises(SplitError, match=r"only 3 group\(s\) \(patients; 12 images\)"):
        assign_folds(labels, groups, 4, seed=0, class_names=["x", "y"])


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("syn") / "syn"
    generate_synthetic(root, n_per_class=40, image_size=16, difficulty=0.5, seed=0, n_classes=2)
    return root


def _prepare(root: Path, out: Path, **split: object) -> dict:
    cfg = data_config(
        source="folder",
        path=str(root),
        image_size=16,
        split={"group_pattern": GROUP_PATTERN, **split},
    )
    return prepare_dataset(cfg, data_files(out, folds=bool(cfg["split"]["folds"])))


def test_prepare_with_folds_writes_the_pool_the_folds_and_the_same_test_split(
    synthetic_root: Path, tmp_path: Path
) -> None:
    fixed = _prepare(synthetic_root, tmp_path / "fixed")
    summary = _prepare(synthetic_root, tmp_path / "cv", folds=4)
    files = data_files(tmp_path / "cv", folds=True)
    assert sorted(p.name for p in (tmp_path / "cv").iterdir()) == sorted(
        p.name for p in files.values()
    )
    pool, test = load_split(files["pool"]), load_split(files["test"])
    # the test split is held out exactly as without folds
    assert test.paths == load_split(data_files(tmp_path / "fixed")["test"]).paths
    assert summary["counts"]["test"] == fixed["counts"]["test"]
    folds = read_folds(files["folds"])
    assert folds.k == 4 and len(folds.fold) == len(pool)
    with files["manifest"].open() as f:
        rows = list(csv.DictReader(f))
    cv_rows = [r for r in rows if r["split"] == "cv"]
    assert [r["path"] for r in cv_rows] == pool.paths
    assert [int(r["fold"]) for r in cv_rows] == folds.fold.tolist()
    assert all(r["fold"] == "" for r in rows if r["split"] == "test")
    # no patient in two folds (the synthetic set has patients of 1-3 images)
    by_group: dict[str, set[str]] = {}
    for r in cv_rows:
        by_group.setdefault(r["group"], set()).add(r["fold"])
    assert all(len(f) == 1 for f in by_group.values())
    assert [f["fold"] for f in summary["folds"]["folds"]] == [0, 1, 2, 3]
    assert json.loads(files["summary"].read_text())["folds"]["k"] == 4


def test_fold_parts_partition_the_pool_with_the_training_statistics(
    synthetic_root: Path, tmp_path: Path
) -> None:
    from biomedclf.data.cache import pixel_statistics

    _prepare(synthetic_root, tmp_path, folds=3)
    files = data_files(tmp_path, folds=True)
    pool = load_split(files["pool"])
    seen: list[str] = []
    for f in range(3):
        train, val, held = fold_parts(pool, files["folds"], f)
        assert not set(held.paths) & (set(train.paths) | set(val.paths))
        assert sorted(train.paths + val.paths + held.paths) == sorted(pool.paths)
        mean, _ = pixel_statistics(train.images)
        assert train.mean == mean == held.mean and mean != pool.mean
        index = {p: i for i, p in enumerate(pool.paths)}
        rows = torch.tensor([index[p] for p in held.paths])
        assert torch.equal(held.images[:], pool.images[rows])
        assert held.images.base is pool.images  # rows of the pool, not a copy
        seen += held.paths
    assert sorted(seen) == sorted(pool.paths)  # every pool image held out exactly once


def test_too_many_folds_for_the_pool_stops_prepare(synthetic_root: Path, tmp_path: Path) -> None:
    with pytest.raises(SplitError, match="largest k that works"):
        _prepare(synthetic_root, tmp_path, folds=40)
    assert not any(tmp_path.iterdir())


def test_the_plan_stops_more_folds_than_a_class_folder_holds(tmp_path: Path) -> None:
    from biomedclf.data.folds import check_planned_folds, planned_counts

    for cls, n in (("big", 9), ("small", 4)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            (tmp_path / cls / f"{i}.png").write_bytes(b"x")
    cfg = data_config(source="folder", path=str(tmp_path), split={"folds": 5})
    assert planned_counts(cfg, ["big", "small"]) == {"big": 9, "small": 4}
    with pytest.raises(SplitError, match=r"class 'small' has at most 4 .* largest k that can "):
        check_planned_folds(cfg, ["big", "small"])
    check_planned_folds({**cfg, "split": {**cfg["split"], "folds": 4}}, ["big", "small"])
    synthetic = data_config(synthetic={"n_per_class": 6}, split={"folds": 7})
    with pytest.raises(SplitError, match="at most 6"):
        check_planned_folds(synthetic, ["normal", "opacity"])


def test_given_validation_split_joins_the_pool_and_the_given_test_split_stays(
    tmp_path: Path,
) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    sizes = {"train": 12, "val": 4, "test": 3}
    for split, n in sizes.items():
        for cls in ("neg", "pos"):
            for i in range(n):
                path = tmp_path / "src" / split / cls / f"{split}_{cls}_{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (8, 8), np.uint8)).save(path)
    files = data_files(tmp_path / "out", folds=True)
    cfg = data_config(source="folder", path=str(tmp_path / "src"), image_size=8, split={"folds": 4})
    summary = prepare_dataset(cfg, files)
    assert summary["counts"]["cv"] == {"neg": 16, "pos": 16}
    assert summary["counts"]["test"] == {"neg": 3, "pos": 3}
    assert all(p.startswith("test/") for p in load_split(files["test"]).paths)
    assert any("joined the cross-validation pool" in n for n in summary["notes"])
    assert read_folds(files["folds"]).k == 4
