"""Training throughput: the workflow's loop (biomedclf.train.loop) against a homework-style
notebook loop.

Both loops train the same model (biomedclf.train.models.build_model) on the same images with the
same batch size, optimizer (Adam, lr 1e-3) and loss (BCEWithLogits), with the same thread count:

- workflow: :func:`biomedclf.train.loop.run_training` for one epoch on a prepared cache (the uint8
  cache in memory, batches sliced by a permutation, channels_last for convolutional models);
  the figure is its own ``images_per_second`` (train.json: training phase only, no validation,
  checkpoint or start-up). A one-batch run of the same model comes first, so one-time set-up
  (oneDNN kernel selection, allocator growth) is not counted;
- notebook: torchvision ``ImageFolder`` over the same PNG files with ``Resize((256, 256),
  bicubic)``, ``Grayscale``, ``ToTensor`` (every image decoded every epoch), a ``DataLoader``
  with batch 64, shuffle and ``num_workers=0`` (the default), NCHW float32, ``loss.item()`` and
  the correct count read every step as notebooks do. The first batch is the warm-up and is not
  timed.

It also counts the FLOPs of one training step with ``torch.utils.flop_counter.FlopCounterMode``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

LR = 1.0e-3


def split_rows(split: Any, idx: torch.Tensor) -> Any:
    """A copy of the rows ``idx`` of a cached split (its own contiguous tensors, to save)."""
    from biomedclf.data.cache import CachedSplit

    return CachedSplit(
        images=split.images[idx].contiguous(),
        labels=split.labels[idx].contiguous(),
        paths=[split.paths[i] for i in idx.tolist()],
        class_names=split.class_names,
        mean=split.mean,
        std=split.std,
    )


@dataclass(frozen=True)
class TrainingData:
    """The images both loops train on: a prepared cache and the same files as an ImageFolder."""

    cache_dir: Path  # train.pt (n_train images) + val.pt + test.pt
    warm_cache_dir: Path  # one batch of the same images, for the untimed warm-up run
    decoding: dict[str, Any]  # the decoding settings the cache was prepared with
    folder: Path  # folder/{class}/*.png: links to exactly the cache's training images
    n_train: int
    image_size: int


def build_training_data(
    work: Path, n_train: int, n_val: int, image_size: int, batch_size: int, seed: int = 0
) -> TrainingData:
    """Generate synthetic PNGs, prepare them with the workflow's prepare_dataset, and lay out
    the same training images as a cache of exactly ``n_train`` images and as an ImageFolder."""
    from config_helpers import data_config, data_files
    from config_helpers import decoding as decoding_of

    from biomedclf.data.cache import load_split, save_split
    from biomedclf.data.prepare import prepare_dataset
    from biomedclf.data.synthetic import generate_synthetic

    src = work / "synthetic"
    prepared = work / "prepared"
    # prepare keeps ~80 % for training (val 0.12, test 0.08); a margin for group rounding
    n_per_class = math.ceil((n_train + n_val) / 0.78 / 2) + 8
    t0 = time.perf_counter()
    generate_synthetic(src, n_per_class, image_size, difficulty=0.5, seed=seed, n_classes=2)
    data = {
        "source": "folder",
        "path": str(src),
        "image_size": image_size,
        "channels": 1,
        "split": {"val": 0.12, "test": 0.08, "seed": seed},
    }
    files = data_files(prepared)
    prepare_dataset(data_config(**data), files, threads=2)
    train, val = load_split(files["train"]), load_split(files["val"])
    if len(train) < n_train:
        raise RuntimeError(f"{prepared}: only {len(train)} training images, wanted {n_train}")
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(train), generator=gen)[:n_train].sort().values
    vpick = torch.arange(min(n_val, len(val)))

    cache_dir, warm_dir = work / "cache", work / "cache_warm"
    for d in (cache_dir, warm_dir):
        d.mkdir(parents=True, exist_ok=True)
    bench_train = split_rows(train, pick)
    save_split(cache_dir / "train.pt", bench_train)
    save_split(cache_dir / "val.pt", split_rows(val, vpick))
    save_split(warm_dir / "train.pt", split_rows(bench_train, torch.arange(batch_size)))
    save_split(warm_dir / "val.pt", split_rows(val, vpick[:batch_size]))
    # the training job also scores the test split once training has ended (not timed)
    for d in (cache_dir, warm_dir):
        save_split(d / "test.pt", split_rows(val, vpick[:batch_size]))

    folder = work / "imagefolder"
    for rel in bench_train.paths:
        dest = folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            os.symlink((src / rel).resolve(), dest)
    log.info(
        "training data: %d images %dpx (%d val) in %.1f s",
        n_train,
        image_size,
        len(vpick),
        time.perf_counter() - t0,
    )
    decoding = decoding_of(**data)
    return TrainingData(cache_dir, warm_dir, decoding, folder, n_train, image_size)


def _spec(model: str, batch_size: int, device: str) -> dict[str, Any]:
    from config_helpers import variant_spec

    # float32 like the notebook (bf16 autocast is only used on CUDA)
    training = {"epochs": 1, "batch_size": batch_size, "optimizer": "adam", "lr": LR}
    return variant_spec(model, name=f"bench_{model}", device=device, amp=False, **training)


def workflow_loop(
    model: str,
    data: TrainingData,
    work: Path,
    threads: int,
    batch_size: int,
    device: str = "cpu",
    warm_up: bool = True,
) -> dict[str, Any]:
    """images/s of biomedclf.train.loop.run_training (its own train.json figure), after a
    warm-up."""
    from config_helpers import cache_files, train_files

    from biomedclf.train.loop import run_training

    spec = _spec(model, batch_size, device)
    out = work / f"run_{model}_{device}"

    def run(cache: Path, tag: str) -> dict[str, Any]:
        files, outputs = cache_files(cache), train_files(out / tag)
        ckpt = out / f"{tag}_ckpt"
        return run_training(spec, 0, files, outputs, ckpt, threads, decoding=data.decoding)

    if warm_up:
        run(data.warm_cache_dir, "warm")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    info = run(data.cache_dir, "timed")
    result = {
        "images_per_second": info["images_per_second"],
        "images": info["n_train"],
        "seconds": info["n_train"] / info["images_per_second"],
        "threads": info["threads"],
        "device": info["device"],
    }
    if device == "cuda":
        result["peak_gpu_memory_mb"] = info["peak_memory_mb"]
    return result


def notebook_loop(
    model_name: str, data: TrainingData, threads: int, batch_size: int, device: str = "cpu"
) -> dict[str, Any]:
    """images/s of a homework-style loop over ImageFolder + DataLoader; the first batch untimed."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from biomedclf.train.models import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    size = data.image_size
    transform = transforms.Compose(
        [
            transforms.Resize((size, size), interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.Grayscale(),
            transforms.ToTensor(),
        ]
    )
    dataset = datasets.ImageFolder(str(data.folder), transform=transform)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0)
    model = build_model(model_name, {}, 1, size, n_classes=2).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    criterion = nn.BCEWithLogitsLoss()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    model.train()
    running_loss, correct, timed_images = 0.0, 0, 0
    t0 = None
    for step, (images, labels) in enumerate(loader):
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(images).squeeze(1)
        loss = criterion(outputs, labels.float())
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * images.size(0)
        correct += ((torch.sigmoid(outputs) > 0.5).long() == labels).sum().item()
        if step == 0:
            t0 = time.perf_counter()  # warm-up batch done; time the rest of the epoch
        else:
            timed_images += images.size(0)
    seconds = time.perf_counter() - t0 if t0 is not None else float("nan")
    result = {
        "images_per_second": timed_images / seconds if timed_images else None,
        "images": timed_images,
        "seconds": seconds,
        "threads": threads,
        "device": device,
    }
    if device == "cuda":
        result["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def flops_per_image(model_name: str, image_size: int, batch_size: int) -> float:
    """FLOPs of one training step (forward + backward) per image, by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    from biomedclf.train.models import build_model

    model = build_model(model_name, {}, 1, image_size, n_classes=2)
    model.train()
    x = torch.randn(batch_size, 1, image_size, image_size)
    y = torch.randint(0, 2, (batch_size,)).float()
    counter = FlopCounterMode(display=False)
    with counter:
        loss = nn.functional.binary_cross_entropy_with_logits(model(x).reshape(-1), y)
        loss.backward()
    return counter.get_total_flops() / batch_size


def compare(
    models: list[str],
    data: TrainingData,
    work: Path,
    threads: int,
    batch_size: int,
    device: str = "cpu",
    repeats: int = 1,
) -> dict[str, Any]:
    """Workflow vs notebook for each model, measured back to back, alternating ``repeats``
    times; each side's best run counts (other users' load only ever slows a run down).

    Every run is a fresh process: the workflow's loop changes process-wide settings (glibc's
    malloc, biomedclf.train.speedups) that would otherwise speed up the notebook runs after it.
    """
    rows: dict[str, Any] = {}
    for name in models:
        log.info("training throughput on %s: %s", device, name)
        nbs, wfs = [], []
        for _ in range(repeats):
            nbs.append(_in_fresh_process(notebook_loop, name, data, threads, batch_size, device))
            wfs.append(
                _in_fresh_process(workflow_loop, name, data, work, threads, batch_size, device)
            )
        nb = max(nbs, key=lambda d: d["images_per_second"] or 0)
        wf = max(wfs, key=lambda d: d["images_per_second"] or 0)
        rows[name] = {
            "workflow": {**wf, "all_images_per_second": [d["images_per_second"] for d in wfs]},
            "notebook": {**nb, "all_images_per_second": [d["images_per_second"] for d in nbs]},
            "ratio": (
                wf["images_per_second"] / nb["images_per_second"]
                if wf["images_per_second"] and nb["images_per_second"]
                else None
            ),
            "load_1min_after": round(os.getloadavg()[0], 2),
        }
        log.info(
            "  %s: workflow %.1f img/s, notebook %.1f img/s (%.2fx); runs %s / %s",
            name,
            wf["images_per_second"],
            nb["images_per_second"],
            rows[name]["ratio"] or float("nan"),
            [round(d["images_per_second"], 1) for d in wfs],
            [round(d["images_per_second"] or 0, 1) for d in nbs],
        )
    return rows


def _in_fresh_process(fn, *args: Any) -> Any:
    """``fn(*args)`` in a new interpreter (spawned; its start-up is not part of any timing)."""
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(fn, *args).result()


@contextlib.contextmanager
def _quiet_library_logs():
    """Keep run_training's per-epoch INFO lines out of the benchmark's own output."""
    logger = logging.getLogger("biomedclf")
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)


def run(
    work: Path,
    n_train: int,
    threads: int,
    batch_size: int,
    image_size: int,
    models: list[str],
    peak: dict[str, Any],
    repeats: int = 1,
) -> dict[str, Any]:
    """Parts 1, 2 and 5 of the suite: CPU comparison, fraction of the matmul peak, CUDA."""
    with _quiet_library_logs():
        data = build_training_data(work, n_train, 64, image_size, batch_size)
        cpu = compare(models, data, work, threads, batch_size, "cpu", repeats)
        flops = {m: flops_per_image(m, image_size, batch_size) for m in models}
        result: dict[str, Any] = {
            "images": n_train,
            "image_size": image_size,
            "batch_size": batch_size,
            "threads": threads,
            "repeats": repeats,
            "source_images": f"synthetic PNG, {image_size}px, 1 channel",
            "cpu": cpu,
            "flops_per_image": flops,
        }
        if "conv" in cpu:
            ips = cpu["conv"]["workflow"]["images_per_second"]
            result["conv_fraction_of_peak"] = {
                "flops_per_image": flops["conv"],
                "achieved_flops": flops["conv"] * ips,
                "peak_flops": peak["best_flops"],
                "fraction": flops["conv"] * ips / peak["best_flops"],
                "notebook_fraction": flops["conv"]
                * cpu["conv"]["notebook"]["images_per_second"]
                / peak["best_flops"],
            }
        if torch.cuda.is_available():
            from machine import matmul_peak

            result["cuda"] = compare(models, data, work, threads, batch_size, "cuda")
            result["cuda_matmul_peak"] = matmul_peak(n=8192, reps=10, device="cuda")
            result["cuda_device"] = torch.cuda.get_device_name(0)
        else:
            result["cuda"] = None
            result["cuda_skipped"] = "no CUDA device on this machine: GPU comparison skipped"
            log.info(result["cuda_skipped"])
    return result
