"""The ``medmnist`` source: an ``.npz`` with ``{train,val,test}_{images,labels}``, binary labels."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .common import SPLITS, Candidate, SourceIndex

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

_KEYS = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels")]


def _load_npz(npz_path: Path) -> dict[str, Any]:
    """The six arrays of a MedMNIST file; raise when it is missing, unreadable or lacks keys."""
    if not npz_path.exists():
        raise FileNotFoundError(f"data.path: {npz_path} does not exist. {MEDMNIST_HELP}")
    try:
        npz = np.load(npz_path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an archive of named arrays")
        with npz:
            found = sorted(npz.files)
            data: dict[str, Any] = {k: npz[k] for k in _KEYS if k in found}
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


def _split_labels(npz_path: Path, split: str, images: np.ndarray, labels: Any) -> np.ndarray:
    """The labels of one split as a flat array; raise on a shape the binary task cannot have."""
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
    return labels


def index_medmnist(npz_path: Path) -> SourceIndex:
    """Index a MedMNIST ``.npz`` (keys ``{train,val,test}_{images,labels}``, binary labels)."""
    npz_path = Path(npz_path)
    data = _load_npz(npz_path)
    candidates: list[Candidate] = []
    arrays: dict[str, np.ndarray] = {}
    label_values: set[int] = set()
    for split in SPLITS:
        images = data[f"{split}_images"]
        labels = _split_labels(npz_path, split, images, data[f"{split}_labels"])
        label_values.update(int(v) for v in np.unique(labels))
        arrays[split] = images
        candidates += [
            Candidate(path=f"{split}_images[{i}]", class_name=str(int(y)), given_split=split,
                      array_index=i)
            for i, y in enumerate(labels)
        ]  # fmt: skip
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
    return SourceIndex(
        source="medmnist",
        layout="medmnist",
        root=npz_path.resolve(),
        class_names=sorted({c.class_name for c in candidates}),
        candidates=candidates,
        arrays=arrays,
        notes=[f"splits given by the .npz file {npz_path.name}"],
    )
