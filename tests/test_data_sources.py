"""Sources refuse unusable input before anything is written, naming the path and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from config_helpers import data_config, data_files
from PIL import Image

from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.sources import ManifestSpec, index_folder, index_manifest


def _png(path: Path, value: int = 0, size: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    arr = rng.integers(0, 256, (size, size), dtype=np.uint8)
    arr[0, 0] = value
    Image.fromarray(arr).save(path)
    return path


def _cfg(path: Path | str | None, source: str = "folder", **extra: object) -> dict:
    path = None if path is None else str(path)
    return data_config(source=source, path=path, image_size=8, **extra)


def _prepare_fails(cfg: dict, out: Path, exc: type[Exception], *needles: str) -> str:
    with pytest.raises(exc) as info:
        prepare_dataset(cfg, data_files(out))
    text = str(info.value)
    for needle in needles:
        assert needle in text, text
    assert not out.exists() or not any(out.iterdir()), "nothing may be written on error"
    return text


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    _prepare_fails(_cfg(missing), tmp_path / "out", FileNotFoundError, str(missing), "class")


def test_path_not_set(tmp_path: Path) -> None:
    _prepare_fails(_cfg(None), tmp_path / "out", ValueError, "data.path")


def test_empty_folder(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    _prepare_fails(_cfg(root), tmp_path / "out", ValueError, str(root), "no image files")


def test_only_hidden_files_is_empty(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "a" / ".DS_Store").write_bytes(b"\0\0")
    _prepare_fails(_cfg(root), tmp_path / "out", ValueError, "no image files")


def test_images_without_class_folders(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "a.png")
    _prepare_fails(_cfg(root), tmp_path / "out", ValueError, "no class subfolders")


def test_single_class(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "normal" / "a.png")
    _prepare_fails(_cfg(root), tmp_path / "out", ValueError, "only one class", "'normal'")


def test_empty_class_folder(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "normal" / "a.png")
    (root / "pneumonia").mkdir()
    (root / "pneumonia" / ".DS_Store").write_bytes(b"x")
    _prepare_fails(
        _cfg(root), tmp_path / "out", ValueError, "empty class folder", str(root / "pneumonia")
    )


def test_three_classes_are_indexed_in_sorted_order(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for cls in ("virus", "normal", "bacteria"):
        _png(root / cls / "a.png")
    idx = index_folder(root)
    assert idx.class_names == ["bacteria", "normal", "virus"]
    assert sorted(c.class_name for c in idx.candidates) == ["bacteria", "normal", "virus"]


def test_path_is_a_file(tmp_path: Path) -> None:
    f = _png(tmp_path / "one.png")
    _prepare_fails(_cfg(f), tmp_path / "out", ValueError, str(f), "folder")


def test_mixed_split_and_class_folders(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "train" / "a" / "x.png")
    _png(root / "normal" / "y.png")
    _prepare_fails(_cfg(root), tmp_path / "out", ValueError, "mixes split folders")


def test_positive_class_must_exist(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "a" / "x.png")
    _png(root / "b" / "y.png")
    _prepare_fails(
        _cfg(root, positive_class="pneumonia"),
        tmp_path / "out",
        ValueError,
        "data.positive_class",
        "'pneumonia'",
    )


def test_bad_group_pattern_names_key(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "a" / "x.png")
    _png(root / "b" / "y.png")
    _prepare_fails(
        _cfg(root, split={"group_pattern": "person(\\d+"}),
        tmp_path / "out",
        ValueError,
        "data.split.group_pattern",
    )


# -- manifest ---------------------------------------------------------------------------------


def test_manifest_missing_file(tmp_path: Path) -> None:
    _prepare_fails(
        _cfg(tmp_path / "m.csv", "manifest"),
        tmp_path / "out",
        FileNotFoundError,
        str(tmp_path / "m.csv"),
        "path,label",
    )


def test_manifest_row_points_at_missing_file(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png")
    _png(tmp_path / "img" / "b.png")
    csv = tmp_path / "m.csv"
    csv.write_text("path,label\nimg/a.png,x\nimg/b.png,y\nimg/gone.png,y\n")
    text = _prepare_fails(
        _cfg(csv, "manifest"), tmp_path / "out", FileNotFoundError, str(csv), "line 4", "gone.png"
    )
    assert "missing" in text


def test_manifest_missing_columns(tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("file,class\na.png,x\n")
    _prepare_fails(
        _cfg(csv, "manifest"), tmp_path / "out", ValueError, "path, label", "file, class"
    )


def test_manifest_bad_split_value(tmp_path: Path) -> None:
    _png(tmp_path / "a.png")
    _png(tmp_path / "b.png")
    csv = tmp_path / "m.csv"
    csv.write_text("path,label,split\na.png,x,train\nb.png,y,holdout\n")
    _prepare_fails(_cfg(csv, "manifest"), tmp_path / "out", ValueError, "line 3", "'holdout'")


def test_manifest_single_label(tmp_path: Path) -> None:
    _png(tmp_path / "a.png")
    csv = tmp_path / "m.csv"
    csv.write_text("path,label\na.png,x\n")
    _prepare_fails(_cfg(csv, "manifest"), tmp_path / "out", ValueError, "only one class", "'x'")


# -- medmnist ---------------------------------------------------------------------------------


def test_npz_missing_says_where_to_get_it(tmp_path: Path) -> None:
    _prepare_fails(
        _cfg(tmp_path / "pneumoniamnist.npz", "medmnist"),
        tmp_path / "out",
        FileNotFoundError,
        "pneumoniamnist.npz",
        "zenodo.org/records/10519652",
        "pip install medmnist",
    )


def test_npz_missing_keys(tmp_path: Path) -> None:
    npz = tmp_path / "x.npz"
    z = np.zeros((2, 8, 8), np.uint8)
    np.savez(npz, train_images=z, train_labels=np.zeros((2, 1)), test_images=z)
    _prepare_fails(
        _cfg(npz, "medmnist"),
        tmp_path / "out",
        ValueError,
        str(npz),
        "val_images",
        "test_labels",
        "zenodo",
    )


@pytest.mark.parametrize("bad", [[[0], [1], [-1]], [[0], [1], [1.5]]])
def test_npz_labels_must_be_class_indices(tmp_path: Path, bad: list) -> None:
    npz = tmp_path / "x.npz"
    z = np.zeros((3, 8, 8), np.uint8)
    np.savez(
        npz,
        **{f"{s}_images": z for s in ("train", "val", "test")},
        **{f"{s}_labels": np.array(bad) for s in ("train", "val", "test")},
    )
    _prepare_fails(_cfg(npz, "medmnist"), tmp_path / "out", ValueError, str(npz), "0, 1, 2")


def test_npz_multilabel(tmp_path: Path) -> None:
    npz = tmp_path / "x.npz"
    z = np.zeros((3, 8, 8), np.uint8)
    lab = np.zeros((3, 14))
    np.savez(
        npz,
        **{f"{s}_images": z for s in ("train", "val", "test")},
        **{f"{s}_labels": lab for s in ("train", "val", "test")},
    )
    _prepare_fails(
        _cfg(npz, "medmnist"), tmp_path / "out", ValueError, "multi-label", "data.task: multilabel"
    )


def test_npz_not_a_zip(tmp_path: Path) -> None:
    npz = tmp_path / "x.npz"
    npz.write_text("hello")
    _prepare_fails(_cfg(npz, "medmnist"), tmp_path / "out", ValueError, str(npz), "zenodo")


def test_synthetic_needs_generation(tmp_path: Path) -> None:
    # an unknown data.source is the schema's to refuse (tests/test_config.py)
    _prepare_fails(_cfg(tmp_path, "synthetic"), tmp_path / "out", ValueError, "synthetic")


# -- indexing details -------------------------------------------------------------------------


def test_folder_index_recursive_and_nonimages(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _png(root / "a" / "deep" / "er" / "x.png")
    _png(root / "b" / "y.png")
    (root / "b" / "notes.txt").write_text("hi")
    (root / "b" / ".DS_Store").write_bytes(b"x")
    (root / "README").write_text("top")
    idx = index_folder(root)
    assert idx.layout == "class_folders"
    assert sorted(c.path for c in idx.candidates) == ["a/deep/er/x.png", "b/y.png"]
    reasons = dict(idx.rejected)
    assert reasons["b/notes.txt"].startswith("not an image")
    assert reasons["b/.DS_Store"].startswith("not an image")
    assert reasons["README"].startswith("not in a class folder")


def test_pre_split_detected(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for split in ("train", "val", "test"):
        for cls in ("NORMAL", "PNEUMONIA"):
            _png(root / split / cls / f"{split}{cls}.jpeg".replace(".jpeg", ".png"))
    idx = index_folder(root)
    assert idx.layout == "pre_split"
    assert idx.class_names == ["NORMAL", "PNEUMONIA"]
    assert {c.given_split for c in idx.candidates} == {"train", "val", "test"}


def test_manifest_relative_paths_resolve_against_csv(tmp_path: Path) -> None:
    sub = tmp_path / "project"
    _png(sub / "imgs" / "a.png")
    _png(tmp_path / "elsewhere" / "b.png")
    csv = sub / "labels.csv"
    csv.write_text(f"path,label\nimgs/a.png,x\n{tmp_path / 'elsewhere' / 'b.png'},y\n")
    idx = index_manifest(csv, ManifestSpec.from_config(data_config()))
    assert idx.root == sub.resolve()
    assert idx.candidates[0].path == "imgs/a.png"
    assert idx.candidates[1].path.endswith("elsewhere/b.png")
