"""Which split each image of a multi-label study goes to (``data.task: multilabel``).

The multi-label counterpart of :func:`biomedclf.data.assign.assign`: the same split groups
(user groups and identical pixels, :func:`~biomedclf.data.split.split_groups`) and the same
given splits, cut by iterative stratification on the groups' label sets
(:mod:`biomedclf.data.multilabel_split`) instead of per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .assign import Assignment, GivenSplits, group_notes, straddling_notes
from .multilabel_split import assign_multilabel_splits, carve_multilabel
from .split import SplitError, split_groups

#: The multi-label summary's count per split: images (label counts are in ``label_counts``).
IMAGES = "images"


def _carve(
    given: GivenSplits,
    split: np.ndarray,
    y: tuple[np.ndarray, np.ndarray],
    group_ids: np.ndarray,
    scfg: dict[str, Any],
    names: Sequence[str],
) -> None:
    """Carve what the source lacks out of its train images (in place)."""
    targets, mask = y
    pool = np.flatnonzero(split == "train")
    seed, val, test = int(scfg["seed"]), float(scfg["val"]), float(scfg["test"])
    gids = group_ids[pool]
    if given.carve_val and given.carve_test:
        split[pool] = assign_multilabel_splits(
            targets[pool], mask[pool], gids, val, test, seed, names
        )
    elif given.carve_test or given.carve_val:
        what = "test" if given.carve_test else "val"
        picked = carve_multilabel(
            targets[pool], mask[pool], gids, float(scfg[what]), seed, names, what
        )
        split[pool[picked]] = what


def assign_multilabel(
    rows: np.ndarray,
    groups: Sequence[str | None],
    hashes: Sequence[str | None],
    y: tuple[np.ndarray, np.ndarray],
    given: GivenSplits,
    scfg: dict[str, Any],
    names: Sequence[str],
) -> Assignment:
    """Split the kept candidates ``rows``; ``groups``, ``hashes`` and ``y`` (targets N x L, mask
    N x L) are per candidate. Counts per split are images (``{"images": n}``).

    Raises :class:`~biomedclf.data.split.SplitError` when a split would lack a label's positive.
    """
    user_groups = [groups[i] for i in rows.tolist()]
    group_ids = split_groups(user_groups, [hashes[i] for i in rows.tolist()])
    kept = (y[0][rows], y[1][rows])
    notes = group_notes(user_groups, scfg["group_pattern"])
    parts = ("train", "test") if scfg["folds"] else ("train", "val", "test")
    if given.given:
        split = given.split[rows].copy()
        _carve(given, split, kept, group_ids, scfg, names)
        notes += straddling_notes(split, group_ids)
    elif scfg["folds"]:  # the test split only: the folds are cut from the rest
        picked = carve_multilabel(
            *kept, group_ids, float(scfg["test"]), int(scfg["seed"]), names, "test"
        )
        split = np.where(picked, "test", "train").astype(object)
    else:
        split = assign_multilabel_splits(
            *kept, group_ids, float(scfg["val"]), float(scfg["test"]), int(scfg["seed"]), names
        )
    counts = {p: {IMAGES: int((split == p).sum())} for p in parts}
    empty = [p for p, c in counts.items() if not c[IMAGES]]
    if empty:
        raise SplitError(
            f"split {empty[0]!r} would hold no image ({counts}); add images or change "
            "data.split.val / data.split.test"
        )
    return Assignment(
        split=split,
        group_ids=group_ids,
        counts=counts,
        n_user_groups=len({g for g in user_groups if g is not None}),
        notes=notes,
    )
