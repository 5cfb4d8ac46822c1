"""Leak-free, stratified, seeded splits.

Images are first joined into *split groups*: images that share a user group (the
``data.split.group_pattern`` match, a manifest ``group`` column or, with ``data.split.group:
patient_id``, a DICOM file's PatientID; the frames of one multi-frame file) or identical
pixels (same sha256) are one group, found as connected components of an image-key graph. A
group is never cut: every split decision is taken per group, so no patient and no duplicate
straddles two splits.

The cut itself uses scikit-learn, for any number of classes (labels 0..K-1): when every group
holds one class (the usual case: singletons, duplicate sets, one-class patients)
``train_test_split`` on the groups, stratified by their class; when some group mixes classes,
``StratifiedGroupKFold`` with the fold count nearest to the requested fraction (one fold is
taken), which balances classes across folds by image counts. Before cutting, every class must
have at least one group per part to be made (three for train, val and test), else
:class:`SplitError` names the class and its count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)


class SplitError(ValueError):
    """A split cannot be made as configured; the message names the class and the counts."""


def split_groups(
    groups: Sequence[str | None], hashes: Sequence[str | None] | None = None
) -> np.ndarray:
    """Return an int group id per image: images sharing a group name or a hash share an id.

    ``None`` group names and hashes link nothing, so such an image alone is its own group.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(groups)
    keys: dict[tuple[str, str], int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i in range(n):
        for kind, value in (("g", groups[i]), ("h", hashes[i] if hashes is not None else None)):
            if value is None:
                continue
            node = keys.setdefault((kind, value), n + len(keys))
            rows.append(i)
            cols.append(node)
    size = n + len(keys)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    # Renumber in order of first appearance so ids do not depend on scipy's numbering.
    _, first, inverse = np.unique(component[:n], return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)


def _counts(labels: np.ndarray, class_names: Sequence[str]) -> str:
    """Images per class, e.g. ``normal: 5, pneumonia: 3``."""
    return ", ".join(f"{name}: {int((labels == k).sum())}" for k, name in enumerate(class_names))


def _n_classes(labels: np.ndarray, class_names: Sequence[str]) -> int:
    """How many classes: the names given, or more when a label is beyond them."""
    return max(len(class_names), int(labels.max()) + 1 if len(labels) else 0)


def _per_group(
    labels: np.ndarray, group_ids: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Images of each class per group (groups x classes) and each image's group row."""
    uniq, inverse = np.unique(group_ids, return_inverse=True)
    per_group = np.zeros((len(uniq), n_classes), dtype=np.int64)
    np.add.at(per_group, (inverse, labels), 1)
    return per_group, inverse


def check_class_sizes(
    labels: np.ndarray,
    group_ids: np.ndarray,
    class_names: Sequence[str],
    parts: Sequence[str],
    task: str,
) -> None:
    """Raise :class:`SplitError` when a class present in ``labels`` lies in fewer groups than
    there are ``parts`` to make (each part needs one); ``task`` says what is being made."""
    labels = np.asarray(labels)
    per_group, _ = _per_group(labels, np.asarray(group_ids), _n_classes(labels, class_names))
    groups = (per_group > 0).sum(axis=0)
    images = per_group.sum(axis=0)
    for k in np.flatnonzero((groups > 0) & (groups < len(parts))).tolist():
        name = class_names[k] if k < len(class_names) else str(k)
        in_groups = f" in {groups[k]} group(s)" if groups[k] != images[k] else ""
        raise SplitError(
            f"{task}: class {name!r} has only {images[k]} image(s){in_groups}, but "
            f"{', '.join(parts[:-1])} and {parts[-1]} each need at least one "
            f"({_counts(labels, class_names)}). Add images of {name!r}, leave it out with "
            "data.classes, or check data.split.group_pattern / data.split.group when groups are "
            "large"
        )


def carve(
    labels: np.ndarray,
    group_ids: np.ndarray,
    fraction: float,
    seed: int,
    class_names: Sequence[str] = ("0", "1"),
    what: str = "split",
) -> np.ndarray:
    """Pick about ``fraction`` of the images, whole groups at a time, stratified by class.

    Returns a boolean mask of the picked images. Deterministic for a ``seed``. Labels are
    0..K-1; ``class_names`` names them in messages.
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    labels = np.asarray(labels)
    group_ids = np.asarray(group_ids)
    task = f"cannot carve {what} ({fraction:.0%}) from {len(labels)} images"
    check_class_sizes(labels, group_ids, class_names, (what, "the rest"), task)
    per_group, inverse = _per_group(labels, group_ids, _n_classes(labels, class_names))
    n_groups = len(per_group)
    pure = (per_group > 0).sum(axis=1) == 1
    hint = (
        f"cannot carve {what} ({fraction:.0%}) from {len(labels)} images in {n_groups} groups "
        f"({_counts(labels, class_names)}); add images, or change data.split.{what} "
        "(or data.split.group_pattern / data.split.group when groups are large)"
    )
    if pure.all():
        group_label = per_group.argmax(axis=1)
        try:
            _, picked = train_test_split(
                np.arange(n_groups), test_size=fraction, random_state=seed, stratify=group_label
            )
        except ValueError as exc:
            raise SplitError(f"{hint} [{exc}]") from exc
        chosen = np.zeros(n_groups, dtype=bool)
        chosen[picked] = True
        return chosen[inverse]
    # One fold of k is 1/k of the images; fewer groups than folds means fewer, larger folds.
    n_splits = max(2, min(int(round(1.0 / fraction)), n_groups))
    log.info(
        "some groups hold several classes: carving %s as 1 of %d stratified group folds (%.1f%% "
        "instead of %.1f%%)",
        what,
        n_splits,
        100.0 / n_splits,
        100.0 * fraction,
    )
    try:
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        _, picked_idx = next(folds.split(np.zeros(len(labels)), labels, group_ids))
    except ValueError as exc:
        raise SplitError(f"{hint} [{exc}]") from exc
    mask = np.zeros(len(labels), dtype=bool)
    mask[picked_idx] = True
    return mask


def assign_splits(
    labels: np.ndarray,
    group_ids: np.ndarray,
    val: float,
    test: float,
    seed: int,
    class_names: Sequence[str] = ("0", "1"),
) -> np.ndarray:
    """Split images three ways: ``test`` and ``val`` fractions of all images, the rest train.

    Returns an array of split names. Test is carved first, then val from the remainder (as the
    fraction ``val / (1 - test)`` of it), both group-aware and stratified.
    """
    if val + test >= 1:
        raise SplitError(
            f"data.split.val ({val}) + data.split.test ({test}) must be below 1 to leave "
            "images for training"
        )
    labels = np.asarray(labels)
    group_ids = np.asarray(group_ids)
    task = f"cannot split {len(labels)} images into train, val and test"
    check_class_sizes(labels, group_ids, class_names, ("train", "val", "test"), task)
    out = np.full(len(labels), "train", dtype=object)
    is_test = carve(labels, group_ids, test, seed, class_names, "test")
    out[is_test] = "test"
    rest = np.flatnonzero(~is_test)
    is_val = carve(labels[rest], group_ids[rest], val / (1.0 - test), seed, class_names, "val")
    out[rest[is_val]] = "val"
    return out


def check_nonempty(
    splits: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    parts: Sequence[str] = ("train", "val", "test"),
) -> dict[str, dict[str, int]]:
    """Counts per split x class (the ``parts`` made); raise :class:`SplitError` when a split
    lacks a class."""
    counts: dict[str, dict[str, int]] = {}
    for split in parts:
        sel = labels[splits == split]
        counts[split] = {name: int((sel == k).sum()) for k, name in enumerate(class_names)}
    for split, per_class in counts.items():
        for name, n in per_class.items():
            if n == 0:
                table = "; ".join(
                    f"{s}: " + ", ".join(f"{c} {m}" for c, m in pc.items())
                    for s, pc in counts.items()
                )
                raise SplitError(
                    f"split {split!r} would hold no image of class {name!r} (counts {table}); "
                    "add images of that class, raise data.split.val / data.split.test, or check "
                    "data.split.group_pattern / data.split.group"
                )
    return counts
