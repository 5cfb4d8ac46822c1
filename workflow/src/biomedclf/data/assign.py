"""Which split each image goes to: the source's given splits, then the seeded, group-aware cut.

Two steps of prepare. :func:`given_splits` reads the splits a source fixes (pre-split folders, a
manifest ``split`` column, the ``.npz`` arrays) and decides what must be carved out of train: a
missing test split, and a missing validation split or one smaller than ``data.split.min_val``
(whose images then go back to train). :func:`assign` forms the split groups (user groups and
identical pixels) and makes the cut with :mod:`biomedclf.data.split`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dedupe import SPLIT_PRIORITY
from .sources import SPLITS, Candidate
from .split import assign_splits, carve, check_nonempty, split_groups

log = logging.getLogger(__name__)

#: Layouts whose source fixes the splits.
GIVEN_LAYOUTS = ("pre_split", "manifest_with_splits", "medmnist")


@dataclass
class GivenSplits:
    """The splits the source gives, per candidate, and what is carved out of train."""

    given: bool  # the source fixes splits
    carve_val: bool
    carve_test: bool
    split: np.ndarray  # object, per candidate: its split before carving ("train" when none)
    notes: list[str]


@dataclass
class Assignment:
    """The final split of each kept image, its split group, and the counts per split x class."""

    split: np.ndarray  # object, per kept image
    group_ids: np.ndarray  # int64, per kept image
    counts: dict[str, dict[str, int]]
    n_user_groups: int
    notes: list[str]


def _warn(notes: list[str], msg: str) -> None:
    """Add ``msg`` to the summary's notes and log it as a warning."""
    notes.append(msg)
    log.warning(msg)


def given_splits(
    layout: str, candidates: Sequence[Candidate], live: Sequence[int], scfg: dict[str, Any]
) -> GivenSplits:
    """Splits as the source gives them; ``live`` are the candidates still in the running.

    Validation is carved when the source gives none or fewer than ``data.split.min_val``
    (counted over ``live``), test when the source gives none.
    """
    split = np.full(len(candidates), "train", dtype=object)
    if layout not in GIVEN_LAYOUTS:
        return GivenSplits(False, False, False, split, [])
    given_counts = Counter(candidates[i].given_split for i in live)
    n_val = given_counts.get("val", 0)
    if scfg["folds"]:  # the folds carve their own validation parts from the pool
        return _given_for_folds(candidates, given_counts, scfg)
    carve_val = n_val == 0 or n_val < int(scfg["min_val"])
    carve_test = given_counts.get("test", 0) == 0
    for i, cand in enumerate(candidates):
        given = cand.given_split or "train"
        split[i] = "train" if (given == "val" and carve_val) else given
    notes: list[str] = []
    if carve_val:
        given_val = (
            f"the given validation split has {n_val} images, fewer than "
            f"data.split.min_val ({scfg['min_val']}), so they were merged into train and"
            if n_val
            else "no validation split given:"
        )
        _warn(
            notes,
            f"{given_val} validation was carved out of train ({float(scfg['val']):.0%} of "
            "it, stratified, group-aware)",
        )
    if carve_test:
        _warn_test_carved(notes, scfg)
    return GivenSplits(True, carve_val, carve_test, split, notes)


def _warn_test_carved(notes: list[str], scfg: dict[str, Any]) -> None:
    _warn(
        notes,
        f"no test split given: test was carved out of train ({float(scfg['test']):.0%} "
        "of it, stratified, group-aware)",
    )


def _given_for_folds(
    candidates: Sequence[Candidate], given_counts: Counter, scfg: dict[str, Any]
) -> GivenSplits:
    """With data.split.folds: the given test split stays; train and val form the pool."""
    carve_test = given_counts.get("test", 0) == 0
    split = np.array(
        ["test" if c.given_split == "test" else "train" for c in candidates], dtype=object
    )
    notes: list[str] = []
    if given_counts.get("val", 0):
        _warn(
            notes,
            f"the given validation split ({given_counts['val']} images) joined the "
            "cross-validation pool: each fold carves its own validation part",
        )
    if carve_test:
        _warn_test_carved(notes, scfg)
    return GivenSplits(True, False, carve_test, split, notes)


