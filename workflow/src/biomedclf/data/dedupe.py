"""Exact duplicates (identical cached pixels): conflicting labels and copies across given splits.

Two steps of prepare: :func:`find_duplicates` runs right after decoding and rejects every copy of
an image that carries two labels; :func:`drop_cross_split_copies` runs once the given splits are
known and rejects the copies that would put one image in two splits (the copy in test is kept,
else the one in val). Whatever is left of a duplicate set shares a split later, because the
split groups join identical pixels.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .sources import Candidate

#: Which copy of a cross-split duplicate stays: the lowest value.
SPLIT_PRIORITY = {"test": 0, "val": 1, "train": 2}


@dataclass
class Duplicates:
    """Sets of candidates with identical pixels, and the copies rejected for conflicting labels."""

    sets: list[list[int]]  # candidate indices, two or more per set, in order of first sight
    conflicting: dict[int, str]  # candidate index -> reason (rejected.csv)

    @property
    def images(self) -> int:
        """How many images belong to some duplicate set."""
        return sum(len(s) for s in self.sets)


@dataclass
class Kept:
    """The images that go into the cache, and every rejection of the run so far."""

    rows: np.ndarray  # candidate indices, ascending
    rejected: list[tuple[str, str]]  # (path, reason)
    n_conflict: int  # copies rejected for conflicting labels
    n_cross: int  # copies rejected for crossing given splits


def short_list(paths: list[str], limit: int = 3) -> str:
    """The first ``limit`` paths, comma-separated, and how many more there are."""
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def find_duplicates(
    candidates: Sequence[Candidate],
    usable: np.ndarray,
    sha256: Sequence[str | None],
    labels: np.ndarray,
) -> Duplicates:
    """Group the ``usable`` candidates by pixel hash; reject all copies of a mislabelled image."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i in usable.tolist():
        by_hash[str(sha256[i])].append(i)
    sets = [idx for idx in by_hash.values() if len(idx) > 1]
    conflicting: dict[int, str] = {}
    for idx in sets:
        if len({int(labels[i]) for i in idx}) == 1:
            continue
        for i in idx:
            others = [f"{candidates[j].path} ({candidates[j].class_name})" for j in idx if j != i]
            conflicting[i] = (
                f"duplicate with conflicting label: same pixels as {short_list(others)}, "
                f"labelled {candidates[i].class_name} here"
            )
    return Duplicates(sets=sets, conflicting=conflicting)


def drop_cross_split_copies(
    candidates: Sequence[Candidate],
    usable: np.ndarray,
    dups: Duplicates,
    split: np.ndarray,
    rejected: list[tuple[str, str]],
) -> Kept:
    """Reject same-label copies in different given splits (keep test's, then val's copy).

    ``split`` holds the split of each candidate as given by the source; ``rejected`` holds the
    rejections so far (index and decode), to which the duplicates are added.
    """
    drop = dict(dups.conflicting)
    n_cross = 0
    for idx in dups.sets:
        live = [i for i in idx if i not in drop]
        if len({split[i] for i in live}) < 2:
            continue
        best = min(SPLIT_PRIORITY[split[i]] for i in live)
        keep = next(i for i in live if SPLIT_PRIORITY[split[i]] == best)
        for i in live:
            if SPLIT_PRIORITY[split[i]] != best:
                drop[i] = (
                    f"duplicate across splits: same pixels as {candidates[keep].path} which is "
                    f"kept in {split[keep]}, so no image is in two splits"
                )
                n_cross += 1
    rejected = rejected + [(candidates[i].path, drop[i]) for i in sorted(drop)]
    rows = np.array([i for i in usable.tolist() if i not in drop], dtype=np.int64)
    return Kept(rows=rows, rejected=rejected, n_conflict=len(dups.conflicting), n_cross=n_cross)
