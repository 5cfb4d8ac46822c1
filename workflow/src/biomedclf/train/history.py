"""``history.csv``, a training run's per-epoch record: its columns, writer and reader.

Only the standard library and numpy: the training job writes it, and the jobs that read it
(statistics, figures, the crossval job) start without torch.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import atomic_path

#: The columns, in order (workflow/CONTRACTS.md): epoch from 1, accuracies as fractions,
#: seconds = that epoch's wall time.
HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
)
#: The columns a reader needs (older files may lack lr and seconds).
REQUIRED_COLUMNS = HISTORY_COLUMNS[:5]


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write one row per epoch, the columns of :data:`HISTORY_COLUMNS`, atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in HISTORY_COLUMNS})


def read_history(path: Path | str) -> dict[str, np.ndarray]:
    """Column arrays of a ``history.csv`` (``epoch`` as int, others float, empty cells NaN).

    Raises ``ValueError`` naming the file when it holds no epoch or lacks one of
    :data:`REQUIRED_COLUMNS`.
    """
    path = Path(path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no epochs recorded; rerun the training job")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; rerun the training job")
    out: dict[str, np.ndarray] = {}
    for col in rows[0]:
        values = [r[col] for r in rows]
        if col == "epoch":
            out[col] = np.array([int(float(v)) for v in values], dtype=int)
        else:
            out[col] = np.array([float(v) if v not in ("", None) else np.nan for v in values])
    return out