def group_notes(user_groups: list[str | None], pattern: str | None) -> list[str]:
    """Say when ``data.split.group_pattern`` matched nothing (and log partial matches)."""
    if not pattern:
        return []
    if all(g is None for g in user_groups):
        notes: list[str] = []
        _warn(
            notes,
            f"data.split.group_pattern {pattern!r} matched no file name; every image is its own "
            "group",
        )
        return notes
    ungrouped = sum(g is None for g in user_groups)
    if ungrouped:
        log.info("%d image(s) match no group pattern: each is its own group", ungrouped)
    return []


def _carve_given(
    given: GivenSplits,
    split: np.ndarray,
    labels: np.ndarray,
    group_ids: np.ndarray,
    scfg: dict[str, Any],
    class_names: list[str],
) -> list[str]:
    """Carve what the source lacks out of its train images (in place); note straddling groups."""
    pool = np.flatnonzero(split == "train")
    seed = int(scfg["seed"])
    val, test = float(scfg["val"]), float(scfg["test"])
    if given.carve_val and given.carve_test:
        split[pool] = assign_splits(labels[pool], group_ids[pool], val, test, seed, class_names)
    elif given.carve_test or given.carve_val:
        what = "test" if given.carve_test else "val"
        mask = carve(labels[pool], group_ids[pool], float(scfg[what]), seed, class_names, what)
        split[pool[mask]] = what
    return straddling_notes(split, group_ids)


def straddling_notes(split: np.ndarray, group_ids: np.ndarray) -> list[str]:
    """Groups the source itself placed in two splits cannot be repaired; say so."""
    codes = np.array([SPLIT_PRIORITY[str(s)] for s in split], dtype=np.int64)
    pairs = np.unique(np.stack([group_ids, codes], axis=1), axis=0)
    _, per_group = np.unique(pairs[:, 0], return_counts=True)
    straddling = int((per_group > 1).sum())
    notes: list[str] = []
    if straddling:
        _warn(
            notes,
            f"{straddling} group(s) appear in more than one of the given splits; the given "
            "splits were kept as they are",
        )
    return notes


def assign(
    rows: np.ndarray,
    groups: Sequence[str | None],
    hashes: Sequence[str | None],
    labels: np.ndarray,
    given: GivenSplits,
    scfg: dict[str, Any],
    class_names: list[str],
) -> Assignment:
    """Split the kept candidates ``rows``; ``groups``, ``hashes`` and ``labels`` are per candidate.

    Raises :class:`~biomedclf.data.split.SplitError` when a split would lack a class.
    """
    user_groups = [groups[i] for i in rows.tolist()]
    group_ids = split_groups(user_groups, [hashes[i] for i in rows.tolist()])
    kept_labels = labels[rows]
    notes = group_notes(user_groups, scfg["group_pattern"])
    folds = scfg["folds"]
    if given.given:
        split = given.split[rows]
        notes += _carve_given(given, split, kept_labels, group_ids, scfg, class_names)
    elif folds:  # the test split only: the folds are cut from the rest once it is arranged
        split = np.where(
            carve(
                kept_labels, group_ids, float(scfg["test"]), int(scfg["seed"]), class_names, "test"
            ),
            "test",
            "train",
        ).astype(object)
    else:
        split = assign_splits(
            kept_labels,
            group_ids,
            float(scfg["val"]),
            float(scfg["test"]),
            int(scfg["seed"]),
            class_names,
        )
    return Assignment(
        split=split,
        group_ids=group_ids,
        counts=check_nonempty(
            split, kept_labels, class_names, ("train", "test") if folds else SPLITS
        ),
        n_user_groups=len({g for g in user_groups if g is not None}),
        notes=notes,
    )
