"""The ``manifest`` source: a CSV with ``path,label`` and optional ``split`` and ``group``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from .common import (
    SPLIT_ALIASES,
    Candidate,
    SourceIndex,
    SourceNotFound,
    check_classes,
    given_splits_note,
    group_of,
    rel_posix,
)
from .formats import frame_path, split_frame_path


def _shown(items: list[str], limit: int = 5) -> str:
    """The first ``limit`` items joined by semicolons, and how many more there are."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _read_rows(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The stripped column names and rows; raise when the file or its header is unusable."""
    if not csv_path.exists():
        raise SourceNotFound(
            f"data.path: {csv_path} does not exist; expected a CSV file with columns "
            "path,label and optional split,group"
        )
    if not csv_path.is_file():
        raise ValueError(f"data.path: {csv_path} is not a file; expected a CSV manifest")
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    missing_cols = [c for c in ("path", "label") if c not in columns]
    if missing_cols:
        raise ValueError(
            f"data.path: {csv_path} lacks column(s) {', '.join(missing_cols)} (found: "
            f"{', '.join(columns) or 'none'}); expected a header path,label[,split][,group]"
        )
    if not rows:
        raise ValueError(f"data.path: {csv_path} has a header but no rows; add one row per image")
    return columns, rows


def _classes_of(csv_path: Path, rows: list[dict[str, str]]) -> list[str]:
    """The sorted labels of the rows (empty labels aside); raise when fewer than two."""
    classes = sorted({r["label"] for r in rows if r.get("label")})
    check_classes(classes, f"data.path: {csv_path} (column label)")
    return classes


def manifest_classes(csv_path: Path) -> list[str]:
    """The sorted class names of a CSV manifest, read from its ``label`` column only.

    Cheap (no image file is checked), so it can run whenever the workflow is planned;
    :func:`index_manifest` finds its classes the same way.
    """
    csv_path = Path(csv_path)
    return _classes_of(csv_path, _read_rows(csv_path)[1])


def _row_file(text: str, root: Path) -> tuple[Path | None, int | None]:
    """The file a row's path names (relative to ``root``) and the DICOM frame it picks, if any:
    ``scan.dcm#frame3`` is frame 3 (numbered from 1) of ``scan.dcm``. (None, None) when the
    file is missing."""
    f = Path(text).expanduser()
    f = f if f.is_absolute() else root / f
    if f.is_file():
        return f, None
    base, frame = split_frame_path(str(f))
    if frame is not None and Path(base).is_file():
        return Path(base), frame
    return None, None


def _row_candidates(
    rows: list[dict[str, str]],
    root: Path,
    columns: list[str],
    pattern: re.Pattern[str] | None,
) -> tuple[list[Candidate], list[str], list[str]]:
    """Candidates of the usable rows, the rows whose files are missing, and other row problems."""
    has_split, has_group = "split" in columns, "group" in columns
    problems: list[str] = []
    missing: list[str] = []
    candidates: list[Candidate] = []
    for line, row in enumerate(rows, start=2):
        if not row.get("path"):
            problems.append(f"line {line}: empty path")
            continue
        if not row.get("label"):
            problems.append(f"line {line} ({row['path']}): empty label")
            continue
        f, frame = _row_file(row["path"], root)
        if f is None:
            missing.append(f"line {line}: {root / Path(row['path']).expanduser()}")
            continue
        split = None
        if has_split:
            split = SPLIT_ALIASES.get(row.get("split", "").lower())
            if split is None:
                problems.append(
                    f"line {line} ({row['path']}): split {row.get('split', '')!r} is not one of "
                    "train, val, test"
                )
                continue
        group = row.get("group") or None if has_group else None
        if group is None:
            group = group_of(f.name, pattern)
        rel = rel_posix(f, root)
        candidates.append(
            Candidate(
                path=rel if frame is None else frame_path(rel, frame),
                class_name=row["label"],
                file=f,
                given_split=split,
                group=group,
                frame=frame,
            )
        )
    return candidates, missing, problems


def _check_rows(
    csv_path: Path, root: Path, candidates: list[Candidate], missing: list[str], problems: list[str]
) -> None:
    """Raise on missing files, bad rows, or a file listed twice."""
    if missing:
        raise FileNotFoundError(
            f"data.path: {csv_path}: {len(missing)} row(s) point at missing files "
            f"({_shown(missing)}); relative paths resolve against {root}. Fix the paths or remove "
            "those rows"
        )
    if problems:
        raise ValueError(f"data.path: {csv_path}: {_shown(problems)}")
    seen: dict[str, int] = {}
    for c in candidates:
        seen[c.path] = seen.get(c.path, 0) + 1
    repeated = sorted(p for p, n in seen.items() if n > 1)
    if repeated:
        raise ValueError(
            f"data.path: {csv_path} lists {len(repeated)} file(s) more than once (e.g. "
            f"{repeated[0]}); list each file once"
        )


def index_manifest(csv_path: Path, pattern: re.Pattern[str] | None = None) -> SourceIndex:
    """Index a CSV with ``path,label`` and optional ``split`` and ``group`` columns.

    Relative paths resolve against the CSV's folder, which is the data root. Every row ends up
    in ``manifest.csv`` or ``rejected.csv``; files not listed in the CSV are not part of the data.
    """
    csv_path = Path(csv_path)
    columns, rows = _read_rows(csv_path)
    root = csv_path.parent.resolve()
    candidates, missing, problems = _row_candidates(rows, root, columns, pattern)
    _check_rows(csv_path, root, candidates, missing, problems)
    classes = _classes_of(csv_path, rows)  # every row is a candidate once the checks pass
    has_split = "split" in columns
    if has_split and "train" not in {c.given_split for c in candidates}:
        raise ValueError(
            f"data.path: {csv_path} has a split column but no train rows; mark rows as train"
        )
    notes = []
    if has_split:
        notes.append(
            f"splits given by the manifest's split column: {given_splits_note(candidates)}"
        )
    return SourceIndex(
        source="manifest",
        layout="manifest_with_splits" if has_split else "manifest",
        root=root,
        class_names=classes,
        candidates=candidates,
        notes=notes,
    )
