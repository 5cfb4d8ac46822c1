"""What every source produces (:class:`Candidate`, :class:`SourceIndex`) and shared checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..multilabel import LabelTable

SPLITS = ("train", "val", "test")

#: File suffixes read as images (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Folder / manifest names accepted for each split.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


@dataclass
class Candidate:
    """One image the source offers, before decoding."""

    path: str  # posix path relative to the source root (or a virtual name for .npz rows)
    class_name: str
    file: Path | None = None  # absolute file to decode; None for .npz rows
    given_split: str | None = None  # split fixed by the source (pre-split folders, manifest)
    group: str | None = None  # group from the manifest column or data.split.group_pattern
    array_index: int | None = None  # row in the .npz split array
    frame: int | None = None  # DICOM frame to decode (0-based) of a multi-frame file


@dataclass
class SourceIndex:
    """Everything prepare needs to know about a source before decoding."""

    source: str  # folder | manifest | medmnist
    layout: str  # class_folders | pre_split | manifest | manifest_with_splits | medmnist
    root: Path
    class_names: list[str]  # the classes found: sorted names (.npz: label index order)
    candidates: list[Candidate]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # .npz images per split
    notes: list[str] = field(default_factory=list)
    labels: LabelTable | None = None  # multi-label: a row of codes per candidate, in order

    @property
    def multilabel(self) -> bool:
        """True when every candidate has a row of label codes (data.task: multilabel)."""
        return self.labels is not None


@dataclass(frozen=True)
class ManifestSpec:
    """How a CSV manifest is read: its columns (``data.manifest``), the task and labels."""

    path_column: str
    label_column: str | None  # multi-label None: one column per label (CheXpert style)
    split_column: str
    group_column: str
    image_dir: str | None
    split_files: dict[str, str | None]
    multilabel: bool
    classes: tuple[str, ...] | None  # data.classes
    no_finding: str | None  # data.multilabel.no_finding

    @classmethod
    def from_config(cls, data_cfg: dict[str, Any]) -> ManifestSpec:
        """The spec of a ``data:`` section validated by the schema (every key filled)."""
        m = data_cfg["manifest"]
        classes = data_cfg["classes"]
        return cls(
            path_column=m["path_column"],
            label_column=m["label_column"],
            split_column=m["split_column"],
            group_column=m["group_column"],
            image_dir=m["image_dir"],
            split_files=dict(m["split_files"]),
            multilabel=data_cfg["task"] == "multilabel",
            classes=None if classes is None else tuple(str(c) for c in classes),
            no_finding=data_cfg["multilabel"]["no_finding"],
        )


def rel_posix(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a posix string (the path itself when outside root)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def is_hidden(rel: PurePosixPath) -> bool:
    """True when any part of the relative path starts with a dot."""
    return any(part.startswith(".") for part in rel.parts)


class SourceNotFound(FileNotFoundError, ValueError):
    """``data.path`` names nothing: a ``FileNotFoundError`` that is also a ``ValueError``, so
    one ``except ValueError`` catches every problem of a data config."""


def check_classes(classes: list[str], where: str, key: str = "data.path") -> None:
    """Raise unless at least two classes were found."""
    if len(classes) == 1:
        raise ValueError(
            f"{where}: only one class ({classes[0]!r}) found; a classifier needs two classes. "
            f"Add the other class (e.g. a second folder) or point {key} elsewhere"
        )


def given_splits_note(candidates: list[Candidate]) -> str:
    """The given splits, in train/val/test order, as a comma-separated list."""
    return ", ".join(sorted({str(c.given_split) for c in candidates}, key=SPLITS.index))


def group_of(name: str, pattern: re.Pattern[str] | None) -> str | None:
    """The group named by ``pattern`` in a file name: its first capture group, else the match."""
    if pattern is None:
        return None
    m = pattern.search(name)
    if m is None:
        return None
    return m.group(1) if m.groups() and m.group(1) is not None else m.group(0)


def compile_group_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Compile ``data.split.group_pattern``, naming the key when the regex is invalid."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(
            f"data.split.group_pattern: {pattern!r} is not a valid regular expression ({exc})"
        ) from exc
