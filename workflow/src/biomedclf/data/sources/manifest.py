"""The ``manifest`` source: a CSV with ``path,label`` and optional ``split`` and ``group``.

The column names are ``data.manifest``'s (NIH's ``Data_Entry_2017.csv``: ``Image Index``,
``Finding Labels``, ``Patient ID``); paths resolve against the CSV's folder, or
``data.manifest.image_dir`` under it. With ``data.task: multilabel`` each row's findings are
read by :mod:`.manifest_labels` (a joined column or one column per label), which also reads
``data.manifest.split_files``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..multilabel import POSITIVE, LabelTable
from .common import (
    SPLIT_ALIASES,
    Candidate,
    ManifestSpec,
    SourceIndex,
    SourceNotFound,
    check_classes,
    given_splits_note,
    group_of,
    rel_posix,
)
from .formats import frame_path, split_frame_path
from .manifest_labels import NOT_LISTED, label_table, listed_split, split_lists


def _shown(items: list[str], limit: int = 5) -> str:
    """The first ``limit`` items joined by semicolons, and how many more there are."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _read_rows(csv_path: Path, spec: ManifestSpec) -> tuple[list[str], list[dict[str, str]]]:
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
    wanted = [spec.path_column] + ([spec.label_column] if spec.label_column else [])
    missing_cols = [c for c in wanted if c not in columns]
    if missing_cols:
        raise ValueError(
            f"data.path: {csv_path} lacks column(s) {', '.join(missing_cols)} (found: "
            f"{', '.join(columns) or 'none'}); expected a header {','.join(wanted)}[,"
            f"{spec.split_column}][,{spec.group_column}], or name its columns in data.manifest"
        )
    if not rows:
        raise ValueError(f"data.path: {csv_path} has a header but no rows; add one row per image")
    return columns, rows


def _classes_of(csv_path: Path, rows: list[dict[str, str]], spec: ManifestSpec) -> list[str]:
    """The sorted labels of the rows (empty labels aside); raise when fewer than two.
    Multi-label: the label names, as data.classes lists them or every finding found, sorted."""
    if spec.multilabel:
        return list(label_table(rows, spec, csv_path).names)
    column = str(spec.label_column)
    classes = sorted({r[column] for r in rows if r.get(column)})
    check_classes(classes, f"data.path: {csv_path} (column {column})")
    return classes


def manifest_classes(csv_path: Path, spec: ManifestSpec) -> list[str]:
    """The sorted class names of a CSV manifest, read from its label column(s) only.

    Cheap (no image file is checked), so it can run whenever the workflow is planned;
    :func:`index_manifest` finds its classes the same way.
    """
    csv_path = Path(csv_path)
    return _classes_of(csv_path, _read_rows(csv_path, spec)[1], spec)


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
    spec: ManifestSpec,
) -> tuple[list[Candidate], list[str], list[str]]:
    """Candidates of the usable rows, the rows whose files are missing, and other row problems.
    Multi-label rows get their class name from the label table later (:func:`index_manifest`)."""
    has_split, has_group = spec.split_column in columns, spec.group_column in columns
    problems: list[str] = []
    missing: list[str] = []
    candidates: list[Candidate] = []
    for line, row in enumerate(rows, start=2):
        path = row.get(spec.path_column)
        if not path:
            problems.append(f"line {line}: empty {spec.path_column}")
            continue
        label = "" if spec.multilabel else row.get(str(spec.label_column))
        if label is None or (not label and not spec.multilabel):
            problems.append(f"line {line} ({path}): empty {spec.label_column}")
            continue
        f, frame = _row_file(path, root)
        if f is None:
            missing.append(f"line {line}: {root / Path(path).expanduser()}")
            continue
        split = None
        if has_split:
            split = SPLIT_ALIASES.get(row.get(spec.split_column, "").lower())
            if split is None:
                problems.append(
                    f"line {line} ({path}): {spec.split_column} "
                    f"{row.get(spec.split_column, '')!r} is not one of train, val, test"
                )
                continue
        group = row.get(spec.group_column) or None if has_group else None
        if group is None:
            group = group_of(f.name, pattern)
        rel = rel_posix(f, root)
        candidates.append(
            Candidate(
                path=rel if frame is None else frame_path(rel, frame),
                class_name=label,
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


def _apply_split_files(
    candidates: list[Candidate], spec: ManifestSpec, csv_path: Path
) -> tuple[list[int], list[tuple[str, str]], list[str]]:
    """Give each candidate the split ``data.manifest.split_files`` lists it in; returns the
    kept candidates' positions, the rejections (listed in no file) and notes."""
    split_of, notes = split_lists(spec, csv_path)
    if split_of is None:
        return list(range(len(candidates))), [], notes
    both = all(spec.split_files.get(s) for s in ("train", "test"))
    rest = None if both else ("train" if spec.split_files.get("test") else "test")
    kept, rejected = [], []
    for i, cand in enumerate(candidates):
        split = listed_split(cand.path, split_of) or rest
        if split is None:
            rejected.append((cand.path, f"{NOT_LISTED}: listed in neither split file"))
            continue
        cand.given_split = split
        kept.append(i)
    return kept, rejected, notes


def index_manifest(
    csv_path: Path, spec: ManifestSpec, pattern: re.Pattern[str] | None = None
) -> SourceIndex:
    """Index a CSV with ``path,label`` and optional ``split`` and ``group`` columns (named by
    ``spec``, :class:`~.common.ManifestSpec`).

    Relative paths resolve against the CSV's folder (or ``image_dir`` under it), which is the
    data root. Every row ends up in ``manifest.csv`` or ``rejected.csv``; files not listed in
    the CSV are not part of the data.
    """
    csv_path = Path(csv_path)
    columns, rows = _read_rows(csv_path, spec)
    root = (csv_path.parent / (spec.image_dir or "")).resolve()
    candidates, missing, problems = _row_candidates(rows, root, columns, pattern, spec)
    _check_rows(csv_path, root, candidates, missing, problems)
    table = label_table(rows, spec, csv_path) if spec.multilabel else None
    classes = _classes_of(csv_path, rows, spec) if table is None else list(table.names)
    kept, rejected, notes = _apply_split_files(candidates, spec, csv_path)
    candidates = [candidates[i] for i in kept]
    if table is not None:  # every row is a candidate once the checks pass
        table = LabelTable(table.names, table.codes[kept])
        for cand, codes in zip(candidates, table.codes):
            cand.class_name = "|".join(n for n, c in zip(table.names, codes) if c == POSITIVE)
    has_split = any(c.given_split for c in candidates)
    if has_split and "train" not in {c.given_split for c in candidates}:
        raise ValueError(
            f"data.path: {csv_path} gives splits but no train rows; mark rows as train"
        )
    if has_split and not notes:
        notes.append(
            f"splits given by the manifest's {spec.split_column} column: "
            f"{given_splits_note(candidates)}"
        )
    return SourceIndex(
        source="manifest",
        layout="manifest_with_splits" if has_split else "manifest",
        root=root,
        class_names=classes,
        candidates=candidates,
        rejected=rejected,
        notes=notes,
        labels=table,
    )
