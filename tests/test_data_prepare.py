"""prepare_dataset end to end: every source, accounting, duplicates, groups, determinism."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import data_config, data_files
from config_helpers import decode_spec as spec_of
from PIL import Image

from biomedclf.data.cache import load_split, load_splits
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.split import SplitError

SIZE = 12


def _img(seed: int, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


def _png(path: Path, seed: int, size: int = SIZE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_img(seed, size)).save(path)
    return path


def _folder(
    root: Path, n: int = 20, classes: tuple[str, str] = ("normal", "pneumonia"), start: int = 0
) -> Path:
    for k, cls in enumerate(classes):
        for i in range(n):
            _png(root / cls / f"{cls}_{i:03d}.png", start + 1000 * k + i)
    return root


def _cfg(path: Path, source: str = "folder", **extra: object) -> dict:
    """The validated data: section prepare receives."""
    return data_config(**{"source": source, "path": str(path), "image_size": 8, **extra})


def _prepare(cfg: dict, out: Path, threads: int = 1) -> dict:
    """prepare_dataset writing the layout's files into ``out``."""
    return prepare_dataset(cfg, data_files(out, folds=bool(cfg["split"]["folds"])), threads)


def _split(out: Path, role: str, mmap: bool = False):  # noqa: ANN202
    return load_split(data_files(out)[role], mmap=mmap)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_folder_outputs_follow_contract(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data")
    out = tmp_path / "out"
    summary = _prepare(_cfg(root), out, threads=2)
    assert {p.name for p in out.iterdir()} == {
        "train.pt",
        "val.pt",
        "test.pt",
        "manifest.csv",
        "rejected.csv",
        "summary.json",
    }
    raw = torch.load(out / "train.pt", weights_only=True)
    assert set(raw) == {"images", "labels", "paths", "class_names", "mean", "std"}
    assert raw["images"].dtype == torch.uint8 and raw["images"].is_contiguous()
    assert raw["labels"].dtype == torch.int64
    assert raw["class_names"] == ["normal", "pneumonia"]
    splits = load_splits(data_files(out))
    assert sum(len(s) for s in splits.values()) == 40
    for s in splits.values():
        assert s.images.shape[1:] == (1, 8, 8)
        assert s.mean == splits["train"].mean and s.std == splits["train"].std
    train = splits["train"].images.double() / 255
    assert splits["train"].mean[0] == pytest.approx(train.mean().item())
    assert splits["train"].std[0] == pytest.approx(train.std(unbiased=False).item())
    # Proportions: 20 % test, 15 % val, stratified.
    assert summary["counts"]["test"] == {"normal": 4, "pneumonia": 4}
    assert summary["counts"]["val"] == {"normal": 3, "pneumonia": 3}
    header = (out / "manifest.csv").read_text().splitlines()[0]
    assert header == "path,label,class_name,split,group,sha256"
    assert (out / "rejected.csv").read_text().splitlines() == ["path,reason"]
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["positive_class"] == "pneumonia" and on_disk["class_names"] == [
        "normal",
        "pneumonia",
    ]
    # manifest sha256 is the digest of the cached pixels, row order = cache order.
    rows = _rows(out / "manifest.csv")
    test_rows = [r for r in rows if r["split"] == "test"]
    import hashlib

    for r, img, path, lab in zip(
        test_rows, splits["test"].images, splits["test"].paths, splits["test"].labels
    ):
        assert r["path"] == path and int(r["label"]) == int(lab)
        assert hashlib.sha256(img.numpy().tobytes()).hexdigest() == r["sha256"]


def test_accounting_every_file_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _folder(tmp_path / "data", n=12)
    (root / "normal" / ".DS_Store").write_bytes(b"\0\1")
    (root / "normal" / "empty.png").write_bytes(b"")
    (root / "normal" / "notes.txt").write_text("x")
    (root / "pneumonia" / "fake.jpg").write_text("not a jpeg")
    good = (root / "pneumonia" / "pneumonia_000.png").read_bytes()
    (root / "pneumonia" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / ".hidden").mkdir()
    _png(root / ".hidden" / "x.png", 5)
    (root / "stray.png").write_bytes(good)
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="biomedclf.data.prepare"):
        summary = _prepare(_cfg(root), out)
    kept = {r["path"] for r in _rows(out / "manifest.csv")}
    rejected = {r["path"]: r["reason"] for r in _rows(out / "rejected.csv")}
    assert not kept & set(rejected)
    assert kept | set(rejected) == _all_files(root)
    assert len(kept) == 24
    assert rejected["normal/empty.png"] == "zero bytes"
    assert rejected["normal/.DS_Store"].startswith("not an image")
    assert rejected["normal/notes.txt"].startswith("not an image")
    assert rejected["pneumonia/fake.jpg"].startswith("not an image")
    assert rejected["pneumonia/cut.png"].startswith("truncated")
    assert rejected[".hidden/x.png"].startswith("not an image")
    assert rejected["stray.png"].startswith("not in a class folder")
    assert summary["rejected"] == 7
    assert summary["rejected_by_reason"]["not an image"] == 4
    assert "7 file(s) rejected" in caplog.text


