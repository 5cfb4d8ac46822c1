"""The ``medmnist`` source: an ``.npz`` with ``{train,val,test}_{images,labels}``, one label each.

Labels are N x 1 (or N) whole numbers 0..K-1. The classes are the label values present, in
label index order, named from the published MedMNIST tables (:mod:`.medmnist_info`) when the
file stem names a known set, else ``"0"``..``"K-1"``. Multi-label files (chestmnist: N x 14 of
0/1) are read with ``data.task: multilabel`` (:mod:`.medmnist_multilabel`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .common import SPLITS, Candidate, SourceIndex, SourceNotFound, check_classes
from .medmnist_info import MEDMNIST_CLASS_NAMES, MULTI_LABEL_SETS, set_of
from .medmnist_multilabel import index_multilabel, label_names, multilabel_codes

MEDMNIST_HELP = (
    "Download a MedMNIST .npz (single-label sets such as pneumoniamnist.npz, pathmnist.npz or "
    "bloodmnist.npz) from https://zenodo.org/records/10519652, or `pip install medmnist` and run "
    "e.g. `python -c \"import medmnist; medmnist.PneumoniaMNIST(split='train', download=True, "
    "root='data')\"`, then set data.path to the .npz file"
)

_KEYS = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")]
_LABEL_KEYS = [f"{s}_labels" for s in SPLITS]


def _load_npz(npz_path: Path, keys: list[str]) -> dict[str, Any]:
    """``keys`` of a MedMNIST file (only those are read); raise when it is missing, unreadable
    or lacks any of the six keys."""
    if not npz_path.exists():
        raise SourceNotFound(f"data.path: {npz_path} does not exist. {MEDMNIST_HELP}")
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
    lacking = [k for k in _KEYS if k not in found]
    if lacking:
        raise ValueError(
            f"data.path: {npz_path} lacks key(s) {', '.join(lacking)} (found: "
            f"{', '.join(found) or 'none'}); expected a MedMNIST .npz with keys "
            f"{', '.join(_KEYS)}. {MEDMNIST_HELP}"
        )
    return data


def _flat_labels(npz_path: Path, split: str, labels: Any) -> np.ndarray:
    """One split's labels as a flat int64 array; raise on multi-label or non-class values."""
    labels = np.asarray(labels)
    if labels.ndim > 2 or (labels.ndim == 2 and labels.shape[1] != 1):
        raise ValueError(
            f"data.path: {npz_path}: {split}_labels has shape {labels.shape}: a multi-label "
            f"set (several labels per image, as in {', '.join(MULTI_LABEL_SETS)}). Set "
            "data.task: multilabel to read it, or use a single-label MedMNIST set (labels "
            "N x 1, e.g. pneumoniamnist, pathmnist, bloodmnist)"
        )
    labels = labels.reshape(-1)
    if labels.size and (
        not np.issubdtype(labels.dtype, np.number)
        or labels.min() < 0
        or not np.array_equal(labels, np.round(labels))
    ):
        raise ValueError(
            f"data.path: {npz_path}: {split}_labels holds values other than the class indices "
            "0, 1, 2, ...; the file is not a MedMNIST classification file"
        )
    return labels.astype(np.int64)


def _class_table(npz_path: Path, values: list[int]) -> tuple[list[str], dict[int, str]]:
    """The classes found (label order) and the name of each label value present."""
    name = set_of(npz_path.stem)
    table = MEDMNIST_CLASS_NAMES.get(name or "")
    if table is not None and values and values[-1] >= len(table):
        raise ValueError(
            f"data.path: {npz_path}: labels {values} found, but {name} has {len(table)} classes "
            f"(labels 0..{len(table) - 1}: {', '.join(table)}); rename the file if it is not "
            f"{name}, or get the file again. {MEDMNIST_HELP}"
        )
    names = {v: table[v] if table is not None else str(v) for v in values}
    found = [names[v] for v in values]
    check_classes(found, f"data.path: {npz_path} (labels)")
    return found, names


def medmnist_classes(npz_path: Path, multilabel: bool) -> list[str]:
    """The classes of a MedMNIST ``.npz`` in label index order, from its label arrays only
    (``multilabel``: its label names, :func:`.medmnist_multilabel.label_names`).

    Cheap (the image arrays are not read), so it can run whenever the workflow is planned;
    :func:`index_medmnist` finds its classes the same way.
    """
    npz_path = Path(npz_path)
    data = _load_npz(npz_path, _LABEL_KEYS)
    if multilabel:
        return label_names(npz_path, multilabel_codes(npz_path, data))
    flat = [_flat_labels(npz_path, s, data[f"{s}_labels"]) for s in SPLITS]
    values = sorted({int(v) for labels in flat for v in np.unique(labels)})
    return _class_table(npz_path, values)[0]


def _check_images(npz_path: Path, split: str, images: np.ndarray, n_labels: int) -> None:
    """Raise when a split's images have a shape MedMNIST does not use or the wrong count."""
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise ValueError(
            f"data.path: {npz_path}: {split}_images has shape {images.shape}; expected "
            "N x H x W or N x H x W x 3"
        )
    if n_labels != len(images):
        raise ValueError(
            f"data.path: {npz_path}: {split}_images has {len(images)} rows but "
            f"{split}_labels has {n_labels}; the file is damaged, download it again"
        )


def index_medmnist(npz_path: Path, multilabel: bool) -> SourceIndex:
    """Index a MedMNIST ``.npz`` (keys ``{train,val,test}_{images,labels}``, one label each;
    ``multilabel``: a row of 0/1 labels each)."""
    npz_path = Path(npz_path)
    data = _load_npz(npz_path, _KEYS)
    if multilabel:
        for split in SPLITS:
            _check_images(npz_path, split, data[f"{split}_images"], len(data[f"{split}_labels"]))
        return index_multilabel(npz_path, data)
    arrays: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    for split in SPLITS:
        labels[split] = _flat_labels(npz_path, split, data[f"{split}_labels"])
        arrays[split] = data[f"{split}_images"]
        _check_images(npz_path, split, arrays[split], len(labels[split]))
    values = sorted({int(v) for y in labels.values() for v in np.unique(y)})
    found, names = _class_table(npz_path, values)
    candidates = [
        Candidate(
            path=f"{split}_images[{i}]", class_name=names[int(y)], given_split=split, array_index=i
        )
        for split in SPLITS
        for i, y in enumerate(labels[split].tolist())
    ]
    notes = [f"splits given by the .npz file {npz_path.name}"]
    table = MEDMNIST_CLASS_NAMES.get(set_of(npz_path.stem) or "")
    absent = [f"{k} ({n})" for k, n in enumerate(table or []) if k not in names]
    if absent:
        notes.append(f"label(s) {', '.join(absent)} have no image in {npz_path.name}")
    return SourceIndex(
        source="medmnist",
        layout="medmnist",
        root=npz_path.resolve(),
        class_names=found,
        candidates=candidates,
        arrays=arrays,
        notes=notes,
    )
