"""The split cache: pixel statistics from histograms, and split files that hold only their split."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from biomedclf.data import cache
from biomedclf.data.cache import (
    CachedSplit,
    ImageRows,
    load_split,
    owns_storage,
    pixel_histograms,
    pixel_statistics,
    save_split,
)


def _stack(n: int, c: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, c, size, size), dtype=np.uint8)


def test_histograms_count_every_pixel_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    images = _stack(7, 3, 5)
    monkeypatch.setattr(cache, "_STATS_CHUNK", 40)  # 1 image (25 px) per chunk
    hist = pixel_histograms(images)
    assert hist.shape == (3, 256)
    for k in range(3):
        assert np.array_equal(hist[k], np.bincount(images[:, k].ravel(), minlength=256))


@pytest.mark.parametrize("chunk", [40, 1 << 22])
def test_statistics_equal_float64_numpy(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(cache, "_STATS_CHUNK", chunk)
    images = _stack(9, 3, 6, seed=1)
    images[:, 1] //= 4  # channels with different statistics
    mean, std = pixel_statistics(images)
    as_float = images.astype(np.float64) / 255.0
    assert mean == pytest.approx(as_float.mean(axis=(0, 2, 3)).tolist(), rel=1e-12, abs=0)
    assert std == pytest.approx(as_float.std(axis=(0, 2, 3)).tolist(), rel=1e-12, abs=0)
    # ... and they are the exact values, rounded once.
    values = images[:, 0].ravel().tolist()
    exact_mean = Fraction(sum(values), 255 * len(values))
    assert mean[0] == float(exact_mean)
    exact_var = Fraction(sum(v * v for v in values), 255**2 * len(values)) - exact_mean**2
    assert std[0] == float(exact_var) ** 0.5


def test_statistics_of_torch_tensor_and_edge_cases() -> None:
    images = _stack(4, 1, 4, seed=2)
    assert pixel_statistics(torch.from_numpy(images)) == pixel_statistics(images)
    assert pixel_statistics(np.full((3, 1, 4, 4), 51, np.uint8)) == ([0.2], [0.0])
    assert pixel_statistics(np.zeros((0, 3, 4, 4), np.uint8)) == ([0.0] * 3, [1.0] * 3)
    with pytest.raises(ValueError, match="uint8 N x C x H x W"):
        pixel_statistics(images.astype(np.float32))


def _split(images: torch.Tensor) -> CachedSplit:
    n = images.shape[0]
    return CachedSplit(
        images=images,
        labels=torch.zeros(n, dtype=torch.int64),
        paths=[f"{i}.png" for i in range(n)],
        class_names=["a", "b"],
        mean=[0.5],
        std=[0.25],
    )


def test_split_file_holds_only_the_split(tmp_path: Path) -> None:
    buffer = _stack(100, 1, 32, seed=3)  # 100 KB
    numpy_view = torch.from_numpy(buffer[10:20])
    torch_slice = torch.from_numpy(buffer)[10:20]
    assert owns_storage(numpy_view) and not owns_storage(torch_slice)
    for name, images in (("view", numpy_view), ("slice", torch_slice)):
        save_split(tmp_path / name / "train.pt", _split(images))
        assert (tmp_path / name / "train.pt").stat().st_size < 10 * 1024 + 4096, name
        back = load_split(tmp_path / name / "train.pt").images
        assert torch.equal(back, torch.from_numpy(buffer[10:20].copy()))
        assert back.untyped_storage().nbytes() == 10 * 32 * 32
    assert not owns_storage(torch.zeros(4, 4).t())  # not contiguous


def test_image_rows_copy_only_the_rows_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = torch.from_numpy(_stack(30, 2, 4, seed=4))
    order = torch.tensor([29, 3, 3, 0, 17, 8])
    rows = ImageRows(images, order)
    assert rows.shape == (6, 2, 4, 4) and len(rows) == 6 and rows.dim() == 4
    assert rows.dtype == torch.uint8 and rows.device == images.device
    assert torch.equal(rows[:], images[order]) and torch.equal(rows[1], images[3])
    assert torch.equal(rows[torch.tensor([4, 0])], images[torch.tensor([17, 29])])
    assert rows.to("cpu") is rows  # its own device: itself, as a tensor's to()
    out = torch.empty(2, 2, 4, 4, dtype=torch.uint8)
    assert rows.index_select(torch.tensor([5, 1]), out=out).data_ptr() == out.data_ptr()
    assert torch.equal(out, images[torch.tensor([8, 3])])
    nested = ImageRows(rows, torch.tensor([0, 4]))  # rows of rows index the base directly
    assert nested.base is images and nested.index.tolist() == [29, 17]
    monkeypatch.setattr(cache, "_STATS_CHUNK", 40)  # one image per chunk
    assert np.array_equal(pixel_histograms(rows), pixel_histograms(images[order]))
    assert pixel_statistics(rows) == pixel_statistics(images[order].numpy())
    save_split(tmp_path / "rows.pt", _split(rows))  # written as its rows, compact
    assert torch.equal(load_split(tmp_path / "rows.pt").images, images[order])


def test_mapped_split_equals_the_read_one(tmp_path: Path) -> None:
    save_split(tmp_path / "train.pt", _split(torch.from_numpy(_stack(5, 1, 8, seed=5))))
    read, mapped = load_split(tmp_path / "train.pt"), load_split(tmp_path / "train.pt", True)
    assert torch.equal(read.images, mapped.images) and read.paths == mapped.paths
    old = tmp_path / "old.pt"  # torch.save's legacy format cannot be mapped
    torch.save({"images": read.images}, old, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="not a readable split cache.*rerun prepare"):
        load_split(old, mmap=True)


def test_multilabel_split_keeps_its_mask_through_file_and_fold_rows(tmp_path: Path) -> None:
    from biomedclf.data.fold_cache import subset

    rng = np.random.default_rng(6)
    labels = torch.from_numpy(rng.integers(0, 2, (6, 3)).astype(np.int64))
    mask = torch.from_numpy(rng.random((6, 3)) > 0.3)
    split = _split(torch.from_numpy(_stack(6, 1, 4, seed=6)))
    split.labels, split.mask, split.class_names = labels, mask, ["a", "b", "c"]
    save_split(tmp_path / "ml.pt", split)
    for mmap in (False, True):
        back = load_split(tmp_path / "ml.pt", mmap=mmap)
        assert back.multilabel and torch.equal(back.labels, labels)
        assert back.mask is not None and torch.equal(back.mask, mask)
    part = subset(back, np.array([5, 0, 2]))
    assert part.mask is not None and torch.equal(part.mask, mask[[5, 0, 2]])
    assert torch.equal(part.labels, labels[[5, 0, 2]])
    single = load_split(tmp_path / "ml.pt")
    single.mask = None  # a multi-label split without its mask is refused, not guessed
    with pytest.raises(ValueError, match="needs a mask of the labels' shape"):
        save_split(tmp_path / "bad.pt", single)
    assert not _split(torch.from_numpy(_stack(2, 1, 4))).multilabel
