"""The multi-label parts of the prepare step (``data.task: multilabel``).

The source gives a row of codes per candidate (:attr:`~biomedclf.data.sources.SourceIndex.
labels`: positive, negative, uncertain, unknown); :func:`label_plan` applies the policies of
``data.multilabel`` (targets and mask, :meth:`~biomedclf.data.multilabel.LabelTable.resolve`)
and numbers each distinct row of codes, so identical pixels with different findings are
rejected as conflicting duplicates like differently labelled copies of a single-label image.
:func:`manifest_rows` writes one column per label (1, 0, or empty where ignored);
:func:`label_summary` adds the counts per label and split (before the policies) and each
label's prevalence per split to ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .classes import ClassPlan
from .layout import Layout
from .multilabel import label_counts
from .multilabel_split import prevalence
from .sources import SPLITS, Candidate, SourceIndex

#: The manifest's columns around the label columns of a multi-label study.
MANIFEST_HEAD = ["path"]
MANIFEST_TAIL = ["split", "group", "sha256"]


@dataclass
class LabelPlan:
    """The labels of a multi-label study, per candidate."""

    plan: ClassPlan  # class_names: the label names, in column order
    set_ids: np.ndarray  # int64 per candidate: which distinct row of codes it has
    codes: np.ndarray  # int8 candidates x L, before the policies
    targets: np.ndarray  # int8 candidates x L, 1 or 0
    mask: np.ndarray  # bool candidates x L, False where ignored


def label_plan(index: SourceIndex, cfg: dict[str, Any]) -> LabelPlan:
    """The label plan of an indexed multi-label source under ``data.multilabel``'s policies."""
    if index.labels is None:  # pragma: no cover - the sources give codes with the task
        raise RuntimeError(f"{index.root}: no label codes for a multi-label study")
    table, policies = index.labels, cfg["multilabel"]
    targets, mask = table.resolve(policies["uncertain"], policies["blank"])
    _, set_ids = np.unique(table.codes, axis=0, return_inverse=True)
    names = list(table.names)
    plan = ClassPlan(found=names, class_names=names, positive=None, ordinal=False, notes=[])
    return LabelPlan(plan, set_ids.reshape(-1).astype(np.int64), table.codes, targets, mask)


def manifest_header(names: Sequence[str]) -> list[str]:
    """``manifest.csv``'s header: path, one column per label, split, group, sha256."""
    return [*MANIFEST_HEAD, *names, *MANIFEST_TAIL]


def manifest_rows(
    candidates: Sequence[Candidate],
    labels: LabelPlan,
    hashes: Sequence[str | None],
    layout: Layout,
) -> list[list[Any]]:
    """One ``manifest.csv`` row per cached image, in cache order (train, val, test)."""
    rows: list[list[Any]] = []
    for s in SPLITS:
        for i in layout.rows[s].tolist():
            cand = candidates[i]
            cells = [int(t) if k else "" for t, k in zip(labels.targets[i], labels.mask[i])]
            group = cand.group if cand.group is not None else ""
            rows.append([cand.path, *cells, s, group, hashes[i]])
    return rows


def label_summary(labels: LabelPlan, layout: Layout, cfg: dict[str, Any]) -> dict[str, Any]:
    """The summary's multi-label block: task, policies, counts and prevalence per split."""
    order = np.concatenate([layout.rows[s] for s in SPLITS])
    split = np.concatenate([np.full(len(layout.rows[s]), s, dtype=object) for s in SPLITS])
    names = labels.plan.class_names
    counts = label_counts(labels.codes[order], names, split)
    return {
        "task": "multilabel",
        "multilabel": dict(cfg["multilabel"]),
        "label_counts": counts,
        "prevalence": prevalence(labels.targets[order], labels.mask[order], split, names),
    }
