"""The explain job's files: ``maps.npz`` (the saliency maps), ``errors.npz`` (the images of
the error gallery) and ``sanity.json``.

The ``.npz`` files are zips of ``.npy`` arrays (``numpy.load(path)``, no pickle); their
formats are in workflow/CONTRACTS.md ("Saliency maps"). They are written here entry by entry
with a fixed time stamp, so the same arrays give the same bytes (``numpy.savez`` stamps the
current time). The readers check the format and the shapes and name the file and the fix when
something is off.

Only numpy and json: the figure and summary jobs read these files without torch (the explain
job, which reads the data cache anyway, stores the images the figures show).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.explain.sanity import SANITY_FORMAT
from biomedclf.io import atomic_path, read_json, write_json

#: ``format`` of maps.npz and errors.npz; change an array's meaning only with a new version.
#: maps.npz version 2 added ``explained`` and ``selection_label`` (multi-label studies).
MAPS_FORMAT = "biomedclf-maps/2"
ERRORS_FORMAT = "biomedclf-errors/1"

#: The methods of maps.npz's ``method``, by display name.
METHODS = {"grad_cam": "Grad-CAM", "integrated_gradients": "integrated gradients"}

_STAMP = (1980, 1, 1, 0, 0, 0)


@dataclass
class SaliencyMaps:
    """The content of one ``maps.npz`` (n selected images, K classes, C x H x W images).

    A multi-label study's (K labels): ``labels`` is n x K (1, 0, or -1 where the entry is
    ignored), ``probabilities`` each label's sigmoid, ``explained`` the label each map explains
    (``explain.label``). ``explained`` and ``selection_label`` default to the true class of a
    single-label study's rows."""

    format: str
    variant: str
    seed: int
    method: str  # "grad_cam" | "integrated_gradients"
    layer: str  # the attributed layer's module name ("input" for integrated gradients)
    target: str  # which class each map explains
    class_names: np.ndarray  # (K,) str
    paths: np.ndarray  # (n,) str: manifest paths
    labels: np.ndarray  # (n,) int64; multi-label (n, K): 1, 0, -1 where ignored
    probabilities: np.ndarray  # (n, K) float32, the trained model's
    images: np.ndarray  # (n, C, H, W) uint8, as in the data cache
    maps: np.ndarray  # (n, H, W) float32, trained model
    randomised_maps: np.ndarray  # (n, H, W) float32, every layer re-initialised
    spearman: np.ndarray  # (n,) float64, trained vs randomised (NaN: trained map constant)
    cascade_layers: np.ndarray  # (L,) str: modules re-initialised at each step, top first
    cascade_spearman: np.ndarray  # (L, n) float64
    selection_baseline: np.ndarray  # (m,) str: the baseline whose selection a row is
    selection_image: np.ndarray  # (m,) int64: row in paths
    selection_outcome: np.ndarray  # (m,) str: "correct" | "wrong" (the baseline's call)
    selection_rank: np.ndarray  # (m,) int64: 0 = most confident of its class and outcome
    first_layer_weights: np.ndarray  # (U, C, H, W) float32; U = 0 unless the model is linear
    explained: np.ndarray | None = None  # (n,) int64: the class or label each map explains
    selection_label: np.ndarray | None = None  # (m,) int64: the class or label it was chosen for

    def __post_init__(self) -> None:
        if self.labels.ndim == 1:  # single-label: every map explains the true class
            if self.explained is None:
                self.explained = self.labels.astype(np.int64)
            if self.selection_label is None:
                self.selection_label = self.labels[self.selection_image].astype(np.int64)
        if self.explained is None or self.selection_label is None:
            raise ValueError("multi-label maps need explained and selection_label")

    @property
    def multilabel(self) -> bool:
        """Whether the maps are of a multi-label study (several findings per image)."""
        return self.labels.ndim == 2

    def label_for(self, baseline: str) -> dict[int, int]:
        """Row -> the class or label ``baseline``'s selection chose it for."""
        return {
            int(i): int(k)
            for b, i, k in zip(self.selection_baseline, self.selection_image, self.selection_label)
            if b == baseline
        }

    def rows_for(self, baseline: str) -> list[int]:
        """Rows (into ``paths``) of ``baseline``'s selection, in display order."""
        return [
            int(i) for b, i in zip(self.selection_baseline, self.selection_image) if b == baseline
        ]

    def outcome_for(self, baseline: str) -> dict[int, str]:
        """Row -> outcome of ``baseline``'s selection."""
        return {
            int(i): str(o)
            for b, i, o in zip(
                self.selection_baseline, self.selection_image, self.selection_outcome
            )
            if b == baseline
        }


_SCALARS = {
    "format": str,
    "variant": str,
    "seed": int,
    "method": str,
    "layer": str,
    "target": str,
    "n_test": int,
    "n_errors": int,
}


