"""The split cache: one ``{train,val,test}.pt`` per split, written by prepare, read by training.

Each file is a ``torch.save`` of a plain dict (workflow/CONTRACTS.md)::

    {"images": uint8 N x C x H x W, "labels": int64 N, "paths": [str], "class_names": [neg, pos],
     "mean": [float per channel], "std": [float per channel]}

Only tensors, lists, strings and floats are stored, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import atomic_path

SPLITS = ("train", "val", "test")
_KEYS = ("images", "labels", "paths", "class_names", "mean", "std")


@dataclass
class CachedSplit:
    """One split of the cache. Label 1 is the positive class (``class_names[1]``)."""

    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N
    paths: list[str]  # posix, relative to the data root
    class_names: list[str]  # [negative, positive]
    mean: list[float]  # train-split mean of pixel/255, per channel
    std: list[float]  # train-split std of pixel/255, per channel

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def channel_stats(images: np.ndarray | torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of ``pixel / 255`` over an N x C x H x W uint8 stack.

    Accumulated in float64 chunk by chunk, so large caches need no float copy.
    """
    arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    n, c = arr.shape[:2]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    count = 0
    for start in range(0, n, 1024):
        chunk = arr[start : start + 1024].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += (chunk**2).sum(axis=(0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    if count == 0:
        return [0.0] * c, [1.0] * c
    mean = total / count
    var = np.maximum(total_sq / count - mean**2, 0.0)
    return [float(m) for m in mean], [float(s) for s in np.sqrt(var)]


def save_split(path: Path, split: CachedSplit) -> None:
    """Write one split atomically as the contract's plain dict."""
    images = split.images.contiguous()
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(
            f"{path}: images must be uint8 N x C x H x W, got {images.dtype} {tuple(images.shape)}"
        )
    payload = {
        "images": images,
        "labels": split.labels.to(torch.int64).contiguous(),
        "paths": list(split.paths),
        "class_names": list(split.class_names),
        "mean": [float(m) for m in split.mean],
        "std": [float(s) for s in split.std],
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_split(data_dir: Path, split: str, mmap: bool = False) -> CachedSplit:
    """Load ``data_dir/{split}.pt``.

    ``mmap=True`` maps the file instead of reading it (pages load on first touch), which helps
    when only part of a large cache is used; a plain read is already fast for whole-split use.
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: use one of {', '.join(SPLITS)}")
    path = Path(data_dir) / f"{split}.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no cached split; run the prepare step first (e.g. snakemake "
            f"{path.parent / 'summary.json'})"
        )
    try:
        data: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # a damaged or foreign file: say which and how to fix
        raise ValueError(
            f"{path}: not a readable split cache ({exc}); delete it and rerun prepare"
        ) from exc
    lacking = [k for k in _KEYS if k not in data]
    if lacking:
        raise ValueError(
            f"{path}: split cache lacks {', '.join(lacking)}; it was written by another version, "
            "delete it and rerun prepare"
        )
    return CachedSplit(
        images=data["images"],
        labels=data["labels"],
        paths=list(data["paths"]),
        class_names=list(data["class_names"]),
        mean=list(data["mean"]),
        std=list(data["std"]),
    )


def load_splits(data_dir: Path, mmap: bool = False) -> dict[str, CachedSplit]:
    """Load all three splits: ``{"train": ..., "val": ..., "test": ...}``."""
    return {s: load_split(data_dir, s, mmap=mmap) for s in SPLITS}
