"""The prepare step: index, validate, decode, de-duplicate, split, and write the cache.

:func:`prepare_dataset` is what the workflow's ``prepare`` rule calls. It writes, under
``out_dir``::

    train.pt, val.pt, test.pt   uint8 N x C x H x W + labels (biomedclf.data.cache)
    manifest.csv                path,label,class_name,split,group,sha256
    rejected.csv                path,reason
    summary.json                counts, sizes, duplicates, rejections, mean/std, notes

Every file under the data root (every row of a manifest or ``.npz``) ends up in exactly one of
``manifest.csv`` and ``rejected.csv``. Problems that make the whole source unusable raise before
anything is written; single bad files are rejected with a reason (or stop the run when
``data.on_error`` is ``fail``).
"""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path, write_json
from .decode import DecodeError, Decoded, DecodeSpec, decode_array, decode_file, decode_many
from .sources import SPLITS, Candidate, SourceIndex, index_source
from .split import assign_splits, carve, check_nonempty, split_groups

log = logging.getLogger(__name__)

#: Defaults of the ``data:`` section (workflow/schemas/config.schema.yaml), for direct callers.
DATA_DEFAULTS: dict[str, Any] = {
    "source": "folder",
    "path": None,
    "image_size": 128,
    "channels": 1,
    "interpolation": "bicubic",
    "positive_class": None,
    "on_error": "skip",
}
SPLIT_DEFAULTS: dict[str, Any] = {
    "val": 0.15,
    "test": 0.2,
    "seed": 0,
    "group_pattern": None,
    "min_val": 50,
}

_PRIORITY = {"test": 0, "val": 1, "train": 2}  # which copy of a cross-split duplicate stays


@dataclass
class _Item:
    """A decoded, usable image on its way into the cache."""

    cand: Candidate
    decoded: Decoded
    label: int
    split: str = "train"


