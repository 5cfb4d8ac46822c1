"""What the prepare step reports: the summary (JSON) and the log lines after the cache is
written (formats in workflow/CONTRACTS.md)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .assign import Assignment, GivenSplits
from .dedupe import Duplicates, Kept
from .sources import SourceIndex
from .sources.formats import file_kind

if TYPE_CHECKING:
    from .decode import DecodeSpec
    from .decode_step import DecodedImages
    from .prepare import Indexed

log = logging.getLogger(__name__)


def _formats(index: SourceIndex) -> dict[str, int]:
    """Candidate images per file kind (image, dicom, nifti; frames count one each)."""
    if index.source == "medmnist":
        return {"array": len(index.candidates)}
    kinds = Counter(file_kind(c.file) or "other" for c in index.candidates if c.file is not None)
    return dict(sorted(kinds.items()))


def _split_summary(scfg: dict[str, Any], given: GivenSplits) -> dict[str, Any]:
    """The summary's ``split`` block: the settings and what the source gave."""
    return {
        "val": float(scfg["val"]),
        "test": float(scfg["test"]),
        "seed": int(scfg["seed"]),
        "group_pattern": scfg["group_pattern"],
        "group": scfg["group"],
        "min_val": int(scfg["min_val"]),
        "given": given.given,
        "carved_val": given.carve_val,
        "carved_test": given.carve_test,
    }


def build_summary(
    cfg: dict[str, Any],
    spec: DecodeSpec,
    indexed: Indexed,
    steps: tuple[DecodedImages, Duplicates, GivenSplits, Kept, Assignment],
    stats: tuple[list[float], list[float]],
    threads: int,
) -> dict[str, Any]:
    """The summary without its ``seconds`` (added when everything else is written)."""
    decoded, dups, given, kept, assignment = steps
    scfg, index = cfg["split"], indexed.index
    reasons = Counter(r.split(":", 1)[0].strip() for _, r in kept.rejected)
    return {
        "source": index.source,
        "layout": index.layout,
        "root": str(index.root),
        "class_names": indexed.class_names,
        "positive_class": indexed.positive,
        "n_classes": len(indexed.class_names),
        "ordinal": indexed.plan.ordinal,
        "classes_found": indexed.plan.found,
        "image_size": spec.image_size,
        "channels": spec.channels,
        "interpolation": spec.interpolation,
        "resize": spec.resize,
        "not_square": decoded.not_square,
        "counts": assignment.counts,
        "n_images": len(kept.rows),
        "n_files": len(index.candidates) + len(index.rejected),
        "split": _split_summary(scfg, given),
        "formats": _formats(index),
        "dicom": cfg["dicom"],
        "nifti": cfg["nifti"],
        "groups": {
            "user_groups": assignment.n_user_groups,
            "split_groups": int(len(np.unique(assignment.group_ids))),
        },
        "duplicates": {
            "sets": len(dups.sets),
            "images": dups.images,
            "rejected_conflicting_label": kept.n_conflict,
            "rejected_across_splits": kept.n_cross,
            "kept_copies": dups.images - kept.n_conflict - kept.n_cross,
        },
        "rejected": len(kept.rejected),
        "rejected_by_reason": dict(sorted(reasons.items())),
        "mean": stats[0],
        "std": stats[1],
        "notes": [*indexed.plan.notes, *index.notes, *given.notes, *assignment.notes],
        "threads": threads,
        "decode_seconds": round(decoded.seconds, 3),
    }


def log_outcome(files: dict[str, Path], summary: dict[str, Any]) -> None:
    """Log what was written (naming the files), what was rejected and the duplicate sets."""
    counts, dups = summary["counts"], summary["duplicates"]
    cache = [files[r] for r in ("train", "val", "pool", "folds", "test") if r in files]
    log.info(
        "cache written to %s: %s",
        ", ".join(map(str, cache)),
        "; ".join(
            f"{s} " + ", ".join(f"{c} {n}" for c, n in per.items()) for s, per in counts.items()
        ),
    )
    log.info("manifest %s, summary %s", files["manifest"], files["summary"])
    if summary["rejected"]:
        log.warning(
            "%d file(s) rejected (%s); see %s",
            summary["rejected"],
            ", ".join(f"{k}: {n}" for k, n in summary["rejected_by_reason"].items()),
            files["rejected"],
        )
    if dups["sets"]:
        log.info(
            "%d set(s) of identical images (%d images): %d rejected for conflicting labels, %d "
            "for crossing given splits; the other copies share a split",
            dups["sets"],
            dups["images"],
            dups["rejected_conflicting_label"],
            dups["rejected_across_splits"],
        )