def test_on_error_fail_stops_before_writing(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=6)
    (root / "normal" / "empty.png").write_bytes(b"")
    (root / "normal" / ".DS_Store").write_bytes(b"\0")  # not an image file: never fatal
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="empty.png: zero bytes.*on_error"):
        _prepare(_cfg(root, on_error="fail"), out)
    assert not out.exists()


def test_determinism_and_threads(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=15)
    a = tmp_path / "a"
    b = tmp_path / "b"
    c = tmp_path / "c"
    _prepare(_cfg(root, split={"seed": 3}), a, threads=1)
    _prepare(_cfg(root, split={"seed": 3}), b, threads=2)
    _prepare(_cfg(root, split={"seed": 4}), c, threads=1)
    assert (a / "manifest.csv").read_bytes() == (b / "manifest.csv").read_bytes()
    for split in ("train", "val", "test"):
        assert (a / f"{split}.pt").read_bytes() == (b / f"{split}.pt").read_bytes()
        x, y = _split(a, split), _split(b, split)
        assert torch.equal(x.images, y.images) and torch.equal(x.labels, y.labels)
        assert x.paths == y.paths
    assert (a / "manifest.csv").read_bytes() != (c / "manifest.csv").read_bytes()


def test_positive_class_sets_label_one(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=8, classes=("abnormal", "normal"))
    summary = _prepare(_cfg(root, positive_class="abnormal"), tmp_path / "out")
    assert summary["class_names"] == ["normal", "abnormal"]
    rows = _rows(tmp_path / "out" / "manifest.csv")
    assert all((r["label"] == "1") == (r["class_name"] == "abnormal") for r in rows)
    assert _split(tmp_path / "out", "train").class_names == ["normal", "abnormal"]


def test_group_split_without_leakage(tmp_path: Path) -> None:
    root = tmp_path / "data"
    seed = 0
    for p in range(30):
        cls = "pneumonia" if p % 2 else "normal"
        for k in range(1 + p % 4):
            seed += 1
            _png(root / cls / f"person{p}_view{k}.png", seed)
    summary = _prepare(
        _cfg(root, split={"group_pattern": r"person(\d+)_", "seed": 1}), tmp_path / "out"
    )
    rows = _rows(tmp_path / "out" / "manifest.csv")
    split_of: dict[str, set[str]] = {}
    for r in rows:
        assert r["group"] != ""
        split_of.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())
    assert summary["groups"]["user_groups"] == 30
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_group_split_with_mixed_class_groups(tmp_path: Path) -> None:
    root = tmp_path / "data"
    seed = 0
    for p in range(24):
        for cls in ("a", "b"):
            seed += 1
            _png(root / cls / f"pt{p}_{cls}.png", seed)
    _prepare(_cfg(root, split={"group_pattern": r"pt(\d+)_"}), tmp_path / "out")
    rows = _rows(tmp_path / "out" / "manifest.csv")
    split_of: dict[str, set[str]] = {}
    for r in rows:
        split_of.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())


def test_duplicates_share_a_split_and_conflicts_are_rejected(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=15)
    # Same-label copies (3 copies of one image) and a conflicting pair.
    same = (root / "normal" / "normal_000.png").read_bytes()
    (root / "normal" / "copy_a.png").write_bytes(same)
    (root / "normal" / "sub").mkdir()
    (root / "normal" / "sub" / "copy_b.png").write_bytes(same)
    conflict = (root / "pneumonia" / "pneumonia_003.png").read_bytes()
    (root / "normal" / "mislabelled.png").write_bytes(conflict)
    for seed in range(6):  # run several seeds: copies never straddle
        out = tmp_path / f"out{seed}"
        summary = _prepare(_cfg(root, split={"seed": seed}), out)
        rows = {r["path"]: r for r in _rows(out / "manifest.csv")}
        rejected = {r["path"]: r["reason"] for r in _rows(out / "rejected.csv")}
        copies = ["normal/normal_000.png", "normal/copy_a.png", "normal/sub/copy_b.png"]
        assert len({rows[p]["split"] for p in copies}) == 1
        assert len({rows[p]["sha256"] for p in copies}) == 1
        for p in ("normal/mislabelled.png", "pneumonia/pneumonia_003.png"):
            assert rejected[p].startswith("duplicate with conflicting label")
        assert summary["duplicates"]["sets"] == 2
        assert summary["duplicates"]["rejected_conflicting_label"] == 2
        assert summary["duplicates"]["kept_copies"] == 3
    # Near-identical images are not duplicates.
    assert "normal/normal_001.png" in rows


