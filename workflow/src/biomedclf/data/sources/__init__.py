"""Index and validate an image source before anything is decoded or written.

Each source becomes a :class:`SourceIndex`: the candidate images (path, class, given split,
group), the files that are certainly not images (rejected without decoding) and, for
MedMNIST, the arrays themselves. Everything that makes the source unusable as a whole (missing
path, empty folder, one class, an empty class folder, more than two classes, a manifest row
whose file is missing, an ``.npz`` without the expected keys) raises here, naming the path and
what was expected, so nothing is written for a source that cannot work.

Modules: ``common`` (the index types, group patterns, class checks), ``folder`` (class folders
and the pre-split layout), ``manifest`` (CSV), ``medmnist`` (.npz).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .common import (
    SPLIT_ALIASES,
    SPLITS,
    Candidate,
    SourceIndex,
    compile_group_pattern,
    group_of,
)
from .folder import index_folder
from .manifest import index_manifest
from .medmnist import MEDMNIST_CLASS_NAMES, MEDMNIST_HELP, index_medmnist

__all__ = [
    "MEDMNIST_CLASS_NAMES",
    "MEDMNIST_HELP",
    "SPLITS",
    "SPLIT_ALIASES",
    "Candidate",
    "SourceIndex",
    "compile_group_pattern",
    "group_of",
    "index_folder",
    "index_manifest",
    "index_medmnist",
    "index_source",
]

_PATH_KIND = {"folder": "image folder", "manifest": "CSV manifest", "medmnist": ".npz file"}


def index_source(data_cfg: dict[str, Any]) -> SourceIndex:
    """Index and validate the source described by the resolved ``data:`` config."""
    source = data_cfg.get("source", "folder")
    path = data_cfg.get("path")
    if source == "synthetic":
        raise ValueError(
            "data.source: 'synthetic' must be generated first (biomedclf.data.synthetic) and "
            "passed as source 'folder' with its path"
        )
    if source not in _PATH_KIND:
        raise ValueError(
            f"data.source: {source!r}; use one of synthetic, folder, manifest, medmnist"
        )
    if not path:
        raise ValueError(
            f"data.path: not set; data.source {source!r} needs the path of the {_PATH_KIND[source]}"
        )
    pattern = compile_group_pattern((data_cfg.get("split") or {}).get("group_pattern"))
    path = Path(path).expanduser()
    if source == "folder":
        return index_folder(path, pattern)
    if source == "manifest":
        return index_manifest(path, pattern)
    return index_medmnist(path)
