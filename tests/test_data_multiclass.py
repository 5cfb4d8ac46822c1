"""prepare_dataset with more than two classes: every source, class order and subsets, MedMNIST
names, K-class stratified splits, and the errors that stop a run before anything is written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import data_config, data_files
from PIL import Image

from biomedclf.data.cache import load_splits
from biomedclf.data.classes import source_classes
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.sources.medmnist_info import MEDMNIST_CLASS_NAMES
from biomedclf.data.split import SplitError
from biomedclf.data.synthetic import GROUP_PATTERN, generate_synthetic

NAMES = ["virus", "bacteria", "normal", "fungus", "covid"]  # not in sorted order


def _png(path: Path, seed: int, size: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size), np.uint8)).save(path)


def _folder(root: Path, classes: list[str], n: int = 10) -> Path:
    for k, cls in enumerate(classes):
        for i in range(n):
            _png(root / cls / f"p{i // 2}_{cls}_{i}.png", 1000 * k + i)
    return root


def _pre_split(root: Path, classes: list[str]) -> Path:
    for s, (split, n) in enumerate({"train": 10, "val": 2, "test": 3}.items()):
        for k, cls in enumerate(classes):
            for i in range(n):
                _png(root / split / cls / f"{i}.png", 10_000 * s + 100 * k + i)
    return root


def _manifest(base: Path, classes: list[str], n: int = 10) -> Path:
    rows = ["path,label"]
    for k, cls in enumerate(classes):
        for i in range(n):
            _png(base / "img" / f"{cls}{i}.png", 1000 * k + i)
            rows.append(f"img/{cls}{i}.png,{cls}")
    (base / "labels.csv").write_text("\n".join(rows) + "\n")
    return base / "labels.csv"


def _npz(path: Path, k: int, per_split: dict[str, int] | None = None) -> Path:
    """A MedMNIST-layout file with labels N x 1 cycling through 0..k-1."""
    rng = np.random.default_rng(k)
    arrays = {}
    for split, n in (per_split or {"train": 6 * k, "val": 3 * k, "test": 3 * k}).items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 12, 12), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % k).reshape(n, 1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _cfg(path: Path, source: str = "folder", **extra: object) -> dict:
    return data_config(source=source, path=str(path), image_size=8, **extra)


def _prepare(cfg: dict, out: Path) -> dict:
    return prepare_dataset(cfg, data_files(out))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _check_outputs(out: Path, summary: dict, class_names: list[str]) -> None:
    """What every K-class cache must satisfy."""
    k = len(class_names)
    assert summary["class_names"] == class_names and summary["n_classes"] == k
    assert summary["positive_class"] is None and summary["ordinal"] is False
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["class_names"] == class_names and on_disk["positive_class"] is None
    for name, split in load_splits(data_files(out)).items():
        assert split.class_names == class_names
        assert split.labels.dtype == torch.int64
        assert sorted(set(split.labels.tolist())) == list(range(k)), f"{name} lacks a class"
        assert list(summary["counts"][name]) == class_names
    for row in _rows(out / "manifest.csv"):
        assert row["class_name"] == class_names[int(row["label"])]


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("source", ["folder", "pre_split", "manifest", "medmnist", "synthetic"])
def test_every_source_with_k_classes(tmp_path: Path, source: str, k: int) -> None:
    names = NAMES[:k]
    if source == "folder":
        cfg = _cfg(_folder(tmp_path / "d", names))
    elif source == "pre_split":
        cfg = _cfg(_pre_split(tmp_path / "d", names), split={"min_val": 1})
    elif source == "manifest":
        cfg = _cfg(_manifest(tmp_path / "d", names), "manifest")
    elif source == "medmnist":
        cfg = _cfg(_npz(tmp_path / "x.npz", k), "medmnist", split={"min_val": 1})
    else:
        generate_synthetic(tmp_path / "syn", 16, 16, 0.5, seed=0, n_classes=k)
        cfg = _cfg(tmp_path / "syn", split={"group_pattern": GROUP_PATTERN})
    expected = (
        [str(v) for v in range(k)]
        if source == "medmnist"
        else sorted(
            names
            if source != "synthetic"
            else source_classes(data_config(synthetic={"n_classes": k}))
        )
    )
    out = tmp_path / "out"
    summary = _prepare(cfg, out)
    _check_outputs(out, summary, expected)
    assert source_classes(cfg) == expected
    assert summary["rejected"] == 0


def test_explicit_order_and_subset(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["a", "b", "c", "d"], n=8)
    out = tmp_path / "out"
    cfg = _cfg(root, classes=["d", "b", "a"])
    summary = _prepare(cfg, out)
    _check_outputs(out, summary, ["d", "b", "a"])
    assert summary["classes_found"] == ["a", "b", "c", "d"]
    rejected = {r["path"]: r["reason"] for r in _rows(out / "rejected.csv")}
    assert len(rejected) == 8 and all(p.startswith("c/") for p in rejected)
    assert set(rejected.values()) == {
        "class not selected: class 'c' is not in data.classes (d, b, a)"
    }
    assert summary["rejected_by_reason"] == {"class not selected": 8}
    assert any("data.classes" in n and "8 image(s)" in n for n in summary["notes"])
    kept = {r["path"] for r in _rows(out / "manifest.csv")}
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.png")}
    assert kept | set(rejected) == on_disk and not kept & set(rejected)
    assert source_classes(cfg) == ["d", "b", "a"]


def test_subset_of_an_empty_class_folder_is_fine(tmp_path: Path) -> None:
    """Only the folders of the classes used must hold images."""
    root = _folder(tmp_path / "d", ["a", "b", "c"], n=6)
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match="empty class folder"):
        _prepare(_cfg(root), tmp_path / "o1")
    summary = _prepare(_cfg(root, classes=["a", "b", "c"]), tmp_path / "o2")
    assert summary["classes_found"] == ["a", "b", "c", "empty"]


def test_manifest_and_npz_subsets_reject_rows(tmp_path: Path) -> None:
    csv_path = _manifest(tmp_path / "m", ["x", "y", "z"], n=8)
    out = tmp_path / "o1"
    summary = _prepare(_cfg(csv_path, "manifest", classes=["z", "x"]), out)
    assert summary["class_names"] == ["z", "x"]  # two classes: the second listed is positive
    assert summary["positive_class"] == "x"
    reasons = {r["path"]: r["reason"] for r in _rows(out / "rejected.csv")}
    assert sorted(reasons) == [f"img/y{i}.png" for i in range(8)]
    assert all("'y' is not in data.classes (z, x)" in r for r in reasons.values())
    npz = _npz(tmp_path / "bloodmnist.npz", 8)
    out = tmp_path / "o2"
    cfg = _cfg(npz, "medmnist", classes=["platelet", "basophil", "monocyte"], split={"min_val": 1})
    summary = _prepare(cfg, out)
    _check_outputs(out, summary, ["platelet", "basophil", "monocyte"])
    rejected = _rows(out / "rejected.csv")
    assert len(rejected) + summary["n_images"] == 12 * 8
    assert rejected[0]["path"].endswith("]") and "not in data.classes" in rejected[0]["reason"]


def test_two_classes_keep_the_positive_class_rules(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["normal", "pneumonia", "virus"], n=6)
    summary = _prepare(_cfg(root, classes=["pneumonia", "normal"]), tmp_path / "o1")
    assert summary["class_names"] == ["pneumonia", "normal"]
    assert summary["positive_class"] == "normal" and summary["n_classes"] == 2
    cfg = _cfg(root, classes=["pneumonia", "normal"], positive_class="pneumonia")
    summary = _prepare(cfg, tmp_path / "o2")
    assert summary["class_names"] == ["normal", "pneumonia"]
    rows = _rows(tmp_path / "o2" / "manifest.csv")
    assert all((r["label"] == "1") == (r["class_name"] == "pneumonia") for r in rows)
    with pytest.raises(
        ValueError, match=r"data.positive_class: 'virus' is not one of .*data.classes"
    ):
        _prepare(
            _cfg(root, classes=["normal", "pneumonia"], positive_class="virus"), tmp_path / "o3"
        )
    assert not (tmp_path / "o3").exists()


def test_data_classes_naming_an_absent_class(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["bacteria", "normal", "virus"], n=4)
    cfg = _cfg(root, classes=["normal", "covid", "virus", "fungus"])
    for call in (lambda: _prepare(cfg, tmp_path / "out"), lambda: source_classes(cfg)):
        with pytest.raises(ValueError) as info:
            call()
        text = str(info.value)
        for needle in ("data.classes", "'covid', 'fungus'", "bacteria, normal, virus", str(root)):
            assert needle in text, text
    assert not (tmp_path / "out").exists()


def test_positive_class_with_more_than_two_classes(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["bacteria", "normal", "virus"], n=4)
    cfg = _cfg(root, positive_class="virus")
    for call in (lambda: _prepare(cfg, tmp_path / "out"), lambda: source_classes(cfg)):
        with pytest.raises(ValueError) as info:
            call()
        text = str(info.value)
        for needle in ("data.positive_class", "3 classes", "bacteria, normal, virus"):
            assert needle in text, text
    assert not (tmp_path / "out").exists()


def test_medmnist_names_in_label_order(tmp_path: Path) -> None:
    npz = _npz(tmp_path / "pathmnist_64.npz", 9)
    out = tmp_path / "o1"
    summary = _prepare(_cfg(npz, "medmnist", split={"min_val": 1}), out)
    table = MEDMNIST_CLASS_NAMES["pathmnist"]
    assert table[0] == "adipose" and table[-1] == "colorectal_adenocarcinoma_epithelium"
    _check_outputs(out, summary, table)  # label index order, not sorted
    assert table != sorted(table)
    val = load_splits(data_files(out))["val"]
    for path, label in zip(val.paths, val.labels.tolist()):  # row i of val_labels holds i % 9
        assert label == int(path[len("val_images[") : -1]) % 9
    # RetinaMNIST grades are ordinal: their label order is their grade order.
    npz = _npz(tmp_path / "retinamnist.npz", 5)
    summary = _prepare(_cfg(npz, "medmnist", ordinal=True, split={"min_val": 1}), tmp_path / "o2")
    assert summary["class_names"] == ["grade_0", "grade_1", "grade_2", "grade_3", "grade_4"]
    assert summary["ordinal"] is True and not any("ordinal" in n for n in summary["notes"])


def test_every_medmnist_set_has_safe_names() -> None:
    sizes = {
        "pathmnist": 9,
        "dermamnist": 7,
        "octmnist": 4,
        "pneumoniamnist": 2,
        "retinamnist": 5,
        "breastmnist": 2,
        "bloodmnist": 8,
        "tissuemnist": 8,
        "organamnist": 11,
        "organcmnist": 11,
        "organsmnist": 11,
    }
    assert {k: len(v) for k, v in MEDMNIST_CLASS_NAMES.items()} == sizes
    for names in MEDMNIST_CLASS_NAMES.values():
        assert len(set(names)) == len(names)
        assert all(n.replace("_", "").isalnum() and n == n.lower() for n in names), names


def test_medmnist_multilabel_without_the_task_and_unknown_labels_are_refused(
    tmp_path: Path,
) -> None:
    z = np.zeros((4, 8, 8), np.uint8)
    npz = tmp_path / "chestmnist.npz"
    np.savez(
        npz,
        **{f"{s}_images": z for s in ("train", "val", "test")},
        **{f"{s}_labels": np.zeros((4, 14), np.uint8) for s in ("train", "val", "test")},
    )
    for call in (
        lambda: _prepare(_cfg(npz, "medmnist"), tmp_path / "o"),
        lambda: source_classes(_cfg(npz, "medmnist")),
    ):
        with pytest.raises(
            ValueError, match=r"\(4, 14\): a multi-label set.*Set data.task: multilabel"
        ):
            call()
    npz = _npz(tmp_path / "pneumoniamnist.npz", 3)
    with pytest.raises(ValueError, match=r"labels \[0, 1, 2\] found, but pneumoniamnist has 2"):
        source_classes(_cfg(npz, "medmnist"))
    assert not (tmp_path / "o").exists()


def test_k_class_splits_are_stratified(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", NAMES, n=40)
    summary = _prepare(_cfg(root), tmp_path / "out")
    names = sorted(NAMES)
    assert summary["counts"]["test"] == dict.fromkeys(names, 8)  # 20 % of 40
    assert summary["counts"]["val"] == dict.fromkeys(names, 6)  # 15 % of 40
    assert summary["counts"]["train"] == dict.fromkeys(names, 26)


def test_k_class_splits_keep_groups_whole(tmp_path: Path) -> None:
    root = tmp_path / "d"
    seed = 0
    for p in range(60):  # patients of one class, and some with images of two classes
        for j in range(1 + p % 3):
            cls = NAMES[(p + (j if p % 7 == 0 else 0)) % 5]
            seed += 1
            _png(root / cls / f"patient{p}_{j}.png", seed)
    out = tmp_path / "out"
    summary = _prepare(_cfg(root, split={"group_pattern": r"patient(\d+)_"}), out)
    split_of: dict[str, set[str]] = {}
    for r in _rows(out / "manifest.csv"):
        split_of.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())
    assert all(n > 0 for per in summary["counts"].values() for n in per.values())


def test_pre_split_k_classes_carve_val_stratified(tmp_path: Path) -> None:
    root = _pre_split(tmp_path / "d", NAMES[:4])
    summary = _prepare(_cfg(root, split={"min_val": 50, "val": 0.25}), tmp_path / "out")
    assert summary["split"]["carved_val"] is True
    assert summary["counts"]["test"] == dict.fromkeys(sorted(NAMES[:4]), 3)  # as given
    assert summary["counts"]["val"] == dict.fromkeys(sorted(NAMES[:4]), 3)  # 25 % of 10 + 2


def test_too_few_images_of_one_class_stops_before_writing(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["a", "b", "c"], n=10)
    for i in range(2):
        _png(root / "rare" / f"r{i}.png", 90_000 + i)
    out = tmp_path / "out"
    with pytest.raises(SplitError, match=r"class 'rare' has only 2 image\(s\), but train, val and"):
        _prepare(_cfg(root), out)
    assert not out.exists()
    # Enough images, too few groups.
    for i in range(2, 8):
        _png(root / "rare" / f"r{i}.png", 90_000 + i)
    pattern = {"group_pattern": r"^(p\d+|r)"}  # all 8 rare images: one group
    with pytest.raises(SplitError, match=r"class 'rare' has only 8 image\(s\) in 1 group\(s\)"):
        _prepare(_cfg(root, split=pattern), out)
    assert not out.exists()
    # Leaving the class out works.
    assert _prepare(_cfg(root, classes=["a", "b", "c"]), out)["n_classes"] == 3


def test_ordinal_is_recorded_with_a_note_on_sorted_order(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["mild", "severe", "moderate"], n=6)
    summary = _prepare(_cfg(root, ordinal=True), tmp_path / "o1")
    assert summary["ordinal"] is True and summary["class_names"] == ["mild", "moderate", "severe"]
    assert any("data.ordinal" in n and "sorted name order" in n for n in summary["notes"])
    cfg = _cfg(root, ordinal=True, classes=["mild", "moderate", "severe"])
    summary = _prepare(cfg, tmp_path / "o2")
    assert summary["ordinal"] is True and not any("data.ordinal" in n for n in summary["notes"])
