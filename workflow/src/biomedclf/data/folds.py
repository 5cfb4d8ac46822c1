"""Cross-validation folds (``data.split.folds: k``): which images each fold holds out, and the
inner validation part each fold's training carves from its training folds.

With folds, prepare holds the test split out as it does without them and writes the rest, the
*cross-validation pool*, as one cache file; the folds partition the pool (the files' names are
those of ``biomedclf.layout``)::

    cv.pt        the pool, in the cache format of biomedclf.data.cache (split column "cv")
    folds.json   {"k", "seed", "val", "fold": [fold of each cv.pt row],
                  "inner_val": [[cv.pt rows of fold f's inner validation part], ...]}
    test.pt      the held-out test split

The folds come from scikit-learn's ``StratifiedGroupKFold`` (seeded by ``data.split.seed``) on
the split groups of :func:`biomedclf.data.split.split_groups`, so no patient (group) and no
duplicate image is in two folds. Fold ``f``'s model trains on the other folds less its inner
validation part (``data.split.val`` of them, stratified and group-aware, used for the best epoch
and early stopping) and is scored on fold ``f``, which it never saw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path
from .split import SplitError, carve

#: The pool's name in ``manifest.csv``'s split column and ``summary.json``'s counts.
POOL = "cv"


def largest_k(labels: np.ndarray, group_ids: np.ndarray, n_classes: int) -> tuple[int, int]:
    """(the largest k every class can fill, the class that limits it): a class spread over
    ``g`` groups can place an image in at most ``g`` folds."""
    labels, group_ids = np.asarray(labels), np.asarray(group_ids)
    groups = [len(np.unique(group_ids[labels == k])) for k in range(n_classes)]
    present = [k for k in range(n_classes) if groups[k] > 0]
    limiting = min(present, key=lambda k: groups[k])
    return groups[limiting], limiting


def check_fold_count(
    labels: np.ndarray, group_ids: np.ndarray, k: int, class_names: Sequence[str]
) -> None:
    """Raise :class:`SplitError` when a class has fewer images (or groups) than ``k`` folds,
    naming the class, its count and the largest k that works."""
    kmax, limiting = largest_k(labels, group_ids, len(class_names))
    if k <= kmax:
        return
    n_images = int((np.asarray(labels) == limiting).sum())
    unit = "image(s)" if kmax == n_images else f"group(s) (patients; {n_images} images)"
    works = f"the largest k that works is {kmax}" if kmax >= 2 else "no k of 2 or more works"
    raise SplitError(
        f"data.split.folds: {k} folds, but class {class_names[limiting]!r} has only {kmax} "
        f"{unit} in the cross-validation pool (the images outside the test split), and every "
        f"fold needs one; {works}. Lower data.split.folds or add images of that class"
    )


def assign_folds(
    labels: np.ndarray, group_ids: np.ndarray, k: int, seed: int, class_names: Sequence[str]
) -> np.ndarray:
    """The fold (0..k-1) of each image: stratified by class, whole groups at a time, seeded."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels, group_ids = np.asarray(labels), np.asarray(group_ids)
    check_fold_count(labels, group_ids, k, class_names)
    fold = np.full(len(labels), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for f, (_, held) in enumerate(splitter.split(np.zeros(len(labels)), labels, group_ids)):
        fold[held] = f
    present = np.unique(labels).tolist()
    for f in range(k):
        missing = [c for c in present if not ((fold == f) & (labels == c)).any()]
        if missing:
            raise SplitError(
                f"data.split.folds: fold {f} of {k} would hold no image of class "
                f"{class_names[missing[0]]!r} (its groups are too large to spread evenly); "
                "lower data.split.folds or check data.split.group_pattern / data.split.group"
            )
    return fold


def inner_validation(
    labels: np.ndarray,
    group_ids: np.ndarray,
    fold: np.ndarray,
    val: float,
    seed: int,
    class_names: Sequence[str],
) -> list[np.ndarray]:
    """Per fold ``f``: the sorted indices of its inner validation part, ``val`` of the images
    outside fold ``f`` (stratified, group-aware), never an image of fold ``f``."""
    labels, group_ids, fold = np.asarray(labels), np.asarray(group_ids), np.asarray(fold)
    parts = []
    for f in range(int(fold.max()) + 1):
        rest = np.flatnonzero(fold != f)
        picked = carve(labels[rest], group_ids[rest], val, seed, class_names, "val")
        parts.append(np.sort(rest[picked]))
    return parts


@dataclass(frozen=True)
class Folds:
    """The content of ``folds.json``: the fold of each pool row and each fold's inner part."""

    k: int
    seed: int
    val: float
    fold: np.ndarray  # int64 per cv.pt row
    inner_val: list[np.ndarray]  # per fold: sorted cv.pt rows

    def parts(self, f: int) -> dict[str, np.ndarray]:
        """Rows of fold ``f``'s ``train``, inner ``val`` and ``heldout`` parts, each sorted."""
        if not 0 <= f < self.k:
            raise ValueError(f"fold {f}: this cache has folds 0..{self.k - 1}; rerun prepare")
        inner = np.zeros(len(self.fold), dtype=bool)
        inner[self.inner_val[f]] = True
        held = self.fold == f
        return {
            "train": np.flatnonzero(~held & ~inner),
            "val": np.flatnonzero(inner),
            "heldout": np.flatnonzero(held),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "seed": self.seed,
            "val": self.val,
            "fold": self.fold.tolist(),
            "inner_val": [part.tolist() for part in self.inner_val],
        }


def write_folds(path: Path, folds: Folds) -> None:
    """Write ``folds.json`` atomically (compact: one list per key)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(folds.to_json(), separators=(",", ":")) + "\n")


def read_folds(path: Path | str) -> Folds:
    """Read a ``folds.json`` file; errors name the file and how to fix it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no fold file; this cache was prepared without data.split.folds. Rerun "
            "the prepare step with the current config"
        )
    try:
        raw = json.loads(path.read_text())
        fold = np.asarray(raw["fold"], dtype=np.int64)
        inner = [np.asarray(p, dtype=np.int64) for p in raw["inner_val"]]
        folds = Folds(int(raw["k"]), int(raw["seed"]), float(raw["val"]), fold, inner)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a fold file ({exc}); rerun the prepare step") from exc
    if len(inner) != folds.k or (len(fold) and not 0 <= fold.min() <= fold.max() < folds.k):
        raise ValueError(f"{path}: folds and inner parts disagree with k={folds.k}; rerun prepare")
    return folds