def test_pre_split_min_val_carved_from_train(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "chest_xray"
    seed = 0
    counts = {"train": 40, "val": 2, "test": 10}
    for split, n in counts.items():
        for cls in ("NORMAL", "PNEUMONIA"):
            for _ in range(n):
                seed += 1
                name = (
                    f"person{seed // 2}_bacteria_{seed}.png"
                    if cls == "PNEUMONIA"
                    else f"IM-{seed:04d}-0001.png"
                )
                _png(root / split / cls / name, seed)
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        summary = _prepare(
            _cfg(root, split={"min_val": 10, "val": 0.25, "group_pattern": r"person(\d+)_"}), out
        )
    rows = _rows(out / "manifest.csv")
    by_path = {r["path"]: r["split"] for r in rows}
    # Test is kept exactly as given; the 4 given val images went back to train before carving.
    assert all(by_path[p] == "test" for p in by_path if p.startswith("test/"))
    assert sum(1 for s in by_path.values() if s == "test") == 20
    assert all(by_path[p] in ("train", "val") for p in by_path if p.startswith("val/"))
    n_val = sum(1 for s in by_path.values() if s == "val")
    assert 18 <= n_val <= 24  # about 25 % of the 84 train + val images
    assert summary["split"]["carved_val"] is True
    assert summary["layout"] == "pre_split"
    assert any("min_val" in n and "carved" in n for n in summary["notes"])
    assert "carved out of train" in caplog.text
    assert _all_files(root) == set(by_path)


def test_pre_split_val_kept_when_large_enough(tmp_path: Path) -> None:
    root = tmp_path / "d"
    seed = 0
    for split, n in {"train": 10, "val": 6, "test": 6}.items():
        for cls in ("a", "b"):
            for i in range(n):
                seed += 1
                _png(root / split / cls / f"{i}.png", seed)
    summary = _prepare(_cfg(root, split={"min_val": 5}), tmp_path / "out")
    assert summary["counts"] == {
        "train": {"a": 10, "b": 10},
        "val": {"a": 6, "b": 6},
        "test": {"a": 6, "b": 6},
    }
    assert summary["split"]["carved_val"] is False


def test_pre_split_cross_split_duplicate_keeps_test_copy(tmp_path: Path) -> None:
    root = tmp_path / "d"
    seed = 0
    for split, n in {"train": 12, "val": 4, "test": 4}.items():
        for cls in ("a", "b"):
            for i in range(n):
                seed += 1
                _png(root / split / cls / f"{i}.png", seed)
    (root / "train" / "a" / "leak.png").write_bytes((root / "test" / "a" / "0.png").read_bytes())
    out = tmp_path / "out"
    summary = _prepare(_cfg(root, split={"min_val": 2}), out)
    rejected = {r["path"]: r["reason"] for r in _rows(out / "rejected.csv")}
    assert rejected["train/a/leak.png"].startswith("duplicate across splits")
    assert "test/a/0.png" in rejected["train/a/leak.png"]
    assert summary["duplicates"]["rejected_across_splits"] == 1


def test_empty_class_in_split_is_an_error(tmp_path: Path) -> None:
    rare = tmp_path / "r"
    for i in range(10):
        _png(rare / "common" / f"{i}.png", i)
    for i in range(2):  # two images cannot fill train, val and test
        _png(rare / "rare" / f"{i}.png", 100 + i)
    out = tmp_path / "out"
    with pytest.raises(SplitError) as info:
        _prepare(_cfg(rare), out)
    # Stopped before the cut, naming the class and its count.
    assert "class 'rare' has only 2 image(s)" in str(info.value)
    assert "common: 10, rare: 2" in str(info.value)
    assert not out.exists()
    # Pre-split where test lacks a class entirely.
    ps = tmp_path / "ps"
    for cls in ("a", "b"):
        for i in range(6):
            _png(ps / "train" / cls / f"{i}.png", hash((cls, i)) % 1000)
    _png(ps / "test" / "a" / "t.png", 5000)
    with pytest.raises(SplitError, match="'test' would hold no image of class 'b'"):
        _prepare(_cfg(ps, split={"min_val": 0}), tmp_path / "out2")


def test_manifest_source(tmp_path: Path) -> None:
    base = tmp_path / "proj"
    rows = ["path,label,group"]
    for i in range(24):
        label = "tumour" if i % 2 else "healthy"
        _png(base / "imgs" / f"{i}.png", i)
        rows.append(f"imgs/{i}.png,{label},case{i // 2}")  # groups of two, both classes
    (base / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    summary = _prepare(_cfg(base / "labels.csv", "manifest"), out)
    assert summary["source"] == "manifest" and summary["class_names"] == ["healthy", "tumour"]
    got = _rows(out / "manifest.csv")
    assert len(got) == 24 and all(r["path"].startswith("imgs/") for r in got)
    split_of: dict[str, set[str]] = {}
    for r in got:
        split_of.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())


def test_manifest_with_split_column(tmp_path: Path) -> None:
    rows = ["path,label,split"]
    for i in range(40):
        _png(tmp_path / f"{i}.png", i)
        split = "test" if i >= 32 else "train"
        rows.append(f"{i}.png,{'x' if i % 2 else 'y'},{split}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    summary = _prepare(_cfg(tmp_path / "m.csv", "manifest"), tmp_path / "out")
    got = {r["path"]: r["split"] for r in _rows(tmp_path / "out" / "manifest.csv")}
    assert all(got[f"{i}.png"] == "test" for i in range(32, 40))
    assert summary["split"]["carved_val"] and summary["counts"]["val"]["x"] >= 1


def test_medmnist_source(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in {"train": 30, "val": 10, "test": 10}.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(n, 1)
    npz = tmp_path / "pneumoniamnist.npz"
    np.savez(npz, **arrays)
    out = tmp_path / "out"
    summary = _prepare(
        _cfg(npz, "medmnist", image_size=16, channels=3, split={"min_val": 5}), out, threads=2
    )
    assert summary["class_names"] == ["normal", "pneumonia"]
    assert summary["counts"]["val"] == {"normal": 5, "pneumonia": 5}
    val = _split(out, "val")
    assert val.images.shape == (10, 3, 16, 16)
    assert val.paths[0] == "val_images[0]"
    assert val.labels.tolist() == [0, 1] * 5
    rows = _rows(out / "manifest.csv")
    assert len(rows) == 50


def test_rgb_and_16bit_mixture_into_one_cache(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(8):
        _png(root / "a" / f"{i}.png", i, size=20)
        rgb = np.random.default_rng(100 + i).integers(0, 256, (16, 24, 3), dtype=np.uint8)
        (
            Image.fromarray(rgb).save(root / "b" / f"{i}.jpg")
            if (root / "b").exists()
            else ((root / "b").mkdir(), Image.fromarray(rgb).save(root / "b" / f"{i}.jpg"))
        )
        Image.fromarray(np.arange(100, dtype=np.uint16).reshape(10, 10) * 600 + i).save(
            root / "b" / f"s{i}.tif"
        )
    summary = _prepare(_cfg(root, channels=3, image_size=10), tmp_path / "out")
    assert summary["rejected"] == 0 and summary["n_images"] == 24
    assert _split(tmp_path / "out", "train").images.shape[1:] == (3, 10, 10)


def test_load_split_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train\.pt: no cached split; run the prepare"):
        load_split(tmp_path / "train.pt")
    torch.save({"images": torch.zeros(1)}, tmp_path / "val.pt")
    with pytest.raises(ValueError, match=r"val\.pt: split cache lacks"):
        load_split(tmp_path / "val.pt")
    (tmp_path / "test.pt").write_text("not a cache")
    with pytest.raises(ValueError, match=r"test\.pt: not a readable split cache"):
        load_split(tmp_path / "test.pt")


def test_load_split_mmap(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=6)
    _prepare(_cfg(root), tmp_path / "out")
    a = _split(tmp_path / "out", "train")
    b = _split(tmp_path / "out", "train", mmap=True)
    assert torch.equal(a.images, b.images)


def test_every_file_goes_to_the_path_given_and_nothing_else_is_written(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=8)
    files = {
        "train": tmp_path / "a" / "tr.bin",
        "val": tmp_path / "b" / "v.bin",
        "test": tmp_path / "c" / "te.bin",
        "manifest": tmp_path / "d" / "m.txt",
        "rejected": tmp_path / "e" / "r.txt",
        "summary": tmp_path / "f" / "s.txt",
    }
    summary = prepare_dataset(_cfg(root), files)
    written = {p for p in tmp_path.rglob("*") if p.is_file() and "data" not in p.parts}
    assert written == set(files.values())
    assert json.loads(files["summary"].read_text())["counts"] == summary["counts"]
    assert len(load_split(files["val"])) == sum(summary["counts"]["val"].values())
    with pytest.raises(ValueError, match="pool, folds, test, manifest, rejected, summary"):
        prepare_dataset(_cfg(root, split={"folds": 2}), files)
    with pytest.raises(ValueError, match="given train, val, test, manifest, rejected;"):
        prepare_dataset(_cfg(root), {r: p for r, p in files.items() if r != "summary"})


def test_an_incomplete_data_section_names_the_key(tmp_path: Path) -> None:
    cfg = _cfg(_folder(tmp_path / "data", n=4))
    del cfg["on_error"]
    with pytest.raises(ValueError, match="data.on_error: missing; .* validated by the schema"):
        _prepare(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cached_pixels_are_decode_file_pixels(tmp_path: Path) -> None:
    """Decoding into one buffer and arranging it in place gives each file its own pixels."""
    from biomedclf.data.decode import decode_file

    root = tmp_path / "data"
    for i in range(14):
        rgb = np.random.default_rng(i).integers(0, 256, (15 + i, 11, 3), dtype=np.uint8)
        for cls in ("a", "b"):
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb if cls == "a" else 255 - rgb).save(root / cls / f"{13 - i:02d}.png")
    (root / "a" / "05.png").write_bytes(b"")  # a rejected row inside the buffer
    (root / "b" / "copy.png").write_bytes((root / "b" / "07.png").read_bytes())
    out = tmp_path / "out"
    cfg = _cfg(root, channels=3, image_size=8, interpolation="bilinear")
    _prepare(cfg, out, threads=2)
    spec = spec_of(image_size=8, channels=3, interpolation="bilinear")
    splits = load_splits(data_files(out))
    for split in splits.values():
        assert split.paths == sorted(split.paths)
        for img, path in zip(split.images, split.paths):
            assert np.array_equal(img.numpy(), decode_file(root / path, spec).pixels), path
    assert sum(len(s) for s in splits.values()) == 28
    train = splits["train"].images.numpy().astype(np.float64) / 255
    assert splits["train"].mean == pytest.approx(train.mean(axis=(0, 2, 3)).tolist(), rel=1e-12)
    assert splits["train"].std == pytest.approx(train.std(axis=(0, 2, 3)).tolist(), rel=1e-12)
    for s in ("train", "val", "test"):  # each file holds its own split, not the whole buffer
        raw = torch.load(out / f"{s}.pt", weights_only=True)["images"]
        assert raw.untyped_storage().nbytes() == raw.numel()


def test_memory_grows_by_about_the_cache_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traced peak memory (numpy reports its buffers) grows per image by about the 9 KB each
    image takes in the cache: no per-image arrays, no stacked or float copies of a split."""
    import tracemalloc

    from biomedclf.data import cache

    monkeypatch.setattr(cache, "_STATS_CHUNK", 1 << 14)  # the statistics' fixed chunk, small
    peaks = {}
    for n in (10, 10, 60):  # the first run loads scipy and scikit-learn
        root = _folder(tmp_path / f"d{n}", n=n, start=n)
        tracemalloc.start()
        try:
            _prepare(_cfg(root, image_size=96), tmp_path / f"out{n}")
            peaks[n] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    per_image = (peaks[60] - peaks[10]) / (2 * 60 - 2 * 10)
    assert per_image <= 1.5 * 96 * 96, f"{per_image / 1024:.1f} KB per image"


def test_non_square_images_are_counted_and_padded(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=10)
    wide = np.full((8, 16), 200, dtype=np.uint8)
    Image.fromarray(wide).save(root / "normal" / "wide.png")
    Image.fromarray(wide.T.copy()).save(root / "pneumonia" / "tall.png")
    summary = _prepare(_cfg(root), tmp_path / "out")
    assert summary["resize"] == "pad" and summary["not_square"] == 2
    cached = {
        p: img
        for s in load_splits(data_files(tmp_path / "out")).values()
        for p, img in zip(s.paths, s.images)
    }
    wide_cached = cached["normal/wide.png"][0]  # 16 x 8 fitted into 8 x 8: rows 2..5, black around
    assert (wide_cached[:2] == 0).all() and (wide_cached[6:] == 0).all()
    assert (wide_cached[2:6] == 200).all()
    squashed = _prepare(_cfg(root, resize="squash"), tmp_path / "out2")
    assert squashed["resize"] == "squash" and squashed["not_square"] == 2
