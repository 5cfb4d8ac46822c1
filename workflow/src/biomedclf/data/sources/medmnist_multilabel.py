"""Multi-label MedMNIST files (ChestMNIST): labels N x L of 0/1 per split, read with
``data.task: multilabel``.

The labels are named from MedMNIST's table for the set (:data:`.medmnist_info.
MULTI_LABEL_NAMES`, e.g. chestmnist's 14 findings) when the file stem names it, else ``"0"``..
``"L-1"``. Every entry is known (no uncertain or blank entries), so the codes are the labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..multilabel import LabelTable
from .common import SPLITS, Candidate, SourceIndex
from .medmnist_info import MULTI_LABEL_NAMES, set_of


def multilabel_codes(npz_path: Path, data: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each split's labels as int8 N x L of 0/1; raise on other shapes or values."""
    codes: dict[str, np.ndarray] = {}
    for split in SPLITS:
        labels = np.asarray(data[f"{split}_labels"])
        if labels.ndim != 2 or labels.shape[1] < 2:
            raise ValueError(
                f"data.path: {npz_path}: {split}_labels has shape {labels.shape}, not N x L "
                "with L >= 2 labels: a single-label file. Set data.task: multiclass for it"
            )
        if labels.size and not np.isin(labels, (0, 1)).all():
            raise ValueError(
                f"data.path: {npz_path}: {split}_labels holds values other than 0 and 1; "
                "a multi-label MedMNIST file has one 0/1 column per label"
            )
        codes[split] = labels.astype(np.int8)
    widths = {c.shape[1] for c in codes.values()}
    if len(widths) > 1:
        raise ValueError(
            f"data.path: {npz_path}: the splits have different numbers of labels "
            f"({sorted(widths)}); the file is damaged, download it again"
        )
    return codes


def label_names(npz_path: Path, codes: dict[str, np.ndarray]) -> list[str]:
    """The names of the label columns: the set's published names, else their numbers."""
    width = next(iter(codes.values())).shape[1]
    names = MULTI_LABEL_NAMES.get(set_of(npz_path.stem) or "")
    if names is not None and len(names) != width:
        raise ValueError(
            f"data.path: {npz_path}: {width} label columns, but {set_of(npz_path.stem)} has "
            f"{len(names)} ({', '.join(names)}); rename the file if it is not that set"
        )
    return list(names) if names is not None else [str(j) for j in range(width)]


def index_multilabel(npz_path: Path, data: dict[str, Any]) -> SourceIndex:
    """The index of a multi-label ``.npz`` whose six arrays are in ``data`` (images checked)."""
    codes = multilabel_codes(npz_path, data)
    names = label_names(npz_path, codes)
    candidates = [
        Candidate(
            path=f"{split}_images[{i}]",
            class_name="|".join(n for n, c in zip(names, row) if c),
            given_split=split,
            array_index=i,
        )
        for split in SPLITS
        for i, row in enumerate(codes[split].tolist())
    ]
    return SourceIndex(
        source="medmnist",
        layout="medmnist",
        root=npz_path.resolve(),
        class_names=names,
        candidates=candidates,
        arrays={s: data[f"{s}_images"] for s in SPLITS},
        notes=[f"splits given by the .npz file {npz_path.name}"],
        labels=LabelTable(tuple(names), np.concatenate([codes[s] for s in SPLITS])),
    )