def pool_folds(
    labels: np.ndarray,
    group_ids: np.ndarray,
    scfg: dict[str, Any],
    class_names: Sequence[str],
) -> Folds:
    """The folds of the pool (``labels`` and split ``group_ids`` in cv.pt row order) as
    ``data.split`` asks: ``folds``, ``seed``, and ``val`` for the inner validation parts."""
    k, seed, val = int(scfg["folds"]), int(scfg["seed"]), float(scfg["val"])
    fold = assign_folds(labels, group_ids, k, seed, class_names)
    inner = inner_validation(labels, group_ids, fold, val, seed, class_names)
    return Folds(k, seed, val, fold, inner)


def fold_summary(folds: Folds, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """summary.json's ``folds`` block: k, the inner fraction, and per fold its held-out images
    per class and the sizes of its training and inner validation parts."""
    labels = np.asarray(labels)
    per_fold = []
    for f in range(folds.k):
        parts = folds.parts(f)
        held = labels[parts["heldout"]]
        per_fold.append(
            {
                "fold": f,
                "heldout": {n: int((held == c).sum()) for c, n in enumerate(class_names)},
                "n_train": int(len(parts["train"])),
                "n_val": int(len(parts["val"])),
            }
        )
    return {"k": folds.k, "seed": folds.seed, "inner_val": folds.val, "folds": per_fold}


def planned_counts(data_cfg: dict[str, Any], class_names: Sequence[str]) -> dict[str, int] | None:
    """At most how many images each class can have, known without opening a file: the
    synthetic set's ``n_per_class``, or the files under each class folder of a folder source
    (pre-split folders summed); None for other sources (prepare checks them exactly)."""
    import os

    source = data_cfg["source"]
    if source == "synthetic":
        n = int(data_cfg["synthetic"]["n_per_class"])
        return {c: n for c in class_names}
    if source != "folder" or not data_cfg["path"]:
        return None
    root = Path(data_cfg["path"])
    counts = {}
    for c in class_names:
        folders = [root / c] if (root / c).is_dir() else sorted(root.glob(f"*/{c}"))
        counts[c] = sum(len(files) for f in folders for _, _, files in os.walk(f))
    return counts


def check_planned_folds(data_cfg: dict[str, Any], class_names: Sequence[str]) -> None:
    """Before any job: raise :class:`SplitError` when ``data.split.folds`` exceeds what a
    class can fill by :func:`planned_counts` (prepare checks the exact pool, groups included;
    a multi-label study's positives per label are known only there)."""
    k = data_cfg["split"]["folds"]
    multilabel = data_cfg.get("task") == "multilabel"
    counts = planned_counts(data_cfg, class_names) if k and not multilabel else None
    if not counts:
        return
    name = min(counts, key=lambda c: counts[c])
    if counts[name] < k:
        raise SplitError(
            f"data.split.folds: {k} folds, but class {name!r} has at most {counts[name]} "
            f"image(s), and every fold needs one; the largest k that can work is "
            f"{counts[name]}. Lower data.split.folds or add images of that class"
        )
