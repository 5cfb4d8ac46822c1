"""Multi-label splits and folds: stratified on the label sets, whole patients at a time.

Stratification is done on *split groups* (patients, duplicate sets: the ids of
:func:`biomedclf.data.split.split_groups`), so no group is in two splits or two folds. Each
group's label set is the union of its images' positive, kept labels (a label counts as present
when any of the group's images is positive for it and not ignored by the mask). The groups are
cut by iterative stratification (Sechidis et al. 2011, the iterative-stratification package's
``IterativeStratification``) into parts of the requested fractions of groups: train, val and
test in one pass (:func:`assign_multilabel_splits`), or k equal folds
(:func:`assign_multilabel_folds`, the folds of ``iterstrat``'s ``MultilabelStratifiedKFold``
with ``shuffle=True`` on the groups). The group order is shuffled by ``numpy``'s
``RandomState(seed)`` first, which also breaks the algorithm's ties, so a seed gives the same
parts every time. Groups without any positive label (no finding) are spread evenly.

Fractions are of groups, as in the multi-class split; with 1-3 images per patient the image
fractions come out close. A label needs a positive group for every part (three for train, val
and test, k for folds), checked before the cut (:class:`SplitError` names the label and its
counts); iterative stratification can still leave a part without a positive of a rare label
(it gives each part its share, rounded), which :func:`check_positives` then reports the same
way. :func:`prevalence` gives each label's share of positive kept images per split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .split import SplitError

PARTS = ("train", "val", "test")


def group_label_sets(
    labels: np.ndarray, mask: np.ndarray | None, group_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per group, whether each label is positive in a kept entry of one of its images (groups x
    labels bool, groups in sorted id order), and each image's group row."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels of shape {labels.shape}; expected (images, labels)")
    kept = np.ones(labels.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    uniq, inverse = np.unique(np.asarray(group_ids), return_inverse=True)
    per_group = np.zeros((len(uniq), labels.shape[1]), dtype=bool)
    np.logical_or.at(per_group, inverse, (labels == 1) & kept)
    return per_group, inverse


def check_label_groups(
    per_group: np.ndarray, names: Sequence[str], parts: Sequence[str], task: str
) -> None:
    """Raise :class:`SplitError` when a label is positive in fewer groups than ``parts``."""
    if len(names) != per_group.shape[1]:
        raise ValueError(f"{len(names)} label names for {per_group.shape[1]} label columns")
    n_pos = per_group.sum(axis=0)
    short = [j for j in range(per_group.shape[1]) if n_pos[j] < len(parts)]
    if not short:
        return
    listed = ", ".join(f"{names[j]!r}: {int(n_pos[j])}" for j in short)
    raise SplitError(
        f"{task}: label(s) positive in too few patients (groups) for {len(parts)} parts "
        f"({', '.join(parts)} each need one): {listed}. Leave the label out of data.classes, "
        "add images with it, or use fewer folds"
    )


def stratify_groups(per_group: np.ndarray, ratios: Sequence[float], seed: int) -> np.ndarray:
    """The part (index into ``ratios``) of each group by iterative stratification of the
    groups' label sets, shuffled by ``RandomState(seed)`` first (as ``iterstrat``'s
    ``MultilabelStratifiedKFold(shuffle=True, random_state=seed)`` does for equal ratios)."""
    from iterstrat.ml_stratifiers import IterativeStratification

    rng = np.random.RandomState(seed)
    order = np.arange(len(per_group))
    rng.shuffle(order)
    r = np.asarray(ratios, dtype=np.float64)
    part = IterativeStratification(labels=np.asarray(per_group, bool)[order], r=r, random_state=rng)
    return np.asarray(part, dtype=np.int64)[np.argsort(order)]


def check_positives(
    part_of_image: np.ndarray,
    labels: np.ndarray,
    mask: np.ndarray | None,
    names: Sequence[str],
    parts: Sequence[str],
    fix: str,
) -> None:
    """Raise :class:`SplitError` when a part (values of ``part_of_image``) holds no positive kept
    image of a label, naming the label, the positives per part and ``fix``."""
    pos = (np.asarray(labels) == 1) & (True if mask is None else np.asarray(mask, bool))
    part_of_image = np.asarray(part_of_image)
    table = np.array([pos[part_of_image == p].sum(axis=0) for p in parts])  # parts x labels
    for j, name in enumerate(names):
        empty = [str(p) for p, n in zip(parts, table[:, j]) if n == 0]
        if empty:
            per = ", ".join(f"{p} {int(n)}" for p, n in zip(parts, table[:, j]))
            raise SplitError(
                f"{empty[0]} would hold no positive image of label {name!r} (positives: {per}); "
                f"{fix}"
            )


def assign_multilabel_splits(
    labels: np.ndarray,
    mask: np.ndarray | None,
    group_ids: np.ndarray,
    val: float,
    test: float,
    seed: int,
    names: Sequence[str],
) -> np.ndarray:
    """Split images three ways, whole groups at a time: ``test`` and ``val`` fractions of the
    groups, the rest train, stratified on the groups' label sets. Returns split names."""
    if val + test >= 1:
        raise SplitError(
            f"data.split.val ({val}) + data.split.test ({test}) must be below 1 to leave "
            "images for training"
        )
    labels = np.asarray(labels)
    per_group, inverse = group_label_sets(labels, mask, group_ids)
    task = f"cannot split {len(labels)} images in {len(per_group)} groups into {', '.join(PARTS)}"
    check_label_groups(per_group, names, PARTS, task)
    part = stratify_groups(per_group, (1.0 - val - test, val, test), seed)
    out = np.asarray(PARTS, dtype=object)[part[inverse]]
    check_positives(
        out,
        labels,
        mask,
        names,
        PARTS,
        "add images with that label, raise data.split.val / data.split.test, or leave the label "
        "out of data.classes",
    )
    return out


