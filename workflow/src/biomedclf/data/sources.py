"""Index and validate an image source before anything is decoded or written.

Each source becomes a :class:`SourceIndex`: the candidate images (path, class, given split,
group), the files that are certainly not images (rejected without decoding) and, for
MedMNIST, the arrays themselves. Everything that makes the source unusable as a whole (missing
path, empty folder, one class, an empty class folder, more than two classes, a manifest row
whose file is missing, an ``.npz`` without the expected keys) raises here, naming the path and
what was expected, so nothing is written for a source that cannot work.
"""

from __future__ import annotations

import csv
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .decode import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")

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

MEDMNIST_HELP = (
    "Download a MedMNIST .npz (binary tasks such as pneumoniamnist.npz or breastmnist.npz) from "
    "https://zenodo.org/records/10519652, or `pip install medmnist` and run e.g. "
    "`python -c \"import medmnist; medmnist.PneumoniaMNIST(split='train', download=True, "
    "root='data')\"`, then set data.path to the .npz file"
)

#: Class names of the binary MedMNIST sets, by label index (file stem prefix -> names).
MEDMNIST_CLASS_NAMES = {
    "pneumoniamnist": ["normal", "pneumonia"],
    "breastmnist": ["malignant", "normal_or_benign"],
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


@dataclass
class SourceIndex:
    """Everything prepare needs to know about a source before decoding."""

    source: str  # folder | manifest | medmnist
    layout: str  # class_folders | pre_split | manifest | manifest_with_splits | medmnist
    root: Path
    class_names: list[str]  # sorted, exactly two
    candidates: list[Candidate]
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # .npz images per split
    notes: list[str] = field(default_factory=list)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _is_hidden(rel: PurePosixPath) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _all_files(root: Path) -> list[Path]:
    """Every file under ``root``, hidden ones included, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def _check_classes(classes: list[str], where: str, key: str = "data.path") -> None:
    if len(classes) == 1:
        raise ValueError(
            f"{where}: only one class ({classes[0]!r}) found; a classifier needs two classes. "
            f"Add the other class (e.g. a second folder) or point {key} elsewhere"
        )
    if len(classes) > 2:
        raise ValueError(
            f"{where}: {len(classes)} classes found ({', '.join(map(repr, classes))}); this release "
            "supports exactly two. Remove or merge classes so that two remain"
        )


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


def _split_folder(name: str) -> str | None:
    return SPLIT_ALIASES.get(name.lower())


def index_folder(root: Path, pattern: re.Pattern[str] | None = None) -> SourceIndex:
    """Index ``root/<class>/**`` or the pre-split layout ``root/{train,val,test}/<class>/**``."""
    root = Path(root)
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
    subdirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    split_dirs = [d for d in subdirs if _split_folder(d)]
    pre_split = bool(split_dirs) and len(split_dirs) == len(subdirs)
    if split_dirs and not pre_split:
        raise ValueError(
            f"data.path: {root} mixes split folders ({', '.join(split_dirs)}) with other folders "
            f"({', '.join(d for d in subdirs if d not in split_dirs)}); use either "
            "root/<class>/... or root/{train,val,test}/<class>/..."
        )
    if pre_split:
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

    candidates: list[Candidate] = []
    rejected: list[tuple[str, str]] = []
    class_files: dict[tuple[str | None, str], int] = {}
    class_dirs: dict[tuple[str | None, str], Path] = {}
    depth = 2 if pre_split else 1
    expected = "root/<split>/<class>/<image>" if pre_split else "root/<class>/<image>"
    suffixes = ", ".join(IMAGE_SUFFIXES)
    for folder_split in (split_dirs if pre_split else [None]):
        base = root / folder_split if folder_split else root
        for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            split = _split_folder(folder_split) if folder_split else None
            class_files.setdefault((split, d.name), 0)
            class_dirs[(split, d.name)] = d
    for f in files:
        rel = PurePosixPath(_rel(f, root))
        parts = rel.parts
        if _is_hidden(rel):
            rejected.append((str(rel), "not an image: hidden file"))
            continue
        if len(parts) <= depth:
            rejected.append((str(rel), f"not in a class folder: expected {expected}"))
            continue
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            kind = f"'{f.suffix}'" if f.suffix else "no extension"
            rejected.append((str(rel), f"not an image: {kind}, expected {suffixes}"))
            continue
        split = _split_folder(parts[0]) if pre_split else None
        cls = parts[1] if pre_split else parts[0]
        class_files[(split, cls)] += 1
        candidates.append(
            Candidate(
                path=str(rel),
                class_name=cls,
                file=f,
                given_split=split,
                group=group_of(f.name, pattern),
            )
        )

    classes = sorted({cls for (_, cls) in class_files})
    if not classes:
        raise ValueError(
            f"data.path: {root} has no class subfolders; expected root/<class>/<image>, e.g. "
            "root/normal/a.png and root/pneumonia/b.png"
        )
    _check_classes(classes, f"data.path: {root}")
    empty = [
        class_dirs[k] for k, n in sorted(class_files.items(), key=lambda kv: str(kv[0])) if n == 0
    ]
    if empty:
        raise ValueError(
            "data.path: empty class folder(s) "
            + ", ".join(str(p) for p in empty)
            + f"; each class folder must hold at least one image ({', '.join(IMAGE_SUFFIXES)}). "
            "Add images or remove the folder"
        )
    notes = []
    if pre_split:
        given = sorted({c.given_split for c in candidates}, key=SPLITS.index)
        notes.append(f"pre-split folder layout detected: {', '.join(given)} given by the folders")
    return SourceIndex(
        source="folder",
        layout="pre_split" if pre_split else "class_folders",
        root=root,
        class_names=classes,
        candidates=candidates,
        rejected=rejected,
        notes=notes,
    )


def index_manifest(csv_path: Path, pattern: re.Pattern[str] | None = None) -> SourceIndex:
    """Index a CSV with ``path,label`` and optional ``split`` and ``group`` columns.

    Relative paths resolve against the CSV's folder, which is the data root. Every row ends up
    in ``manifest.csv`` or ``rejected.csv``; files not listed in the CSV are not part of the data.
    """
    csv_path = Path(csv_path)
    if not csv_path.exists():
        raise FileNotFoundError(
            f"data.path: {csv_path} does not exist; expected a CSV file with columns "
            "path,label and optional split,group"
        )
    if not csv_path.is_file():
        raise ValueError(f"data.path: {csv_path} is not a file; expected a CSV manifest")
    root = csv_path.parent.resolve()
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
    has_split = "split" in columns
    has_group = "group" in columns

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
        f = Path(row["path"]).expanduser()
        f = f if f.is_absolute() else root / f
        if not f.is_file():
            missing.append(f"line {line}: {f}")
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
        candidates.append(
            Candidate(
                path=_rel(f, root),
                class_name=row["label"],
                file=f,
                given_split=split,
                group=group,
            )
        )
    if missing:
        shown = "; ".join(missing[:5]) + (
            f"; and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise FileNotFoundError(
            f"data.path: {csv_path}: {len(missing)} row(s) point at missing files ({shown}); "
            f"relative paths resolve against {root}. Fix the paths or remove those rows"
        )
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise ValueError(f"data.path: {csv_path}: {shown}")
    seen: dict[str, int] = {}
    for c in candidates:
        seen[c.path] = seen.get(c.path, 0) + 1
    repeated = sorted(p for p, n in seen.items() if n > 1)
    if repeated:
        raise ValueError(
            f"data.path: {csv_path} lists {len(repeated)} file(s) more than once (e.g. "
            f"{repeated[0]}); list each file once"
        )
    classes = sorted({c.class_name for c in candidates})
    _check_classes(classes, f"data.path: {csv_path} (column label)")
    if has_split and "train" not in {c.given_split for c in candidates}:
        raise ValueError(
            f"data.path: {csv_path} has a split column but no train rows; mark rows as train"
        )
    layout = "manifest_with_splits" if has_split else "manifest"
    notes = []
    if has_split:
        given = sorted({c.given_split for c in candidates}, key=SPLITS.index)
        notes.append(f"splits given by the manifest's split column: {', '.join(given)}")
    return SourceIndex(
        source="manifest",
        layout=layout,
        root=root,
        class_names=classes,
        candidates=candidates,
        notes=notes,
    )


def index_medmnist(npz_path: Path) -> SourceIndex:
    """Index a MedMNIST ``.npz`` (keys ``{train,val,test}_{images,labels}``, binary labels)."""
    npz_path = Path(npz_path)
    if not npz_path.exists():
        raise FileNotFoundError(f"data.path: {npz_path} does not exist. {MEDMNIST_HELP}")
    keys = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")]
    try:
        npz = np.load(npz_path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an archive of named arrays")
        with npz:
            found = sorted(npz.files)
            data: dict[str, Any] = {k: npz[k] for k in keys if k in found}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(
            f"data.path: {npz_path} is not a readable .npz file ({exc}). {MEDMNIST_HELP}"
        ) from exc
    lacking = [k for k in keys if k not in found]
    if lacking:
        raise ValueError(
            f"data.path: {npz_path} lacks key(s) {', '.join(lacking)} (found: "
            f"{', '.join(found) or 'none'}); expected a MedMNIST .npz with keys "
            f"{', '.join(keys)}. {MEDMNIST_HELP}"
        )

    candidates: list[Candidate] = []
    arrays: dict[str, np.ndarray] = {}
    label_values: set[int] = set()
    for split in SPLITS:
        images, labels = data[f"{split}_images"], data[f"{split}_labels"]
        if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
            raise ValueError(
                f"data.path: {npz_path}: {split}_images has shape {images.shape}; expected "
                "N x H x W or N x H x W x 3"
            )
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] != 1:
            raise ValueError(
                f"data.path: {npz_path}: {split}_labels has shape {labels.shape}; this is a "
                "multi-label task. Only binary MedMNIST tasks (labels N x 1 with values 0/1, e.g. "
                "pneumoniamnist, breastmnist) are supported"
            )
        labels = labels.reshape(-1)
        if len(labels) != len(images):
            raise ValueError(
                f"data.path: {npz_path}: {split}_images has {len(images)} rows but "
                f"{split}_labels has {len(labels)}; the file is damaged, download it again"
            )
        label_values.update(int(v) for v in np.unique(labels))
        arrays[split] = images
        for i, y in enumerate(labels):
            candidates.append(
                Candidate(
                    path=f"{split}_images[{i}]",
                    class_name=str(int(y)),
                    given_split=split,
                    array_index=i,
                )
            )
    if not label_values <= {0, 1} or len(label_values) < 2:
        raise ValueError(
            f"data.path: {npz_path}: labels {sorted(label_values)} found; expected the two labels "
            "0 and 1 of a binary MedMNIST task (e.g. pneumoniamnist, breastmnist)"
        )
    stem = npz_path.stem.lower()
    names = next((v for k, v in MEDMNIST_CLASS_NAMES.items() if stem.startswith(k)), None)
    if names is not None:
        for c in candidates:
            c.class_name = names[int(c.class_name)]
    class_names = sorted({c.class_name for c in candidates})
    return SourceIndex(
        source="medmnist",
        layout="medmnist",
        root=npz_path.resolve(),
        class_names=class_names,
        candidates=candidates,
        arrays=arrays,
        notes=[f"splits given by the .npz file {npz_path.name}"],
    )


def index_source(data_cfg: dict[str, Any]) -> SourceIndex:
    """Index and validate the source described by the resolved ``data:`` config."""
    source = data_cfg.get("source", "folder")
    path = data_cfg.get("path")
    if source == "synthetic":
        raise ValueError(
            "data.source: 'synthetic' must be generated first (biomedclf.data.synthetic) and "
            "passed as source 'folder' with its path"
        )
    if source not in ("folder", "manifest", "medmnist"):
        raise ValueError(
            f"data.source: {source!r}; use one of synthetic, folder, manifest, medmnist"
        )
    if not path:
        raise ValueError(
            f"data.path: not set; data.source {source!r} needs the path of the "
            + {"folder": "image folder", "manifest": "CSV manifest", "medmnist": ".npz file"}[
                source
            ]
        )
    pattern = compile_group_pattern((data_cfg.get("split") or {}).get("group_pattern"))
    path = Path(path).expanduser()
    if source == "folder":
        return index_folder(path, pattern)
    if source == "manifest":
        return index_manifest(path, pattern)
    return index_medmnist(path)
