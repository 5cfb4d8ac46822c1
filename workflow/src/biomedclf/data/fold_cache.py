"""One fold's data for training: its parts of the cross-validation pool (the pool's cache file
and its fold file, :mod:`biomedclf.data.folds`) as cache splits.

The parts do not copy the pool's images: each holds the pool's (memory-mapped) image tensor
and its rows (:class:`~biomedclf.data.cache.ImageRows`), so a batch or a chunk of statistics
copies only its own rows. Labels and paths are copied (a few bytes per image).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .cache import CachedSplit, ImageRows, training_statistics
from .folds import read_folds


def subset(split: CachedSplit, rows: np.ndarray) -> CachedSplit:
    """The ``rows`` of a cached split, with the same classes and statistics; the images are
    the split's own, not copied (:class:`~biomedclf.data.cache.ImageRows`)."""
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    return CachedSplit(
        images=ImageRows(split.images, index),
        labels=split.labels.index_select(0, index),
        paths=[split.paths[i] for i in rows.tolist()],
        class_names=list(split.class_names),
        mean=list(split.mean),
        std=list(split.std),
        mask=None if split.mask is None else split.mask.index_select(0, index),
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