def carve_multilabel(
    labels: np.ndarray,
    mask: np.ndarray | None,
    group_ids: np.ndarray,
    fraction: float,
    seed: int,
    names: Sequence[str],
    what: str,
) -> np.ndarray:
    """Which images go to ``what`` (``val`` or ``test``): ``fraction`` of the groups, stratified
    on their label sets; the rest stays train. Both parts need a positive of every label."""
    labels = np.asarray(labels)
    per_group, inverse = group_label_sets(labels, mask, group_ids)
    parts = ("train", what)
    check_label_groups(per_group, names, parts, f"cannot carve {what} out of {len(labels)} images")
    picked = stratify_groups(per_group, (1.0 - fraction, fraction), seed)[inverse] == 1
    fix = f"add images with that label, change data.split.{what}, or leave it out of data.classes"
    check_positives(np.where(picked, what, "train"), labels, mask, names, parts, fix)
    return picked


def assign_multilabel_folds(
    labels: np.ndarray,
    mask: np.ndarray | None,
    group_ids: np.ndarray,
    k: int,
    seed: int,
    names: Sequence[str],
) -> np.ndarray:
    """The fold (0..k-1) of each image: k equal parts of the groups, stratified on their label
    sets; every fold holds a positive of every label (else :class:`SplitError`)."""
    if k < 2:
        raise SplitError(f"data.split.folds: {k}; use 2 or more folds")
    labels = np.asarray(labels)
    per_group, inverse = group_label_sets(labels, mask, group_ids)
    folds = [f"fold {f}" for f in range(k)]
    task = f"data.split.folds: {k} folds of {len(per_group)} groups"
    check_label_groups(per_group, names, folds, task)
    fold = stratify_groups(per_group, [1.0 / k] * k, seed)[inverse]
    fix = "lower data.split.folds, add images with that label, or leave it out of data.classes"
    check_positives(fold, labels, mask, names, list(range(k)), f"data.split.folds: {fix}")
    return fold


def inner_multilabel_validation(
    labels: np.ndarray,
    mask: np.ndarray | None,
    group_ids: np.ndarray,
    fold: np.ndarray,
    val: float,
    seed: int,
) -> list[np.ndarray]:
    """Per fold ``f``: the sorted indices of its inner validation part, ``val`` of the groups
    outside fold ``f`` (stratified on label sets, whole groups), never an image of fold ``f``."""
    labels, fold, group_ids = np.asarray(labels), np.asarray(fold), np.asarray(group_ids)
    kept = None if mask is None else np.asarray(mask, bool)
    parts = []
    for f in range(int(fold.max()) + 1):
        rest = np.flatnonzero(fold != f)
        per_group, inverse = group_label_sets(
            labels[rest], None if kept is None else kept[rest], group_ids[rest]
        )
        picked = stratify_groups(per_group, (1.0 - val, val), seed)[inverse] == 1
        parts.append(np.sort(rest[picked]))
    return parts


def prevalence(
    labels: np.ndarray,
    mask: np.ndarray | None,
    splits: np.ndarray,
    names: Sequence[str],
    parts: Sequence[str] = PARTS,
) -> dict[str, dict[str, float | None]]:
    """Per split (``parts``, then ``all``) and label: positives / kept images (None when the
    split keeps no image of the label)."""
    labels, splits = np.asarray(labels), np.asarray(splits)
    kept = np.ones(labels.shape, bool) if mask is None else np.asarray(mask, bool)
    out: dict[str, dict[str, float | None]] = {}
    for part in [*parts, "all"]:
        rows = np.ones(len(labels), bool) if part == "all" else splits == part
        n = kept[rows].sum(axis=0)
        pos = ((labels[rows] == 1) & kept[rows]).sum(axis=0)
        out[part] = {name: (float(pos[j] / n[j]) if n[j] else None) for j, name in enumerate(names)}
    return out