def _write_npz(path: Path | str, record: Any) -> Path:
    """Write a dataclass of arrays as ``.npz`` atomically, deflated, fixed time stamps."""
    path = Path(path)
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in fields(record):
            buffer = io.BytesIO()
            np.lib.format.write_array(
                buffer, np.asarray(getattr(record, f.name)), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{f.name}.npy", date_time=_STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue())
    return path


def _read_npz(path: Path, kind: type, fmt: str) -> Any:
    """Read a ``.npz`` written by :func:`_write_npz` into dataclass ``kind``; refuses another
    format or a missing array, naming the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; run the explain job first")
    with np.load(path, allow_pickle=False) as data:
        names = [f.name for f in fields(kind)]
        missing = [n for n in names if n not in data.files]
        found = str(data["format"]) if "format" in data.files else None
        if found != fmt or missing:
            raise ValueError(
                f"{path}: not a {fmt} file (format {found!r}, missing {missing}); "
                "delete it and rerun the explain job"
            )
        values: dict[str, Any] = {n: data[n] for n in names}
    for key, cast in _SCALARS.items():
        if key in values:
            values[key] = cast(values[key])
    return kind(**values)


def write_maps(path: Path | str, maps: SaliencyMaps) -> Path:
    """Write ``maps`` as ``maps.npz``."""
    return _write_npz(path, maps)


def _check_shapes(path: Path, m: SaliencyMaps) -> None:
    """ValueError naming the file when the arrays do not fit together."""
    n, k = m.paths.shape[0], m.class_names.shape[0]
    expected = {
        "labels": (n, k) if m.multilabel else (n,),
        "explained": (n,),
        "selection_label": m.selection_image.shape,
        "probabilities": (n, k),
        "spearman": (n,),
        "cascade_spearman": (m.cascade_layers.shape[0], n),
        "maps": (n, *m.images.shape[2:]),
        "randomised_maps": (n, *m.images.shape[2:]),
    }
    wrong = [k for k, shape in expected.items() if getattr(m, k).shape != shape]
    if m.images.ndim != 4 or m.images.shape[0] != n:
        wrong.append("images")
    if (
        "explained" not in wrong
        and m.explained.size
        and not 0 <= m.explained.min() <= m.explained.max() < k
    ):
        wrong.append("explained")
    if wrong or (m.selection_image.size and m.selection_image.max() >= n):
        raise ValueError(
            f"{path}: arrays {wrong or ['selection_image']} do not match {n} images; "
            "delete the file and rerun the explain job"
        )


def read_maps(path: Path | str) -> SaliencyMaps:
    """Read ``maps.npz``; refuses another format, a missing array or mismatched shapes."""
    maps = _read_npz(Path(path), SaliencyMaps, MAPS_FORMAT)
    _check_shapes(Path(path), maps)
    return maps


@dataclass
class ErrorImages:
    """The content of one ``errors.npz``: the test images a variant's seed ensemble gets
    wrong, the most confident ``e`` of its ``n_errors`` (at most
    :data:`biomedclf.explain.selection.GALLERY_MAX`).

    A multi-label study's (:func:`biomedclf.explain.multilabel.multilabel_errors`, K labels):
    ``labels``, ``predicted`` (the ensemble's calls) and ``confidence`` (its probabilities)
    are e x K, ``labels`` -1 where ignored; ``confusions`` rows are (label, target, count) of
    the wrong entries (target 1: a finding missed, 0: one called that is absent)."""

    format: str
    variant: str
    seeds: np.ndarray  # (S,) int64: the seeds of the ensemble
    n_test: int
    n_errors: int  # all errors of the ensemble
    class_names: np.ndarray  # (K,) str
    paths: np.ndarray  # (e,) str, most confident error first
    labels: np.ndarray  # (e,) int64: the true class (multi-label: e x K targets)
    predicted: np.ndarray  # (e,) int64: the class it was mistaken for (e x K calls)
    confidence: np.ndarray  # (e,) float64: the ensemble's probability of that class (e x K)
    images: np.ndarray  # (e, C, H, W) uint8, as in the data cache
    confusions: np.ndarray  # (r, 3) int64: true, predicted, count of every error, most first

    @property
    def multilabel(self) -> bool:
        """Whether the errors are of a multi-label study (several findings per image)."""
        return self.labels.ndim == 2


def write_errors(path: Path | str, errors: ErrorImages) -> Path:
    """Write ``errors`` as ``errors.npz``."""
    return _write_npz(path, errors)


def read_errors(path: Path | str) -> ErrorImages:
    """Read ``errors.npz``; refuses another format, a missing array or mismatched shapes."""
    errors = _read_npz(Path(path), ErrorImages, ERRORS_FORMAT)
    e = errors.paths.shape[0]
    if any(
        getattr(errors, k).shape[:1] != (e,)
        for k in ("labels", "predicted", "confidence", "images")
    ):
        raise ValueError(f"{path}: arrays do not match {e} images; rerun the explain job")
    return errors


def write_sanity(path: Path | str, record: dict[str, Any]) -> Path:
    """Write a sanity record (:func:`biomedclf.explain.sanity.sanity_record`) as JSON."""
    write_json(path, record)
    return Path(path)


def read_sanity(path: Path | str) -> dict[str, Any]:
    """Read ``sanity.json``; refuses another format, naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no sanity check; run the explain job first")
    record = read_json(path)
    if not isinstance(record, dict) or record.get("format") != SANITY_FORMAT:
        raise ValueError(f"{path}: not a {SANITY_FORMAT} file; delete it and rerun the explain job")
    return record