def resolve_data_config(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``data:`` section with schema defaults filled in (a copy)."""
    cfg = {**DATA_DEFAULTS, **{k: v for k, v in data_cfg.items() if k != "split"}}
    cfg["split"] = {**SPLIT_DEFAULTS, **(data_cfg.get("split") or {})}
    return cfg


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0].strip()


def _decode_candidates(
    index: SourceIndex, spec: DecodeSpec, threads: int
) -> list[Decoded | DecodeError]:
    if index.source == "medmnist":

        def from_array(cand: Candidate, spec: DecodeSpec) -> Decoded:
            assert cand.given_split is not None and cand.array_index is not None
            return decode_array(index.arrays[cand.given_split][cand.array_index], spec)

        return decode_many(index.candidates, spec, threads, decode=from_array)

    def from_file(cand: Candidate, spec: DecodeSpec) -> Decoded:
        assert cand.file is not None
        return decode_file(cand.file, spec)

    return decode_many(index.candidates, spec, threads, decode=from_file)


def _short(paths: list[str], limit: int = 3) -> str:
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(paths[:limit]) + more


def prepare_dataset(data_cfg: dict[str, Any], out_dir: Path, threads: int = 1) -> dict[str, Any]:
    """Prepare the split cache for the resolved ``data:`` config; return the summary dict.

    ``data_cfg['source']`` is ``folder``, ``manifest`` or ``medmnist`` (the workflow turns
    ``synthetic`` into ``folder`` with the generated path before calling). ``threads`` decode in
    parallel. Raises ``FileNotFoundError`` / ``ValueError`` naming the path or config key at
    fault, before writing anything, when the source cannot be used.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    cfg = resolve_data_config(data_cfg)
    scfg = cfg["split"]
    if cfg["on_error"] not in ("skip", "fail"):
        raise ValueError(f"data.on_error: {cfg['on_error']!r}; use skip or fail")
    for key in ("val", "test"):
        if not 0 < float(scfg[key]) < 1:
            raise ValueError(f"data.split.{key}: {scfg[key]!r}; use a fraction between 0 and 1")
    spec = DecodeSpec(
        image_size=int(cfg["image_size"]),
        channels=int(cfg["channels"]),
        interpolation=str(cfg["interpolation"]),
    )

    # 1. Index and validate: raises before anything is decoded or written.
    index = index_source(cfg)
    found = index.class_names
    positive = str(cfg["positive_class"]) if cfg["positive_class"] is not None else found[1]
    if positive not in found:
        raise ValueError(
            f"data.positive_class: {positive!r} is not one of the classes found in "
            f"{index.root} ({', '.join(found)}); set it to one of them or leave it null"
        )
    class_names = [next(c for c in found if c != positive), positive]
    label_of = {name: k for k, name in enumerate(class_names)}
    notes = list(index.notes)
    for note in notes:
        log.info("%s", note)
    log.info(
        "%s source %s (%s): %d candidate images, classes %s (positive: %s)",
        index.source,
        index.root,
        index.layout,
        len(index.candidates),
        class_names,
        positive,
    )

    # 2. Decode in parallel; bad files become rejections (or stop the run).
    t_decode = time.perf_counter()
    results = _decode_candidates(index, spec, threads)
    decode_seconds = time.perf_counter() - t_decode
    rejected: list[tuple[str, str]] = list(index.rejected)
    items: list[_Item] = []
    for cand, res in zip(index.candidates, results):
        if isinstance(res, DecodeError):
            if cfg["on_error"] == "fail":
                where = cand.file if cand.file is not None else f"{index.root}: {cand.path}"
                raise ValueError(
                    f"{where}: {res.reason}. data.on_error is 'fail'; fix or remove the file, "
                    "or set data.on_error: skip to list such files in rejected.csv"
                )
            rejected.append((cand.path, res.reason))
            continue
        items.append(_Item(cand=cand, decoded=res, label=label_of[cand.class_name]))
    log.info(
        "decoded %d images in %.2f s with %d thread(s) (%.0f images/s); %d unreadable",
        len(index.candidates),
        decode_seconds,
        threads,
        len(index.candidates) / max(decode_seconds, 1e-9),
        len(index.candidates) - len(items),
    )

    # 3. Exact duplicates: conflicting labels are rejected (all copies).
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        by_hash[it.decoded.sha256].append(i)
    dup_sets = [idx for idx in by_hash.values() if len(idx) > 1]
    drop: dict[int, str] = {}
    n_conflict = 0
    for idx in dup_sets:
        if len({items[i].label for i in idx}) > 1:
            for i in idx:
                others = [
                    f"{items[j].cand.path} ({items[j].cand.class_name})" for j in idx if j != i
                ]
                drop[i] = (
                    f"duplicate with conflicting label: same pixels as {_short(others)}, "
                    f"labelled {items[i].cand.class_name} here"
                )
                n_conflict += 1

    # 4. Given splits (pre-split folders, manifest split column, .npz): carve what is missing.
    has_given = index.layout in ("pre_split", "manifest_with_splits", "medmnist")
    carve_val = carve_test = False
    if has_given:
        live = [it for i, it in enumerate(items) if i not in drop]
        given_counts = Counter(it.cand.given_split for it in live)
        n_val = given_counts.get("val", 0)
        carve_val = n_val == 0 or n_val < int(scfg["min_val"])
        carve_test = given_counts.get("test", 0) == 0
        for it in items:
            given = it.cand.given_split or "train"
            it.split = "train" if (given == "val" and carve_val) else given
        if carve_val:
            given_val = (
                f"the given validation split has {n_val} images, fewer than "
                f"data.split.min_val ({scfg['min_val']}), so they were merged into train and"
                if n_val
                else "no validation split given:"
            )
            msg = (
                f"{given_val} validation was carved out of train ({float(scfg['val']):.0%} of "
                "it, stratified, group-aware)"
            )
            notes.append(msg)
            log.warning(msg)
        if carve_test:
            msg = (
                f"no test split given: test was carved out of train ({float(scfg['test']):.0%} "
                "of it, stratified, group-aware)"
            )
            notes.append(msg)
            log.warning(msg)

    # 5. Same-label copies in different given splits: keep the copy in test, then val.
    n_cross = 0
    for idx in dup_sets:
        live = [i for i in idx if i not in drop]
        if len({items[i].split for i in live}) > 1:
            best = min(_PRIORITY[items[i].split] for i in live)
            kept = [i for i in live if _PRIORITY[items[i].split] == best]
            for i in live:
                if _PRIORITY[items[i].split] != best:
                    drop[i] = (
                        f"duplicate across splits: same pixels as {items[kept[0]].cand.path} "
                        f"which is kept in {items[kept[0]].split}, so no image is in two splits"
                    )
                    n_cross += 1
    if drop:
        for i in sorted(drop):
            rejected.append((items[i].cand.path, drop[i]))
        items = [it for i, it in enumerate(items) if i not in drop]
    if not items:
        raise ValueError(
            f"data.path: {index.root}: no usable image left ({len(rejected)} rejected)"
        )

    # 6. Split groups: user groups and identical pixels, never cut.
    user_groups = [it.cand.group for it in items]
    hashes = [it.decoded.sha256 for it in items]
    group_ids = split_groups(user_groups, hashes)
    labels = np.array([it.label for it in items], dtype=np.int64)
    seed = int(scfg["seed"])
    n_user_groups = len({g for g in user_groups if g is not None})
    if scfg["group_pattern"]:
        ungrouped = sum(g is None for g in user_groups)
        if n_user_groups == 0:
            msg = (
                f"data.split.group_pattern {scfg['group_pattern']!r} matched no file name; every "
                "image is its own group"
            )
            notes.append(msg)
            log.warning(msg)
        elif ungrouped:
            log.info("%d image(s) match no group pattern: each is its own group", ungrouped)

    if not has_given:
        splits = assign_splits(
            labels, group_ids, float(scfg["val"]), float(scfg["test"]), seed, class_names
        )
    else:
        splits = np.array([it.split for it in items], dtype=object)
        pool = np.flatnonzero(splits == "train")
        if carve_val and carve_test:
            splits[pool] = assign_splits(
                labels[pool],
                group_ids[pool],
                float(scfg["val"]),
                float(scfg["test"]),
                seed,
                class_names,
            )
        elif carve_test or carve_val:
            what = "test" if carve_test else "val"
            mask = carve(labels[pool], group_ids[pool], float(scfg[what]), seed, class_names, what)
            splits[pool[mask]] = what
        # Groups the source itself placed in two splits cannot be repaired; say so.
        codes = np.array([_PRIORITY[str(s)] for s in splits], dtype=np.int64)
        pairs = np.unique(np.stack([group_ids, codes], axis=1), axis=0)
        _, per_group = np.unique(pairs[:, 0], return_counts=True)
        straddling = int((per_group > 1).sum())
        if straddling:
            msg = (
                f"{straddling} group(s) appear in more than one of the given splits; the given "
                "splits were kept as they are"
            )
            notes.append(msg)
            log.warning(msg)
    for it, s in zip(items, splits):
        it.split = str(s)
    counts = check_nonempty(splits, labels, class_names)

    # 7. Tensors per split, in path order; train statistics.
    import torch

    from .cache import CachedSplit, channel_stats, save_split

    per_split: dict[str, list[_Item]] = {
        s: sorted((it for it in items if it.split == s), key=lambda it: it.cand.path)
        for s in SPLITS
    }
    stacks = {s: np.stack([it.decoded.pixels for it in per_split[s]]) for s in SPLITS}
    mean, std = channel_stats(stacks["train"])
    std = [s if s > 0 else 1.0 for s in std]

    manifest_rows = [
        [
            it.cand.path,
            it.label,
            class_names[it.label],
            s,
            it.cand.group if it.cand.group is not None else "",
            it.decoded.sha256,
        ]
        for s in SPLITS
        for it in per_split[s]
    ]
    rejected.sort(key=lambda r: r[0])
    n_offered = len(index.candidates) + len(index.rejected)
    if len(manifest_rows) + len(rejected) != n_offered:  # pragma: no cover - internal invariant
        raise RuntimeError(
            f"accounting error: {len(manifest_rows)} kept + {len(rejected)} rejected != "
            f"{n_offered} files; please report this"
        )
    reasons = Counter(_reason_kind(r) for _, r in rejected)
    dup_images = sum(len(idx) for idx in dup_sets)
    summary: dict[str, Any] = {
        "source": index.source,
        "layout": index.layout,
        "root": str(index.root),
        "class_names": class_names,
        "positive_class": positive,
        "image_size": spec.image_size,
        "channels": spec.channels,
        "interpolation": spec.interpolation,
        "counts": counts,
        "n_images": len(manifest_rows),
        "n_files": n_offered,
        "split": {
            "val": float(scfg["val"]),
            "test": float(scfg["test"]),
            "seed": seed,
            "group_pattern": scfg["group_pattern"],
            "min_val": int(scfg["min_val"]),
            "given": has_given,
            "carved_val": carve_val,
            "carved_test": carve_test,
        },
        "groups": {
            "user_groups": n_user_groups,
            "split_groups": int(len(np.unique(group_ids))),
        },
        "duplicates": {
            "sets": len(dup_sets),
            "images": dup_images,
            "rejected_conflicting_label": n_conflict,
            "rejected_across_splits": n_cross,
            "kept_copies": dup_images - n_conflict - n_cross,
        },
        "rejected": len(rejected),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "mean": mean,
        "std": std,
        "notes": notes,
        "threads": threads,
        "decode_seconds": round(decode_seconds, 3),
    }

    # 8. Write: each file atomically, summary.json last.
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        save_split(
            out_dir / f"{s}.pt",
            CachedSplit(
                images=torch.from_numpy(stacks[s]),
                labels=torch.tensor([it.label for it in per_split[s]], dtype=torch.int64),
                paths=[it.cand.path for it in per_split[s]],
                class_names=class_names,
                mean=mean,
                std=std,
            ),
        )
    _write_csv(
        out_dir / "manifest.csv",
        ["path", "label", "class_name", "split", "group", "sha256"],
        manifest_rows,
    )
    _write_csv(out_dir / "rejected.csv", ["path", "reason"], [list(r) for r in rejected])
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    write_json(out_dir / "summary.json", summary)

    log.info(
        "cache written to %s: %s",
        out_dir,
        "; ".join(f"{s} " + ", ".join(f"{c} {n}" for c, n in counts[s].items()) for s in SPLITS),
    )
    if rejected:
        log.warning(
            "%d file(s) rejected (%s); see %s",
            len(rejected),
            ", ".join(f"{k}: {n}" for k, n in sorted(reasons.items())),
            out_dir / "rejected.csv",
        )
    if dup_sets:
        log.info(
            "%d set(s) of identical images (%d images): %d rejected for conflicting labels, %d "
            "for crossing given splits; the other copies share a split",
            len(dup_sets),
            dup_images,
            n_conflict,
            n_cross,
        )
    return summary


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
