"""Training from the mapped cache: resident and streamed batches give the same model, bit for
bit; the cache is mapped, not read; training.device_cache is parsed and budgeted."""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import cache_files, train_files
from test_train import cache_decoding, make_spec, write_cache

from biomedclf.data.cache import ImageRows
from biomedclf.train.batches import (
    DeviceImages,
    device_budget,
    eval_logits,
    nbytes,
    place,
    training_batches,
)
from biomedclf.train.inputs import load_training_data
from biomedclf.train.loop import run_training
from biomedclf.train.settings import DEVICE_CACHE_ENV, device_cache_bytes

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cache(tmp_path_factory.mktemp("cache"), sizes=(50, 300, 20))


def _fold_files(data: Path, folder: Path) -> dict[str, Path]:
    """The cache's train split as a cross-validation pool of 4 folds (fold files as prepare
    writes them)."""
    from biomedclf.data.folds import Folds, write_folds

    files = cache_files(folder, folds=True)
    folder.mkdir(parents=True)
    torch.save(torch.load(data / "train.pt", weights_only=True), files["pool"])
    torch.save(torch.load(data / "test.pt", weights_only=True), files["test"])
    fold = np.arange(50) % 4
    inner = [np.flatnonzero(fold != f)[:9] for f in range(4)]
    write_folds(files["folds"], Folds(4, 0, 0.15, fold, inner))
    return files


def _train(
    data: Path, out: Path, device_cache: str, fold: int | None, monkeypatch, caplog
) -> tuple[dict, dict[str, Path]]:
    monkeypatch.setenv(DEVICE_CACHE_ENV, device_cache)
    files = cache_files(data) if fold is None else _fold_files(data, out / "cache")
    outputs = train_files(out)
    spec = make_spec("conv_gap", {"width": 4, "batch_norm": True}, epochs=2, augment=True)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="biomedclf.train.inputs"):
        info = run_training(
            spec, 3, files, outputs, out / "ckpt", decoding=cache_decoding(data), fold=fold
        )
    return info, outputs | {"log": caplog.text}


@pytest.mark.parametrize("fold", [None, 1])
def test_streamed_batches_train_the_same_model_as_resident_ones(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, fold
) -> None:
    """device_cache 1GB keeps train and val in (private) memory, 0GB streams every batch from
    the mapped files: the same model, history and scores, bit for bit. The val split (300
    images) spans two evaluation batches of 256."""
    resident, a = _train(data, tmp_path / "resident", "1GB", fold, monkeypatch, caplog)
    stream, b = _train(data, tmp_path / "streamed", "0GB", fold, monkeypatch, caplog)
    assert "train images" in a["log"] and "streamed" not in a["log"]
    assert "train images" in b["log"] and "val images" in b["log"]
    assert b["log"].count("streamed to cpu from mapped host memory") == 2
    model_a = torch.load(a["model"], weights_only=True)["state_dict"]
    model_b = torch.load(b["model"], weights_only=True)["state_dict"]
    assert model_a.keys() == model_b.keys()
    assert all(torch.equal(model_a[k], model_b[k]) for k in model_a)
    rows = [list(csv.DictReader(p["history"].open())) for p in (a, b)]
    assert [[{k: v for k, v in r.items() if k != "seconds"} for r in h] for h in rows] == [
        [{k: v for k, v in r.items() if k != "seconds"} for r in rows[0]]
    ] * 2
    assert a["scores"].read_text() == b["scores"].read_text()
    assert resident["best_epoch"] == stream["best_epoch"]


def _mapped_files(tensor: torch.Tensor) -> set[str]:
    """The files of /proc/self/maps whose mapping holds ``tensor``'s first byte."""
    ptr, found = tensor.data_ptr(), set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        lo, hi = (int(v, 16) for v in parts[0].split("-"))
        if lo <= ptr < hi and len(parts) == 6:
            found.add(parts[5].strip())
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_training_maps_the_cache_and_a_batch_copies_only_its_rows(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DEVICE_CACHE_ENV, raising=False)  # unset: auto (on CPU: stream)
    d = load_training_data(cache_files(data), CPU)
    assert not d.x_train.resident and not d.x_val.resident
    assert _mapped_files(d.x_train.images) == {str(cache_files(data)["train"].resolve())}
    assert _mapped_files(d.x_val.images) == {str(cache_files(data)["val"].resolve())}
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(0))
    batches = list(training_batches(d.x_train, d.y_train, perm, 48, 16))
    assert [tuple(x.shape) for x, _ in batches] == [(16, 1, 16, 16)] * 3
    for i, (x, y) in enumerate(batches):
        rows = perm[16 * i : 16 * (i + 1)]
        assert torch.equal(x, d.train.images[rows]) and torch.equal(y, d.train.labels[rows])
        assert x.untyped_storage().nbytes() == 16 * 16 * 16  # the batch alone, not the split
        assert not any(f.startswith("/") for f in _mapped_files(x))  # own memory, no file


