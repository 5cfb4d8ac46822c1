"""Write what prepare produces: the split cache, the manifest and the rejections.

Each file is written atomically (a temporary file renamed into place). The split files are
written from views of the arranged decode buffer (:mod:`biomedclf.data.layout`), so no split is
copied on the way to disk.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path
from .layout import Layout
from .sources import SPLITS, Candidate

MANIFEST_HEADER = ["path", "label", "class_name", "split", "group", "sha256"]
REJECTED_HEADER = ["path", "reason"]


def manifest_rows(
    candidates: Sequence[Candidate],
    labels: np.ndarray,
    hashes: Sequence[str | None],
    class_names: list[str],
    layout: Layout,
) -> list[list[Any]]:
    """One ``manifest.csv`` row per cached image, in cache order (train, val, test)."""
    rows: list[list[Any]] = []
    for s in SPLITS:
        for i in layout.rows[s].tolist():
            cand = candidates[i]
            label = int(labels[i])
            group = cand.group if cand.group is not None else ""
            rows.append([cand.path, label, class_names[label], s, group, hashes[i]])
    return rows


def write_splits(
    files: Mapping[str, Path | str],
    buffer: np.ndarray,
    layout: Layout,
    candidates: Sequence[Candidate],
    labels: tuple[np.ndarray, np.ndarray | None],
    class_names: list[str],
    stats: tuple[list[float], list[float]],
) -> None:
    """Write each split of ``files`` (split -> file path; cross-validation writes the train
    block, its pool, to the pool's file) from the arranged ``buffer``; ``labels`` is (the
    label per candidate, None) or, multi-label, (targets, mask) per candidate (N x L each);
    ``stats`` is (mean, std)."""
    import torch

    from .cache import CachedSplit, save_split

    mean, std = stats
    targets, mask = labels
    for s, path in files.items():
        rows = layout.rows[s]
        save_split(
            Path(path),
            CachedSplit(
                images=torch.from_numpy(buffer[layout.blocks[s]]),  # a view, not a copy
                labels=torch.from_numpy(targets[rows].astype(np.int64)),
                mask=None if mask is None else torch.from_numpy(mask[rows]),
                paths=[candidates[i].path for i in rows.tolist()],
                class_names=class_names,
                mean=mean,
                std=std,
            ),
        )


def write_csv(path: Path | str, header: list[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a CSV file atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
