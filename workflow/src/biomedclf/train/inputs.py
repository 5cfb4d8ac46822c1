"""What a training job reads: the cache files the rule names, by role, mapped (not read),
checked together and placed for the training device (:mod:`biomedclf.train.batches`).

Without folds the job reads the train, val and test splits; on a fold of the cross-validation
pool (``data.split.folds``) it reads the pool, its fold file and the test split and trains on
the fold's parts (:func:`biomedclf.data.fold_cache.fold_parts`, rows of the mapped pool, not
copies).

The files are memory-mapped (``load_split(..., mmap=True)``): jobs on one machine share one
copy of the cache in the page cache, and only a batch's rows are copied when it is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from biomedclf.data.cache import CachedSplit, load_split
from biomedclf.train.augment import normalisation_tensors
from biomedclf.train.batches import DeviceImages, describe, device_budget, place
from biomedclf.train.multilabel import check_multilabel_splits, device_targets

log = logging.getLogger(__name__)


@dataclass
class TrainingData:
    """The cache's splits, the training and validation images placed for the training device
    (resident there or streamed, :mod:`biomedclf.train.batches`) and their labels on it
    (multi-label: with the mask, :func:`biomedclf.train.multilabel.device_targets`)."""

    train: CachedSplit
    val: CachedSplit
    test: CachedSplit
    x_train: DeviceImages
    y_train: torch.Tensor
    x_val: DeviceImages
    y_val: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    heldout: CachedSplit | None = None  # cross-validation: the fold the model never sees

    @property
    def shape(self) -> tuple[int, int]:
        """(channels, image size) of the images."""
        return int(self.train.images.shape[1]), int(self.train.images.shape[2])

    @property
    def n_classes(self) -> int:
        """Classes, or labels of a multi-label cache."""
        return len(self.train.class_names)

    @property
    def multilabel(self) -> bool:
        return self.train.multilabel


#: The cache files a training job reads, by role: the three splits, or on a fold of the
#: cross-validation pool (``data.split.folds``) the pool, its fold file and the test split.
SPLIT_ROLES = ("train", "val", "test")
FOLD_ROLES = ("pool", "folds", "test")


def load_cached_split(path: Path | str) -> CachedSplit:
    """Map one split file of the data cache (biomedclf.data.cache) and check what training
    needs."""
    data = load_split(path, mmap=True)
    if data.images.dtype != torch.uint8 or data.images.dim() != 4:
        raise ValueError(
            f"{path}: images must be a uint8 N x C x H x W tensor, got {data.images.dtype} "
            f"{tuple(data.images.shape)}; delete it and rerun the prepare step"
        )
    if data.images.shape[0] != data.labels.shape[0]:
        raise ValueError(f"{path}: images and labels differ in count; rerun the prepare step")
    return data


def data_paths(data: Mapping[str, Path | str], fold: int | None) -> dict[str, Path]:
    """The cache files to read, by role (:data:`SPLIT_ROLES`, or :data:`FOLD_ROLES` on a fold);
    ``ValueError`` when ``data`` lacks one."""
    want = SPLIT_ROLES if fold is None else FOLD_ROLES
    missing = [r for r in want if r not in data]
    if missing:
        on = "one fixed split" if fold is None else f"fold {fold}"
        raise ValueError(
            f"training on {on} reads the cache files {', '.join(want)}, but no path was given "
            f"for {', '.join(missing)} (given: {', '.join(data) or 'none'})"
        )
    return {r: Path(data[r]) for r in want}


def load_training_data(
    data: Mapping[str, Path | str], device: torch.device, fold: int | None = None
) -> TrainingData:
    """Map the cache files of ``data`` (role -> path, :func:`data_paths`), check them, and
    place train, then val, for ``device`` within ``training.device_cache``
    (:func:`biomedclf.train.batches.device_budget`; uint8 there, 4x smaller than float):
    resident on the device when they fit, else streamed. The test split is only predicted
    once training has ended.

    ``fold`` (cross-validation): train and val are that fold's parts of the pool and the
    held-out fold is scored with the test split (:func:`biomedclf.data.fold_cache.fold_parts`).
    """
    paths = data_paths(data, fold)
    heldout = None
    if fold is None:
        train, val, test = (load_cached_split(paths[r]) for r in SPLIT_ROLES)
    else:
        from biomedclf.data.fold_cache import fold_parts

        pool = load_cached_split(paths["pool"])
        train, val, heldout = fold_parts(pool, paths["folds"], fold)
        test = load_cached_split(paths["test"])
    check_splits(paths, train, val, [s for s in (val, test, heldout) if s is not None])
    mean, std = normalisation_tensors(train.mean, train.std, device)
    x_train, budget = place(train.images, device, device_budget(device))
    x_val, _ = place(val.images, device, budget)
    log.info("%s; %s", describe("train", x_train), describe("val", x_val))
    return TrainingData(
        train=train,
        val=val,
        test=test,
        x_train=x_train,
        y_train=device_targets(train, device),
        x_val=x_val,
        y_val=device_targets(val, device),
        mean=mean,
        std=std,
        heldout=heldout,
    )


def check_splits(
    paths: dict[str, Path], train: CachedSplit, val: CachedSplit, others: list[CachedSplit]
) -> None:
    """Raise ``ValueError`` naming the files when the splits cannot train a model together:
    images not square, an empty train or val split, shapes or class lists that differ."""
    where = ", ".join(map(str, paths.values()))
    n_train, channels, height, width = (int(v) for v in train.images.shape)
    if height != width:
        raise ValueError(f"{where}: images must be square, got {height}x{width}")
    if n_train == 0 or len(val) == 0:
        raise ValueError(
            f"{where}: the train ({n_train}) or val ({len(val)}) split is empty; "
            "give data.split.val a larger fraction or add images"
        )
    if any(tuple(s.images.shape[1:]) != (channels, height, width) for s in others):
        raise ValueError(f"{where}: train, val and test images differ in shape; rerun prepare")
    if train.multilabel or any(s.multilabel for s in others):
        check_multilabel_splits(where, train, others)
        return
    n_classes = len(train.class_names)
    for split in (train, *others):
        if split.class_names != train.class_names or (
            len(split) and not 0 <= int(split.labels.min()) <= int(split.labels.max()) < n_classes
        ):
            raise ValueError(
                f"{where}: the splits' class lists or labels disagree (classes "
                f"{train.class_names}); delete the cache and rerun prepare"
            )
