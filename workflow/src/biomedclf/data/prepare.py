"""The prepare step: index, validate, decode, de-duplicate, split, and write the cache.

:func:`prepare_dataset` is what the workflow's ``prepare`` rule calls, with the path of each
file it writes, by role (the rule's named outputs; formats in workflow/CONTRACTS.md)::

    train, val, test      uint8 N x C x H x W + labels (biomedclf.data.cache)
                          (data.split.folds: pool, folds, test; biomedclf.data.folds)
    manifest              path,label,class_name,split,group,sha256 (CSV)
    rejected              path,reason (CSV)
    summary               classes, counts, sizes, duplicates, rejections, mean/std, notes (JSON)

Every file under the data root (every row of a manifest or ``.npz``) ends up in exactly one of
the manifest and the rejections. Problems that make the whole source unusable raise before
anything is written; single bad files are rejected with a reason (or stop the run when
``data.on_error`` is ``fail``).

The steps, one function each, each returning a small dataclass (or tuple):

1. :func:`index_step`: index and validate the source (:mod:`biomedclf.data.sources`; DICOM
   headers read when ``data.split.group: patient_id`` or ``data.dicom.frames`` need them),
   order and select its classes (:mod:`biomedclf.data.classes`, the rules the workflow checks
   before it plans a run);
2. :func:`~biomedclf.data.decode_step.decode_step`: decode in parallel into one preallocated
   uint8 buffer, row i for candidate i (images with Pillow, DICOM with pydicom, NIfTI with
   nibabel: the settings of ``data.dicom`` and ``data.nifti``, :mod:`biomedclf.data.clinical`),
   keeping only the pixel hashes per image (with ``data.shards`` > 1 shard jobs decode and
   :mod:`biomedclf.data.shards` gathers their parts into that buffer; ``decoded_images`` ends
   both alike);
3. :func:`~biomedclf.data.dedupe.find_duplicates`: identical pixels; conflicting labels rejected;
4. :func:`~biomedclf.data.assign.given_splits`: the source's splits and what to carve;
5. :func:`keep_step`: copies that cross given splits rejected;
6. :func:`~biomedclf.data.assign.assign`: split groups and the seeded, stratified cut
   (multi-label: :func:`~biomedclf.data.assign_multilabel.assign_multilabel`, on the label
   sets; :mod:`biomedclf.data.prepare_multilabel` reads the findings and reports them);
7. :func:`~biomedclf.data.layout.arrange` (each split becomes a contiguous block of the buffer,
   in place), :func:`train_statistics` (integer histograms, no float copy), :func:`tables_step`
   and :func:`build_summary`;
8. the writers of :mod:`biomedclf.data.outputs`, each split straight from its block.

So memory grows by the cache's own size: no per-image arrays are kept and no split is copied.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import write_json
from .assign import Assignment, GivenSplits, assign, given_splits
from .assign_multilabel import assign_multilabel
from .classes import ClassPlan, plan_for_index, select_classes
from .decode import DecodeSpec, decode_spec
from .decode_settings import DECODE_KEYS
from .decode_step import DecodedImages, DecodeStep, decode_step
from .dedupe import Duplicates, Kept, drop_cross_split_copies, find_duplicates
from .folds import POOL, Folds, fold_summary, pool_folds, write_folds
from .layout import Layout, arrange
from .multilabel_folds import multilabel_fold_summary, pool_label_parts, pool_multilabel_folds
from .outputs import MANIFEST_HEADER, REJECTED_HEADER, manifest_rows, write_csv, write_splits
from .prepare_multilabel import LabelPlan, label_plan, label_summary, manifest_header
from .prepare_multilabel import manifest_rows as multilabel_rows
from .prepare_summary import build_summary, log_outcome
from .sources import SPLITS, SourceIndex, index_source

log = logging.getLogger(__name__)

#: The keys of ``data:`` prepare reads; the schema fills every one of them.
DATA_KEYS = (
    "source",
    "path",
    "classes",
    "ordinal",
    "positive_class",
    "task",
    "manifest",
    "multilabel",
    "on_error",
    "split",
    *DECODE_KEYS,
)
#: The files prepare writes, by role: the cache (the three splits, or with data.split.folds
#: the pool, its fold file and the test split), then the manifest, rejections and summary.
CACHE_FILES = ("train", "val", "test")
FOLD_FILES = ("pool", "folds", "test")
REPORT_FILES = ("manifest", "rejected", "summary")


@dataclass
class Indexed:
    """Step 1: the validated source (other classes rejected), the classes in label order and a
    label per candidate."""

    index: SourceIndex
    plan: ClassPlan
    labels: np.ndarray  # int64 per candidate, 0..K-1; with two classes 1 is the positive one
    # (multi-label: the number of the candidate's distinct row of codes, for duplicates)
    findings: LabelPlan | None = None  # multi-label: targets and mask per candidate

    @property
    def class_names(self) -> list[str]:
        """Label k is ``class_names[k]``; two classes: ``[negative, positive]``."""
        return self.plan.class_names

    @property
    def positive(self) -> str | None:
        """The positive class (two classes only)."""
        return self.plan.positive


def check_config(cfg: dict[str, Any]) -> DecodeSpec:
    """Check that ``cfg`` is a whole, validated ``data:`` section; return what to decode to."""
    missing = [k for k in DATA_KEYS if k not in cfg]
    if missing:
        raise ValueError(
            f"data.{missing[0]}: missing; prepare reads a data: section validated by the "
            "schema (biomedclf.config.schema.validate_config fills every default)"
        )
    return decode_spec(cfg)


def check_files(files: dict[str, Path | str], folds: int | None) -> dict[str, Path]:
    """The paths to write, by role, checked against what prepare writes (:data:`CACHE_FILES`
    or, with ``folds``, :data:`FOLD_FILES`, and :data:`REPORT_FILES`)."""
    want = (FOLD_FILES if folds else CACHE_FILES) + REPORT_FILES
    if sorted(files) != sorted(want):
        raise ValueError(
            f"prepare writes the files {', '.join(want)} (data.split.folds: {folds}) but was "
            f"given {', '.join(files) or 'none'}; name one path for each of those roles"
        )
    return {role: Path(files[role]) for role in want}


def index_step(cfg: dict[str, Any], threads: int = 1) -> Indexed:
    """Index and validate the source; raises before anything is decoded or written."""
    index = index_source(cfg, used=cfg["classes"], threads=threads)
    if index.multilabel:
        findings = label_plan(index, cfg)
        log.info(
            "%s: %d candidate images, labels %s",
            index.root,
            len(index.candidates),
            findings.plan.class_names,
        )
        return Indexed(index, findings.plan, findings.set_ids, findings)
    plan = plan_for_index(index, cfg)
    index = select_classes(index, plan)
    label_of = {name: k for k, name in enumerate(plan.class_names)}
    labels = np.array([label_of[c.class_name] for c in index.candidates], dtype=np.int64)
    for note in index.notes:
        log.info("%s", note)
    kind = (
        f"positive: {plan.positive}"
        if plan.positive is not None
        else f"{len(plan.class_names)} classes{', ordinal' if plan.ordinal else ''}"
    )
    log.info(
        "%s source %s (%s): %d candidate images, classes %s (%s)",
        index.source,
        index.root,
        index.layout,
        len(index.candidates),
        plan.class_names,
        kind,
    )
    return Indexed(index=index, plan=plan, labels=labels)


def keep_step(
    indexed: Indexed, decoded: DecodedImages, dups: Duplicates, given: GivenSplits
) -> Kept:
    """Drop the copies that cross given splits; raise when no usable image is left."""
    cands = indexed.index.candidates
    kept = drop_cross_split_copies(cands, decoded.usable, dups, given.split, decoded.rejected)
    if not len(kept.rows):
        raise ValueError(
            f"data.path: {indexed.index.root}: no usable image left ({len(kept.rejected)} rejected)"
        )
    return kept


def train_statistics(pixels: np.ndarray, layout: Layout) -> tuple[list[float], list[float]]:
    """Mean and std per channel of the train block (std 0, a constant image, becomes 1)."""
    from .cache import training_statistics  # torch loads once there is a cache to write

    return training_statistics(pixels[layout.blocks["train"]])


def tables_step(
    indexed: Indexed, decoded: DecodedImages, kept: Kept, layout: Layout
) -> tuple[list[list[Any]], list[tuple[str, str]]]:
    """The manifest rows (cache order) and the rejections (path order); every file in one."""
    index = indexed.index
    rows = (
        manifest_rows(index.candidates, indexed.labels, decoded.sha256, indexed.class_names, layout)
        if indexed.findings is None
        else multilabel_rows(index.candidates, indexed.findings, decoded.sha256, layout)
    )
    rejected = sorted(kept.rejected, key=lambda r: r[0])
    n_offered = len(index.candidates) + len(index.rejected)
    if len(rows) + len(rejected) != n_offered:  # pragma: no cover - internal invariant
        raise RuntimeError(
            f"accounting error: {len(rows)} kept + {len(rejected)} rejected != {n_offered} "
            "files; please report this"
        )
    return rows, rejected


def folds_step(
    cfg: dict[str, Any],
    indexed: Indexed,
    kept: Kept,
    assignment: Assignment,
    layout: Layout,
    rows: list[list[Any]],
    summary: dict[str, Any],
) -> Folds | None:
    """With ``data.split.folds``: the folds of the pool (the train block, in cache order); the
    manifest rows (in place) get split ``cv`` and their fold, summary.json its ``folds``
    (multi-label: :mod:`biomedclf.data.multilabel_folds`, stratified on the label sets)."""
    if not cfg["split"]["folds"]:
        return None
    pool = layout.rows["train"]  # candidate indices in cv.pt order
    position = {int(c): j for j, c in enumerate(kept.rows.tolist())}
    group_ids = assignment.group_ids[[position[int(c)] for c in pool.tolist()]]
    names, found = indexed.class_names, indexed.findings
    if found is None:
        labels = indexed.labels[pool]
        folds = pool_folds(labels, group_ids, cfg["split"], names)
        summary["folds"] = fold_summary(folds, labels, names)
        at = MANIFEST_HEADER.index("split")
    else:  # multi-label: stratified on the label sets; per fold each label's positives
        y = (found.targets[pool], found.mask[pool])
        folds = pool_multilabel_folds(*y, group_ids, cfg["split"], names)
        summary["folds"] = multilabel_fold_summary(folds, *y, names)
        pool_label_parts(summary)
        at = manifest_header(names).index("split")
    for i, row in enumerate(rows):  # manifest rows: the pool first, in cv.pt order
        cv = i < len(pool)
        row[at] = POOL if cv else row[at]
        row.append(int(folds.fold[i]) if cv else "")
    summary["counts"] = {POOL: summary["counts"]["train"], "test": summary["counts"]["test"]}
    return folds


def write_step(
    paths: dict[str, Path],
    indexed: Indexed,
    pixels: np.ndarray,
    layout: Layout,
    stats: tuple[list[float], list[float]],
    folds: Folds | None,
    rows: list[list[Any]],
    rejected: list[tuple[str, str]],
) -> None:
    """Write the cache (each split straight from its block of ``pixels``; with ``folds`` the
    train block as the pool, and the fold file), the manifest and the rejections, each
    atomically; the summary is written after them."""
    cands, found = indexed.index.candidates, indexed.findings
    blocks = (
        {"train": paths["pool"], "test": paths["test"]} if folds else {s: paths[s] for s in SPLITS}
    )
    labels = (indexed.labels, None) if found is None else (found.targets, found.mask)
    write_splits(blocks, pixels, layout, cands, labels, indexed.class_names, stats)
    if folds:
        write_folds(paths["folds"], folds)
    header = MANIFEST_HEADER if found is None else manifest_header(indexed.class_names)
    header = [*header, "fold"] if folds else header
    write_csv(paths["manifest"], header, rows)
    write_csv(paths["rejected"], REJECTED_HEADER, rejected)


def prepare_dataset(
    data_cfg: dict[str, Any],
    files: dict[str, Path | str],
    threads: int = 1,
    decode: DecodeStep = decode_step,
) -> dict[str, Any]:
    """Prepare the split cache for the validated ``data:`` section; return the summary dict.

    ``files`` maps each role to the path it is written to (nothing else is written):
    ``train``, ``val``, ``test`` (with ``data.split.folds``: ``pool``, ``folds``, ``test``),
    ``manifest``, ``rejected`` and ``summary``, the summary last. ``data_cfg['source']`` is
    ``folder``, ``manifest`` or ``medmnist`` (the workflow turns ``synthetic`` into ``folder``
    with the generated path before calling, biomedclf.config.specs.data_spec). The classes
    (two or more) are those :func:`biomedclf.data.classes.source_classes` returns for the same
    config, labelled 0..K-1 in that order. ``threads`` decode in parallel; ``decode`` is
    step 2 (:func:`decode_step`; biomedclf.data.shards gathers shard jobs' parts instead). Raises
    ``FileNotFoundError`` / ``ValueError`` naming the path or config key at fault, before
    writing anything, when the source cannot be used (a
    :class:`~biomedclf.data.split.SplitError` when a class has too few images for the splits).
    """
    t0 = time.perf_counter()
    cfg = data_cfg  # validated: every key is there
    spec = check_config(cfg)
    paths = check_files(files, cfg["split"]["folds"])
    indexed = index_step(cfg, threads)
    cands, labels = indexed.index.candidates, indexed.labels
    decoded = decode(indexed.index, spec, cfg["on_error"], threads)
    dups = find_duplicates(cands, decoded.usable, decoded.sha256, labels)
    live = [i for i in decoded.usable.tolist() if i not in dups.conflicting]
    given = given_splits(indexed.index.layout, cands, live, cfg["split"])
    kept = keep_step(indexed, decoded, dups, given)
    groups = [c.group for c in cands]
    assignment = (
        assign(kept.rows, groups, decoded.sha256, labels, given, cfg["split"], indexed.class_names)
        if indexed.findings is None
        else assign_multilabel(
            kept.rows,
            groups,
            decoded.sha256,
            (indexed.findings.targets, indexed.findings.mask),
            given,
            cfg["split"],
            indexed.class_names,
        )
    )
    layout = arrange(decoded.pixels, cands, kept.rows, assignment.split)
    stats = train_statistics(decoded.pixels, layout)
    rows, rejected = tables_step(indexed, decoded, kept, layout)
    steps = (decoded, dups, given, kept, assignment)
    summary = build_summary(cfg, spec, indexed, steps, stats, threads)
    if indexed.findings is not None:
        summary.update(label_summary(indexed.findings, layout, cfg))
    folds = folds_step(cfg, indexed, kept, assignment, layout, rows, summary)

    write_step(paths, indexed, decoded.pixels, layout, stats, folds, rows, rejected)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    write_json(paths["summary"], summary)
    log_outcome(paths, summary)
    return summary
