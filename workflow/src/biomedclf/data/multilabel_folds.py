"""Cross-validation folds of a multi-label study (``data.task: multilabel`` with
``data.split.folds: k``).

The multi-label counterpart of :func:`biomedclf.data.folds.pool_folds`: the pool (the images
outside the test split, in ``cv.pt`` order) is cut into k folds by iterative stratification on
the split groups' label sets (:func:`~biomedclf.data.multilabel_split.assign_multilabel_folds`,
whole patients and duplicate sets at a time, every fold with a positive of every label), and
each fold's inner validation part is ``data.split.val`` of the groups outside it
(:func:`~biomedclf.data.multilabel_split.inner_multilabel_validation`). The result is the same
:class:`~biomedclf.data.folds.Folds` (the same ``folds.json``) as a single-label study's.

``summary.json``'s ``folds`` block gives per fold its held-out images, each label's positives
among them and its prevalence (:func:`multilabel_fold_summary`), instead of counts per class;
the label counts and prevalence per split name the pool ``cv`` (:func:`pool_label_parts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .folds import POOL, Folds
from .multilabel_split import assign_multilabel_folds, inner_multilabel_validation

#: The summary's per-label blocks that are given per split.
LABEL_BLOCKS = ("label_counts", "prevalence")


def pool_multilabel_folds(
    labels: np.ndarray,
    mask: np.ndarray | None,
    group_ids: np.ndarray,
    scfg: dict[str, Any],
    names: Sequence[str],
) -> Folds:
    """The folds of the pool (targets ``labels`` and ``mask``, N x L each, and split
    ``group_ids``, in cv.pt row order) as ``data.split`` asks: ``folds``, ``seed``, ``val``.

    Raises :class:`~biomedclf.data.split.SplitError` when a label has fewer positive groups than
    folds or a fold would hold no positive of a label (naming the label and the fix)."""
    k, seed, val = int(scfg["folds"]), int(scfg["seed"]), float(scfg["val"])
    fold = assign_multilabel_folds(labels, mask, group_ids, k, seed, names)
    inner = inner_multilabel_validation(labels, mask, group_ids, fold, val, seed)
    return Folds(k, seed, val, np.asarray(fold, dtype=np.int64), inner)


def multilabel_fold_summary(
    folds: Folds, labels: np.ndarray, mask: np.ndarray | None, names: Sequence[str]
) -> dict[str, Any]:
    """summary.json's ``folds`` block: k, the inner fraction, and per fold its held-out
    images, each label's positive kept images among them and its prevalence (positives / kept
    entries, None without any), and the sizes of its training and inner validation parts."""
    labels = np.asarray(labels)
    kept = np.ones(labels.shape, bool) if mask is None else np.asarray(mask, bool)
    per_fold = []
    for f in range(folds.k):
        parts = folds.parts(f)
        held = parts["heldout"]
        n = kept[held].sum(axis=0)
        pos = ((labels[held] == 1) & kept[held]).sum(axis=0)
        per_fold.append(
            {
                "fold": f,
                "heldout": {
                    "images": int(len(held)),
                    "positives": {name: int(pos[j]) for j, name in enumerate(names)},
                    "prevalence": {
                        name: (float(pos[j] / n[j]) if n[j] else None)
                        for j, name in enumerate(names)
                    },
                },
                "n_train": int(len(parts["train"])),
                "n_val": int(len(parts["val"])),
            }
        )
    return {"k": folds.k, "seed": folds.seed, "inner_val": folds.val, "folds": per_fold}


def pool_label_parts(summary: dict[str, Any]) -> None:
    """Name the pool ``cv`` in the summary's label counts and prevalence per split (prepare
    writes the pool as the train block and no validation split), in place."""
    for key in LABEL_BLOCKS:
        block = summary.get(key)
        if block:
            summary[key] = {POOL: block["train"], "test": block["test"], "all": block["all"]}
