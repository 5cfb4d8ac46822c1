"""The ``folder`` source: ``root/<class>/**`` or pre-split ``root/{train,val,test}/<class>/**``."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from .common import (
    SPLIT_ALIASES,
    Candidate,
    SourceIndex,
    SourceNotFound,
    check_classes,
    given_splits_note,
    group_of,
    is_hidden,
    rel_posix,
)
from .formats import SUPPORTED, describe_other, file_kind, kind_by_name

_ClassKey = tuple[str | None, str]  # (given split or None, class folder name)


def _split_folder(name: str) -> str | None:
    """The split a folder name stands for (``training`` -> ``train``), or None."""
    return SPLIT_ALIASES.get(name.lower())


def _all_files(root: Path) -> list[Path]:
    """Every file under ``root``, hidden ones included, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def _visible_dirs(folder: Path) -> list[Path]:
    """The subfolders of ``folder`` whose names do not start with a dot, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_root(root: Path) -> None:
    """Raise when ``root`` is missing or a file."""
    if not root.exists():
        raise SourceNotFound(
            f"data.path: {root} does not exist; expected a folder with one subfolder per class "
            "(root/<class>/<image>) or root/{train,val,test}/<class>/<image>"
        )
    if not root.is_dir():
        raise ValueError(
            f"data.path: {root} is a file; data.source 'folder' expects a folder with one "
            "subfolder per class (use data.source 'manifest' for a CSV, 'medmnist' for an .npz)"
        )


def _files_of_root(root: Path) -> list[Path]:
    """Every file under ``root``; raise when root is missing, a file, or holds no image.

    Files named as images, DICOM or NIfTI are found by name first; only when there is none is
    any file sniffed for the DICOM preamble.
    """
    _check_root(root)
    files = _all_files(root)
    if not any(kind_by_name(p.name) for p in files) and not any(file_kind(p) for p in files):
        raise ValueError(
            f"data.path: {root} holds no image files ({SUPPORTED}); expected "
            "root/<class>/<image>, e.g. root/normal/a.png and root/pneumonia/b.dcm"
        )
    return files


def _split_dirs(root: Path) -> list[str]:
    """The split folder names of a pre-split root; empty for the class-folder layout."""
    subdirs = [p.name for p in _visible_dirs(root)]
    split_dirs = [d for d in subdirs if _split_folder(d)]
    if not split_dirs:
        return []
    if len(split_dirs) != len(subdirs):
        raise ValueError(
            f"data.path: {root} mixes split folders ({', '.join(split_dirs)}) with other folders "
            f"({', '.join(d for d in subdirs if d not in split_dirs)}); use either "
            "root/<class>/... or root/{train,val,test}/<class>/..."
        )
    mapped = [_split_folder(d) for d in split_dirs]
    dupes = {m for m in mapped if mapped.count(m) > 1}
    if dupes:
        raise ValueError(
            f"data.path: {root} has several folders for split {sorted(dupes)} "
            f"({', '.join(split_dirs)}); keep one folder per split"
        )
    if "train" not in mapped:
        raise ValueError(
            f"data.path: {root} looks pre-split ({', '.join(split_dirs)}) but has no train "
            "folder; add root/train/<class>/ or use root/<class>/ and let prepare split"
        )
    return split_dirs


def _class_dirs(root: Path, split_dirs: list[str]) -> dict[_ClassKey, Path]:
    """Every class folder, keyed by (given split, class name)."""
    found: dict[_ClassKey, Path] = {}
    for folder_split in split_dirs or [None]:
        base = root / folder_split if folder_split else root
        split = _split_folder(folder_split) if folder_split else None
        for d in _visible_dirs(base):
            found[(split, d.name)] = d
    return found


def _sort_files(
    root: Path, files: list[Path], pre_split: bool, pattern: re.Pattern[str] | None
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates (images in class folders) and rejections (everything else, with the reason)."""
    candidates: list[Candidate] = []
    rejected: list[tuple[str, str]] = []
    depth = 2 if pre_split else 1
    expected = "root/<split>/<class>/<image>" if pre_split else "root/<class>/<image>"
    for f in files:
        rel = PurePosixPath(rel_posix(f, root))
        parts = rel.parts
        if is_hidden(rel):
            rejected.append((str(rel), "not an image: hidden file"))
        elif len(parts) <= depth:
            rejected.append((str(rel), f"not in a class folder: expected {expected}"))
        elif file_kind(f) is None:
            rejected.append((str(rel), describe_other(f)))
        else:
            candidates.append(
                Candidate(
                    path=str(rel),
                    class_name=parts[1] if pre_split else parts[0],
                    file=f,
                    given_split=_split_folder(parts[0]) if pre_split else None,
                    group=group_of(f.name, pattern),
                )
            )
    return candidates, rejected


def _classes_of(root: Path, class_dirs: dict[_ClassKey, Path]) -> list[str]:
    """The sorted class folder names; raise when there is none or only one."""
    classes = sorted({cls for (_, cls) in class_dirs})
    if not classes:
        raise ValueError(
            f"data.path: {root} has no class subfolders; expected root/<class>/<image>, e.g. "
            "root/normal/a.png and root/pneumonia/b.png"
        )
    check_classes(classes, f"data.path: {root}")
    return classes


def folder_classes(root: Path) -> list[str]:
    """The sorted class names of a class-folder or pre-split tree, from its folder names only.

    Cheap (no file is listed or opened), so it can run whenever the workflow is planned;
    :func:`index_folder` finds its classes the same way.
    """
    root = Path(root)
    _check_root(root)
    return _classes_of(root, _class_dirs(root, _split_dirs(root)))


def _check_not_empty(
    class_dirs: dict[_ClassKey, Path], candidates: list[Candidate], used: Collection[str]
) -> None:
    """Raise when a folder of a class in ``used`` holds no image."""
    per_folder = dict.fromkeys(class_dirs, 0)
    for c in candidates:
        per_folder[(c.given_split, c.class_name)] += 1
    empty = [
        class_dirs[k]
        for k, n in sorted(per_folder.items(), key=lambda kv: str(kv[0]))
        if n == 0 and k[1] in used
    ]
    if empty:
        raise ValueError(
            "data.path: empty class folder(s) "
            + ", ".join(str(p) for p in empty)
            + f"; each class folder must hold at least one image ({SUPPORTED}). "
            "Add images or remove the folder"
        )


def index_folder(
    root: Path, pattern: re.Pattern[str] | None = None, used: Collection[str] | None = None
) -> SourceIndex:
    """Index ``root/<class>/**`` or the pre-split layout ``root/{train,val,test}/<class>/**``.

    ``used``: the classes that will be used (data.classes); only their folders must hold
    images. None: all of them.
    """
    root = Path(root)
    files = _files_of_root(root)
    split_dirs = _split_dirs(root)
    pre_split = bool(split_dirs)
    class_dirs = _class_dirs(root, split_dirs)
    candidates, rejected = _sort_files(root, files, pre_split, pattern)
    classes = _classes_of(root, class_dirs)
    _check_not_empty(class_dirs, candidates, classes if used is None else used)
    notes = []
    if pre_split:
        given = given_splits_note(candidates)
        notes.append(f"pre-split folder layout detected: {given} given by the folders")
    return SourceIndex(
        source="folder",
        layout="pre_split" if pre_split else "class_folders",
        root=root,
        class_names=classes,
        candidates=candidates,
        rejected=rejected,
        notes=notes,
    )
