"""The ``folder`` source: ``root/<class>/**`` or pre-split ``root/{train,val,test}/<class>/**``."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ..decode import IMAGE_SUFFIXES
from .common import (
    SPLIT_ALIASES,
    Candidate,
    SourceIndex,
    check_classes,
    given_splits_note,
    group_of,
    is_hidden,
    rel_posix,
)

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


def _files_of_root(root: Path) -> list[Path]:
    """Every file under ``root``; raise when root is missing, a file, or holds no image."""
    if not root.exists():
        raise FileNotFoundError(
            f"data.path: {root} does not exist; expected a folder with one subfolder per class "
            "(root/<class>/<image>) or root/{train,val,test}/<class>/<image>"
        )
    if not root.is_dir():
        raise ValueError(
            f"data.path: {root} is a file; data.source 'folder' expects a folder with one "
            "subfolder per class (use data.source 'manifest' for a CSV, 'medmnist' for an .npz)"
        )
    files = _all_files(root)
    if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
        raise ValueError(
            f"data.path: {root} holds no image files ({', '.join(IMAGE_SUFFIXES)}); expected "
            "root/<class>/<image>, e.g. root/normal/a.png and root/pneumonia/b.png"
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
    suffixes = ", ".join(IMAGE_SUFFIXES)
    for f in files:
        rel = PurePosixPath(rel_posix(f, root))
        parts = rel.parts
        if is_hidden(rel):
            rejected.append((str(rel), "not an image: hidden file"))
        elif len(parts) <= depth:
            rejected.append((str(rel), f"not in a class folder: expected {expected}"))
        elif f.suffix.lower() not in IMAGE_SUFFIXES:
            kind = f"'{f.suffix}'" if f.suffix else "no extension"
            rejected.append((str(rel), f"not an image: {kind}, expected {suffixes}"))
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


def _check_class_folders(
    root: Path, class_dirs: dict[_ClassKey, Path], candidates: list[Candidate]
) -> list[str]:
    """The sorted class names; raise on no class, not two classes, or an empty class folder."""
    per_folder = dict.fromkeys(class_dirs, 0)
    for c in candidates:
        per_folder[(c.given_split, c.class_name)] += 1
    classes = sorted({cls for (_, cls) in per_folder})
    if not classes:
        raise ValueError(
            f"data.path: {root} has no class subfolders; expected root/<class>/<image>, e.g. "
            "root/normal/a.png and root/pneumonia/b.png"
        )
    check_classes(classes, f"data.path: {root}")
    empty = [
        class_dirs[k] for k, n in sorted(per_folder.items(), key=lambda kv: str(kv[0])) if n == 0
    ]
    if empty:
        raise ValueError(
            "data.path: empty class folder(s) "
            + ", ".join(str(p) for p in empty)
            + f"; each class folder must hold at least one image ({', '.join(IMAGE_SUFFIXES)}). "
            "Add images or remove the folder"
        )
    return classes


def index_folder(root: Path, pattern: re.Pattern[str] | None = None) -> SourceIndex:
    """Index ``root/<class>/**`` or the pre-split layout ``root/{train,val,test}/<class>/**``."""
    root = Path(root)
    files = _files_of_root(root)
    split_dirs = _split_dirs(root)
    pre_split = bool(split_dirs)
    class_dirs = _class_dirs(root, split_dirs)
    candidates, rejected = _sort_files(root, files, pre_split, pattern)
    classes = _check_class_folders(root, class_dirs, candidates)
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
