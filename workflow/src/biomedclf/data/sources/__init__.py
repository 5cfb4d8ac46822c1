"""Index and validate an image source before anything is decoded or written.

Each source becomes a :class:`SourceIndex`: the candidate images (path, class, given split,
group), the files that are certainly not images (rejected without decoding) and, for
MedMNIST, the arrays themselves. Everything that makes the source unusable as a whole (missing
path, empty folder, one class, an empty class folder, a manifest row whose file is missing, an
``.npz`` without the expected keys or with several labels per image) raises here, naming the
path and what was expected, so nothing is written for a source that cannot work.

Each source also has a cheap class lister (:func:`folder_classes`, :func:`manifest_classes`,
:func:`medmnist_classes`: folder names, the label column, the label arrays) that finds the
classes exactly as its indexer does; :mod:`biomedclf.data.classes` builds on them.

Folders and manifests hold PNG, JPEG, TIFF, BMP, DICOM and NIfTI files (``formats``). When the
config needs DICOM tags (``data.split.group: patient_id``, ``data.dicom.frames``), their headers
are read once the source is indexed (``dicom_index``): patient groups, one candidate per frame.

Modules: ``common`` (the index types, group patterns, class checks), ``formats`` (file kinds,
frame names), ``folder`` (class folders and the pre-split layout), ``manifest`` (CSV),
``dicom_index`` (DICOM headers), ``medmnist`` (.npz) and ``medmnist_info`` (the MedMNIST class
names).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from .common import (
    SPLIT_ALIASES,
    SPLITS,
    Candidate,
    ManifestSpec,
    SourceIndex,
    SourceNotFound,
    compile_group_pattern,
    group_of,
)
from .dicom_index import apply_dicom_headers
from .folder import folder_classes, index_folder
from .manifest import index_manifest, manifest_classes
from .medmnist import MEDMNIST_HELP, index_medmnist, medmnist_classes
from .medmnist_info import MEDMNIST_CLASS_NAMES

__all__ = [
    "MEDMNIST_CLASS_NAMES",
    "MEDMNIST_HELP",
    "SPLITS",
    "SPLIT_ALIASES",
    "Candidate",
    "ManifestSpec",
    "SourceIndex",
    "SourceNotFound",
    "apply_dicom_headers",
    "compile_group_pattern",
    "folder_classes",
    "group_of",
    "index_folder",
    "index_manifest",
    "index_medmnist",
    "index_source",
    "manifest_classes",
    "medmnist_classes",
    "source_path",
]

_PATH_KIND = {"folder": "image folder", "manifest": "CSV manifest", "medmnist": ".npz file"}


def source_path(data_cfg: dict[str, Any]) -> tuple[str, Path]:
    """The source kind and its path; raise naming ``data.source`` / ``data.path`` when unusable."""
    source, path = data_cfg["source"], data_cfg["path"]
    if source == "synthetic":
        raise ValueError(
            "data.source: 'synthetic' must be generated first (biomedclf.data.synthetic) and "
            "passed as source 'folder' with its path"
        )
    if not path:
        raise ValueError(
            f"data.path: not set; data.source {source!r} needs the path of the {_PATH_KIND[source]}"
        )
    return str(source), Path(path).expanduser()


def listed_classes(data_cfg: dict[str, Any]) -> list[str]:
    """The classes the source holds, in its own order, found cheaply (see the module doc)."""
    source, path = source_path(data_cfg)
    if source == "manifest":
        return manifest_classes(path, ManifestSpec.from_config(data_cfg))
    if source == "medmnist":
        return medmnist_classes(path, multilabel=data_cfg["task"] == "multilabel")
    return folder_classes(path)


def index_source(
    data_cfg: dict[str, Any], used: Collection[str] | None = None, threads: int = 1
) -> SourceIndex:
    """Index and validate the source described by the resolved ``data:`` config.

    ``used``: the classes that will be used (data.classes), None for all; a folder source
    requires images only in their folders. ``threads`` read DICOM headers when the config
    needs them (:func:`~.dicom_index.apply_dicom_headers`).
    """
    source, path = source_path(data_cfg)
    pattern = compile_group_pattern(data_cfg["split"]["group_pattern"])
    if source == "folder":
        index = index_folder(path, pattern, used)
    elif source == "manifest":
        index = index_manifest(path, ManifestSpec.from_config(data_cfg), pattern)
    else:
        return index_medmnist(path, multilabel=data_cfg["task"] == "multilabel")
    return apply_dicom_headers(index, data_cfg, threads)
