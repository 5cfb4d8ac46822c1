"""Preparation throughput: prepare_dataset (the rule's threads) against a single-process
ImageFolder pass over the same JPEG/PNG folder, and loading the cache against decoding again."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def make_folder(root: Path, n_images: int, side: int, seed: int = 0) -> dict[str, Any]:
    """Write ``n_images`` radiograph-like images of about ``side`` px into root/{normal,opacity}/,
    half JPEG (quality 90), half PNG, sizes varying by +-10 % (as real scans do)."""
    from PIL import Image

    from biomedclf.data.synthetic import make_images

    n_per_class = (n_images + 1) // 2
    images, classes, _ = make_images(n_per_class, side, difficulty=0.5, seed=seed, n_classes=2)
    rng = np.random.default_rng(seed)
    names = ("normal", "opacity")
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    n_bytes = 0
    for i, (img, cls) in enumerate(zip(images[:n_images], classes[:n_images])):
        w, h = (int(side * f) for f in rng.uniform(0.9, 1.1, 2))
        pil = Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR)
        if i % 2:
            path = root / names[cls] / f"img{i:05d}.jpg"
            pil.save(path, quality=90)
        else:
            path = root / names[cls] / f"img{i:05d}.png"
            pil.save(path)
        n_bytes += path.stat().st_size
    return {"images": min(n_images, len(images)), "side": side, "mb": round(n_bytes / 2**20, 1)}


def imagefolder_pass(root: Path, image_size: int) -> dict[str, Any]:
    """One single-process pass of the notebook's ImageFolder pipeline over every image."""
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [
            transforms.Resize(
                (image_size, image_size), interpolation=transforms.InterpolationMode.BICUBIC
            ),
            transforms.Grayscale(),
            transforms.ToTensor(),
        ]
    )
    dataset = datasets.ImageFolder(str(root), transform=transform)
    t0 = time.perf_counter()
    for i in range(len(dataset)):
        dataset[i]
    seconds = time.perf_counter() - t0
    return {"images": len(dataset), "seconds": seconds, "images_per_second": len(dataset) / seconds}


def prepare_pass(root: Path, out: Path, image_size: int, threads: int) -> dict[str, Any]:
    """prepare_dataset on the folder: whole call and its decode stage (summary decode_seconds)."""
    import torch
    from config_helpers import data_config, data_files

    from biomedclf.data.prepare import prepare_dataset

    torch.set_num_threads(threads)
    cfg = data_config(source="folder", path=str(root), image_size=image_size, channels=1)
    t0 = time.perf_counter()
    summary = prepare_dataset(cfg, data_files(out), threads=threads)
    seconds = time.perf_counter() - t0
    n = int(summary["n_files"])
    return {
        "images": n,
        "threads": threads,
        "seconds": seconds,
        "images_per_second": n / seconds,
        "decode_seconds": summary["decode_seconds"],
        "decode_images_per_second": n / max(summary["decode_seconds"], 1e-9),
    }


def cache_load(data_dir: Path, reps: int = 3) -> dict[str, Any]:
    """Best time to load all three splits with load_split (files in the page cache)."""
    from config_helpers import cache_files

    from biomedclf.data.cache import load_split

    best = float("inf")
    n = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        n = sum(len(load_split(path)) for path in cache_files(data_dir).values())
        best = min(best, time.perf_counter() - t0)
    return {"images": n, "seconds": best, "images_per_second": n / best}


def run(work: Path, n_images: int, side: int, image_size: int, threads: int) -> dict[str, Any]:
    """Part 3 of the suite."""
    root = work / "jpeg_png"
    made = make_folder(root, n_images, side)
    logging.getLogger("biomedclf").setLevel(logging.WARNING)
    # read every file once so that neither side pays for a cold page cache
    for f in root.rglob("*"):
        if f.is_file():
            f.read_bytes()
    single = imagefolder_pass(root, image_size)
    prep1 = prepare_pass(root, work / "prepared_1", image_size, threads=1)
    prep = prepare_pass(root, work / "prepared", image_size, threads=threads)
    load = cache_load(work / "prepared")
    logging.getLogger("biomedclf").setLevel(logging.NOTSET)
    result = {
        "folder": made,
        "image_size": image_size,
        "imagefolder_single_process": single,
        "prepare_1_thread": prep1,
        "prepare": prep,
        "ratio_prepare": prep["images_per_second"] / single["images_per_second"],
        "ratio_decode_stage": prep["decode_images_per_second"] / single["images_per_second"],
        "cache_load": load,
        "ratio_load_vs_decode": load["images_per_second"] / single["images_per_second"],
    }
    log.info(
        "prepare %.0f img/s (%d threads; decode stage %.0f) vs ImageFolder %.0f img/s: %.2fx; "
        "cache load %.0f img/s",
        prep["images_per_second"],
        threads,
        prep["decode_images_per_second"],
        single["images_per_second"],
        result["ratio_prepare"],
        load["images_per_second"],
    )
    return result
