"""The split cache: one file per split (train, val, test), written by prepare, read by training
(with cross-validation the pool the folds partition, and the test split); the rules name the
files (``biomedclf.layout``).

Each file is a ``torch.save`` of a plain dict (workflow/CONTRACTS.md)::

    {"images": uint8 N x C x H x W, "labels": int64 N, "paths": [str], "class_names": [str],
     "mean": [float per channel], "std": [float per channel]}

Labels are 0..K-1 and ``class_names[k]`` names label k (two classes: ``[negative, positive]``).
A multi-label split (``data.task: multilabel``) holds ``labels`` int64 N x L (1 positive, 0
negative, after the policies for uncertain and blank entries), ``class_names`` the L label
names, and a ``mask`` bool N x L (False where an entry is ignored by the loss and the metrics).
Only tensors, lists, strings and floats are stored, so it loads with ``weights_only=True``; the
same split gives the same file, byte for byte.

The file is ``torch.save``'s zip archive, whose tensor data sit uncompressed and aligned in it,
so ``load_split(path, mmap=True)`` maps the images instead of reading them: training jobs do
(:mod:`biomedclf.train.inputs`), and every job on a machine then reads the same pages of the
page cache (a private mapping that is only read shares its pages), while indexing a batch
copies that batch alone. :class:`ImageRows` picks rows of such a tensor without copying them
(a cross-validation fold's parts of the pool, :mod:`biomedclf.data.fold_cache`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import atomic_path

#: The roles of the cache's split files: the three splits, or with cross-validation the pool
#: (``data.split.folds``) and the test split.
CACHE_ROLES = ("train", "val", "test", "pool")
_KEYS = ("images", "labels", "paths", "class_names", "mean", "std")


class ImageRows:
    """The rows ``index`` of a uint8 N x C x H x W tensor ``images``, not copied: a lazy
    ``images[index]``.

    It answers what training asks of an image tensor: ``shape``, ``dtype``, ``device``,
    ``dim()``, ``len()``; indexing it (a slice, an int or an int64 CPU tensor of positions)
    copies only the rows asked for; ``to(device)`` returns itself on its own device and a full
    copy on another one (like a tensor's ``to``); :meth:`index_select` gathers rows into a
    given buffer.
    """

    def __init__(self, images: torch.Tensor | ImageRows, index: torch.Tensor) -> None:
        index = torch.as_tensor(index, dtype=torch.int64, device="cpu")
        if isinstance(images, ImageRows):  # rows of rows: one index into the base tensor
            images, index = images.base, images.index[index]
        self.base = images
        self.index = index

    @property
    def shape(self) -> torch.Size:
        return torch.Size((int(self.index.shape[0]), *self.base.shape[1:]))

    @property
    def dtype(self) -> torch.dtype:
        return self.base.dtype

    @property
    def device(self) -> torch.device:
        return self.base.device

    def dim(self) -> int:
        return self.base.dim()

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def __getitem__(self, key: int | slice | torch.Tensor) -> torch.Tensor:
        return self.base[self.index[key]]

    def index_select(
        self, positions: torch.Tensor, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Rows ``positions`` (int64 CPU tensor) copied into ``out`` (or a new tensor)."""
        rows = self.index[positions]
        if out is None:
            return torch.index_select(self.base, 0, rows)
        return torch.index_select(self.base, 0, rows, out=out)

    def to(self, device: torch.device | str) -> ImageRows | torch.Tensor:
        """Itself on its own device; else every row copied to ``device`` a block at a time
        (no full copy on this side first)."""
        device = torch.device(device)
        if device == self.base.device:
            return self
        out = torch.empty(tuple(self.shape), dtype=self.dtype, device=device)
        step = max(1, _STATS_CHUNK // max(1, self.base[0].numel()))
        for start in range(0, len(self), step):
            out[start : start + step] = self[start : start + step].to(device)
        return out


@dataclass
class CachedSplit:
    """One split of the cache. Label k is ``class_names[k]``; with two classes label 1 is the
    positive class."""

    images: torch.Tensor | ImageRows  # uint8, N x C x H x W (rows of the pool: ImageRows)
    labels: torch.Tensor  # int64, N, 0..K-1
    paths: list[str]  # posix, relative to the data root
    class_names: list[str]  # label order; two classes: [negative, positive]
    mean: list[float]  # train-split mean of pixel/255, per channel
    std: list[float]  # train-split std of pixel/255, per channel
    mask: torch.Tensor | None = None  # multi-label: bool N x L, False = ignored; else None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def multilabel(self) -> bool:
        """True for a multi-label split (labels N x L, one column per label)."""
        return self.labels.dim() == 2


#: Pixels per ``np.bincount`` call in :func:`pixel_statistics` (its int64 copy: 8 MB).
_STATS_CHUNK = 1 << 20


def pixel_histograms(images: np.ndarray | torch.Tensor | ImageRows) -> np.ndarray:
    """Exact per-channel histograms (C x 256, int64) of an N x C x H x W uint8 stack.

    Counted a few rows at a time, so memory stays at one small chunk whatever N is (an
    :class:`ImageRows` is gathered a chunk at a time too).
    """
    if isinstance(images, ImageRows):
        arr: Any = images
        ok = images.dtype == torch.uint8 and images.dim() == 4
    else:
        arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        ok = arr.dtype == np.uint8 and arr.ndim == 4
    if not ok:
        raise ValueError(
            f"pixel statistics need uint8 N x C x H x W, got {arr.dtype} {tuple(arr.shape)}"
        )
    n, c, h, w = arr.shape
    hist = np.zeros((c, 256), dtype=np.int64)
    rows = max(1, _STATS_CHUNK // max(1, h * w))
    for start in range(0, n, rows):
        chunk = arr[start : start + rows]
        chunk = chunk.numpy() if isinstance(chunk, torch.Tensor) else chunk
        for k in range(c):
            hist[k] += np.bincount(chunk[:, k].reshape(-1), minlength=256)
    return hist


def pixel_statistics(
    images: np.ndarray | torch.Tensor | ImageRows,
) -> tuple[list[float], list[float]]:
    """Per-channel mean and (population) std of ``pixel / 255`` over an N x C x H x W uint8 stack.

    Computed from exact integer histograms (:func:`pixel_histograms`): no float copy of the
    images, and mean and variance are exact fractions rounded once. An empty stack gives mean 0
    and std 1 per channel.
    """
    hist = pixel_histograms(images)
    values = np.arange(256, dtype=object)
    means: list[float] = []
    stds: list[float] = []
    for counts in hist:
        n = int(counts.sum())
        if n == 0:
            means.append(0.0)
            stds.append(1.0)
            continue
        s1 = int((counts.astype(object) * values).sum())
        s2 = int((counts.astype(object) * values * values).sum())
        means.append(float(Fraction(s1, 255 * n)))
        variance = Fraction(s2 * n - s1 * s1, (255 * n) ** 2)
        stds.append(math.sqrt(variance))
    return means, stds


def training_statistics(
    images: np.ndarray | torch.Tensor | ImageRows,
) -> tuple[list[float], list[float]]:
    """The normalisation of a training set: :func:`pixel_statistics`, with an SD of 0 (a
    constant image) replaced by 1."""
    mean, std = pixel_statistics(images)
    return mean, [s if s > 0 else 1.0 for s in std]


def owns_storage(tensor: torch.Tensor) -> bool:
    """True when ``tensor`` spans its whole storage, so ``torch.save`` writes nothing else.

    ``torch.save`` writes a tensor's entire storage: a slice of a larger tensor would carry the
    whole buffer into the file. ``torch.from_numpy`` of a numpy view owns exactly the view.
    """
    return (
        tensor.is_contiguous()
        and tensor.storage_offset() == 0
        and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
    )


def check_mask(path: Path, labels: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The bool mask of multi-label ``labels`` (N x L), checked: one entry per label entry."""
    if mask is None or tuple(mask.shape) != tuple(labels.shape):
        shape = None if mask is None else tuple(mask.shape)
        raise ValueError(
            f"{path}: a multi-label split needs a mask of the labels' shape "
            f"{tuple(labels.shape)}, got {shape}; delete the cache and rerun prepare"
        )
    return mask.to(torch.bool).contiguous()


def save_split(path: Path, split: CachedSplit) -> None:
    """Write one split atomically as the contract's plain dict.

    ``split.images`` is written as it is when it spans its own storage (e.g. ``torch.from_numpy``
    of a block of a larger numpy buffer), else a compact copy is written (of an
    :class:`ImageRows`: its rows).
    """
    if isinstance(split.images, ImageRows):
        images = split.images[:]
    elif owns_storage(split.images):
        images = split.images
    else:
        images = split.images.clone(memory_format=torch.contiguous_format)
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
    if split.labels.dim() == 2:
        payload["mask"] = check_mask(path, split.labels, split.mask)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        # Saved through a file object, the archive's inner folder is "archive" rather than the
        # temporary file's random name, so the same split gives the same bytes every time.
        torch.save(payload, fh)


def load_split(path: Path | str, mmap: bool = False) -> CachedSplit:
    """Load one split file of the cache (a ``.pt`` file written by :func:`save_split`).

    ``mmap=True`` maps the file instead of reading it: pages load on first touch, stay in the
    page cache that every process mapping the file shares, and are never copied into this
    process unless written to (a private, copy-on-write mapping). Training maps its splits;
    a plain read suits a small split used whole and changed in place.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no cached split; run the prepare step first (e.g. snakemake {path})"
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
    labels = data["labels"]
    return CachedSplit(
        images=data["images"],
        labels=labels,
        paths=list(data["paths"]),
        class_names=list(data["class_names"]),
        mean=list(data["mean"]),
        std=list(data["std"]),
        mask=check_mask(path, labels, data.get("mask")) if labels.dim() == 2 else None,
    )


def load_splits(files: Mapping[str, Path | str], mmap: bool = False) -> dict[str, CachedSplit]:
    """Load the cache files among ``files`` (role -> path, as the prepare rule names its
    outputs): every role of :data:`CACHE_ROLES` it holds, by role; other roles (the manifest,
    the summary, ...) are left out."""
    return {r: load_split(files[r], mmap=mmap) for r in CACHE_ROLES if r in files}
