"""One fold's data for training: its parts of the cross-validation pool (the pool's cache file
and its fold file, :mod:`biomedclf.data.folds`) as cache splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .cache import CachedSplit, training_statistics
from .folds import read_folds


def subset(split: CachedSplit, rows: np.ndarray) -> CachedSplit:
    """The ``rows`` of a cached split (a copy), with the same classes and statistics."""
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    return CachedSplit(
        images=split.images.index_select(0, index),
        labels=split.labels.index_select(0, index),
        paths=[split.paths[i] for i in rows.tolist()],
        class_names=list(split.class_names),
        mean=list(split.mean),
        std=list(split.std),
    )


def fold_parts(
    pool: CachedSplit, folds_path: Path | str, fold: int
) -> tuple[CachedSplit, CachedSplit, CachedSplit]:
    """(train, inner validation, held-out) of ``fold``, the pool's rows as the fold file
    ``folds_path`` assigns them. All three carry the mean and std of the fold's training
    images, so nothing of the held-out fold reaches the model."""
    folds = read_folds(folds_path)
    if len(folds.fold) != len(pool):
        raise ValueError(
            f"{folds_path}: {len(folds.fold)} rows but the pool it belongs to holds "
            f"{len(pool)} images; rerun the prepare step"
        )
    parts = {name: subset(pool, rows) for name, rows in folds.parts(fold).items()}
    mean, std = training_statistics(parts["train"].images)
    for part in parts.values():
        part.mean, part.std = mean, std
    return parts["train"], parts["val"], parts["heldout"]