def test_resident_and_streamed_evaluation_agree_across_batches() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    images = torch.randint(0, 256, (600, 1, 4, 4), dtype=torch.uint8)
    mean, std = torch.full((1, 1, 1, 1), 0.4), torch.full((1, 1, 1, 1), 0.2)
    rows = ImageRows(images, torch.arange(599, -1, -1))
    for x in (images, rows):
        resident, _ = place(x, CPU, nbytes(x))
        streamed = DeviceImages(x, CPU, resident=False)
        assert resident.resident and not streamed.resident
        a = eval_logits(model, resident, mean, std)
        assert torch.equal(a, eval_logits(model, streamed, mean, std))
        assert a.shape == (600, 3)


def test_place_spends_the_budget_train_first() -> None:
    train = torch.zeros(10, 1, 4, 4, dtype=torch.uint8)  # 160 bytes
    x, left = place(train, CPU, 200)
    assert x.resident and left == 40
    assert x.images.data_ptr() != train.data_ptr()  # a private copy
    val, left = place(train[:5], CPU, left)  # 80 bytes > 40
    assert not val.resident and left == 40 and val.images is not None
    assert not place(train, CPU, 159)[0].resident


def test_device_cache_spellings_and_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    assert device_cache_bytes("auto") is None
    assert device_cache_bytes("2GB") == 2 * 10**9
    assert device_cache_bytes("512 MB") == 512 * 10**6
    assert device_cache_bytes("1.5GiB") == 3 * 2**29
    assert device_cache_bytes("0GB") == 0
    for bad in ("2G", "-1GB", "lots", "2 gb"):
        with pytest.raises(ValueError, match=r"training\.device_cache: .* e\.g\. 2GB"):
            device_cache_bytes(bad)
    monkeypatch.setenv(DEVICE_CACHE_ENV, "3MB")
    assert device_budget(CPU) == 3 * 10**6
    monkeypatch.setenv(DEVICE_CACHE_ENV, "auto")
    assert device_budget(CPU) == 0  # the mapped cache is already in (shared) memory
    monkeypatch.delenv(DEVICE_CACHE_ENV)
    assert device_budget(CPU) == 0
    assert device_budget(CPU, "1MB") == 10**6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_streamed_batches_equal_resident_ones() -> None:
    """The pinned-buffer prefetcher on a side stream gives the batches (and evaluation
    logits) of the resident split."""
    cuda = torch.device("cuda")
    images = torch.randint(0, 256, (300, 1, 8, 8), dtype=torch.uint8)
    labels = torch.arange(300, device=cuda) % 2
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)).to(cuda)
    mean = torch.full((1, 1, 1, 1), 0.5, device=cuda)
    std = torch.full((1, 1, 1, 1), 0.25, device=cuda)
    for x in (images, ImageRows(images, torch.arange(299, -1, -1))):
        resident, _ = place(x, cuda, nbytes(x))
        streamed = DeviceImages(x, cuda, resident=False)
        assert resident.resident and resident.images.device.type == "cuda"
        drawn = [
            [(b.clone(), y.clone()) for b, y in training_batches(d, labels, perm, 299, 64)]
            for d in (resident, streamed)
        ]
        assert len(drawn[0]) == len(drawn[1]) == 5
        for (a, ya), (b, yb) in zip(*drawn):
            assert b.device.type == "cuda" and torch.equal(a, b) and torch.equal(ya, yb)
        assert torch.equal(
            eval_logits(model, resident, mean, std), eval_logits(model, streamed, mean, std)
        )


def test_model_input_is_the_normalised_batch_without_touching_the_images() -> None:
    """The batch normalised in place on its own float copy equals ((x / 255) - mean) / std
    computed out of place, bit for bit, and leaves the uint8 images as they were."""
    from biomedclf.train.augment import normalisation_tensors, to_model_input

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g)
    before = images.clone()
    mean, std = normalisation_tensors([0.3, 0.4, 0.5], [0.2, 0.25, 0.3], torch.device("cpu"))
    x = to_model_input(images, mean, std, channels_last=True)
    assert torch.equal(x, (images.float() / 255 - mean) / std)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(images, before)


@pytest.mark.parametrize("channels_last", [False, True])
def test_model_input_written_into_a_reused_buffer_is_the_same_batch(channels_last: bool) -> None:
    """Batches written into one reused buffer (evaluation's) equal the batches built on their
    own bit for bit, in the same memory format, a short last batch included; the buffer's
    rows are the returned batch (no new batch-sized block)."""
    from biomedclf.train.augment import input_buffer, normalisation_tensors, to_model_input

    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (11, 3, 16, 16), dtype=torch.uint8, generator=g)
    mean, std = normalisation_tensors([0.3, 0.4, 0.5], [0.2, 0.25, 0.3], torch.device("cpu"))
    buffer = input_buffer(images, 4, channels_last=channels_last)
    assert buffer.shape == (4, 3, 16, 16)
    for start in range(0, 11, 4):
        batch = images[start : start + 4]
        x = to_model_input(batch, mean, std, channels_last=channels_last, out=buffer)
        alone = to_model_input(batch, mean, std, channels_last=channels_last)
        assert torch.equal(x, alone) and x.data_ptr() == buffer.data_ptr()
        assert x.is_contiguous(memory_format=alone_format(channels_last))


def alone_format(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format
