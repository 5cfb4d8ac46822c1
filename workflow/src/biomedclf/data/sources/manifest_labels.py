"""What a CSV manifest says beyond paths: its multi-label table and its split files.

* :func:`label_table`: with ``data.task: multilabel`` the findings of each row, read either
  from one joined column (``data.manifest.label_column``, NIH's ``Finding Labels``:
  ``Effusion|Infiltration``; ``data.multilabel.no_finding`` means none) or, with
  ``label_column: null``, from one column per label (CheXpert style, the columns named by
  ``data.classes``); :mod:`biomedclf.data.multilabel` parses both.
* :func:`split_lists`: ``data.manifest.split_files`` (NIH's ``train_val_list.txt`` and
  ``test_list.txt``): file names, one per line, that fix the test split and the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from ..multilabel import LabelTable, parse_columns, parse_joined
from .common import ManifestSpec

#: The rejected.csv reason (before the colon) of a row that no split file lists.
NOT_LISTED = "not in the split files"


def label_table(
    rows: Sequence[Mapping[str, str]], spec: ManifestSpec, csv_path: Path
) -> LabelTable:
    """The multi-label codes of ``rows`` (one per row, in order); raises
    :class:`~biomedclf.data.multilabel.LabelError` naming the file, column and lines."""
    source = f"data.path: {csv_path}"
    if spec.label_column is None:
        return parse_columns(rows, source, spec.classes or ())
    return parse_joined(
        rows, source, column=spec.label_column, names=spec.classes, no_finding=spec.no_finding
    )


def _read_list(path: Path) -> set[str]:
    """The file names a split file lists (blank lines and surrounding spaces aside)."""
    with path.open(encoding="utf-8-sig") as fh:
        return {line.strip() for line in fh if line.strip()}


def split_lists(spec: ManifestSpec, csv_path: Path) -> tuple[dict[str, str] | None, list[str]]:
    """The split of each listed file name (``test`` wins over ``train`` for a name in both)
    and notes; None when no split file is configured or one of them does not exist (noted:
    the splits are then cut by ``data.split``)."""
    named = {s: f for s, f in spec.split_files.items() if f}
    if not named:
        return None, []
    paths = {s: csv_path.parent / f for s, f in named.items()}
    absent = [f"{s}: {p}" for s, p in paths.items() if not p.is_file()]
    if absent:
        return None, [
            f"data.manifest.split_files: {', '.join(absent)} not found; the splits are cut by "
            "data.split instead"
        ]
    split_of: dict[str, str] = {}
    for split in ("train", "test"):  # test last: it wins for a name in both lists
        for name in _read_list(paths[split]) if split in paths else ():
            split_of[name] = split
    return split_of, [f"splits given by {', '.join(str(p) for p in paths.values())}"]


def listed_split(path: str, split_of: Mapping[str, str]) -> str | None:
    """The split a split file gives a manifest path: by the path itself, else its file name."""
    return split_of.get(path) or split_of.get(PurePosixPath(path).name)
