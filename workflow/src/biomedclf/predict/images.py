"""Apply a trained model (``model.pt``) to new image files: ``biomedclf predict``.

Files are read as the data step read the training images (the decoding settings stored in
``model.pt``: formats including DICOM and NIfTI, channels, size, resizing of non-square images,
windowing), normalised with the model's mean and std, and classified: for two classes at the
validation-chosen (Youden) threshold stored in the model, or at 0.5 when asked; for more
classes by the most probable class. A multi-label model (``task: multilabel`` in model.pt)
gives each label its probability and a 0/1 call at the label's validation-chosen threshold
(or 0.5). Every file given, or found under a folder given, gets a row; a file that cannot be
read keeps its row with the reason and no probabilities.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.data.decode import DecodeError, DecodeSpec, decode_file, decode_spec
from biomedclf.data.sources.formats import file_kind, frame_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One image to predict: the file, a frame of a multi-frame DICOM file, and its name."""

    file: Path
    name: str
    frame: int | None = None  # 0-based


def list_files(inputs: Sequence[Path | str]) -> list[Path]:
    """The files named, and every file under the folders named (sorted, hidden ones left out);
    a path that does not exist raises ``FileNotFoundError`` naming it."""
    files: list[Path] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder; name images or folders")
    return files


def _items(files: Iterable[Path], spec: DecodeSpec) -> list[Item]:
    """One item per file; with ``data.dicom.frames: all`` one per frame of a DICOM file."""
    items = []
    for f in files:
        if spec.dicom.frames == "all" and file_kind(f) == "dicom":
            from biomedclf.data.dicom import read_header

            header = read_header(f)
            if header is not None and header.n_frames > 1:
                items += [Item(f, frame_path(str(f), k + 1), k) for k in range(header.n_frames)]
                continue
        items.append(Item(f, str(f)))
    return items


def _decode(items: list[Item], spec: DecodeSpec) -> tuple[np.ndarray, list[str | None]]:
    """uint8 pixels of the readable items (N x C x H x W), and each item's reason or None."""
    pixels, reasons = [], []
    for item in items:
        try:
            pixels.append(decode_file(item.file, spec, item.frame).pixels)
            reasons.append(None)
        except DecodeError as exc:
            reasons.append(exc.reason)
    shape = (0, spec.channels, spec.image_size, spec.image_size)
    return (np.stack(pixels) if pixels else np.zeros(shape, np.uint8)), reasons


def _calls(probs: np.ndarray, threshold: float | None) -> np.ndarray:
    """Predicted class indices: class 1 at ``threshold`` (two classes), else the arg-max."""
    if probs.shape[1] == 2 and threshold is not None:
        return (probs[:, 1] >= threshold).astype(np.int64)
    return probs.argmax(axis=1)


def _write(
    out: Path,
    items: list[Item],
    reasons: list[str | None],
    probs: np.ndarray,
    classes: list[str],
    calls: np.ndarray,
) -> None:
    """``path,prob_<class>...,predicted_class,reason`` per item, in input order."""
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = iter(zip(probs.tolist(), calls.tolist()))
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["path", *(f"prob_{c}" for c in classes), "predicted_class", "reason"])
        for item, reason in zip(items, reasons):
            if reason is not None:
                writer.writerow([item.name, *([""] * len(classes)), "", reason])
                continue
            row, call = next(rows)
            writer.writerow([item.name, *(repr(float(q)) for q in row), classes[call], ""])


def _write_multilabel(
    out: Path,
    items: list[Item],
    reasons: list[str | None],
    probs: np.ndarray,
    labels: list[str],
    thresholds: list[float],
) -> None:
    """``path,prob_<label>...,call_<label>...,reason`` per item (call 1 when the probability
    is at least the label's threshold), in input order."""
    out.parent.mkdir(parents=True, exist_ok=True)
    calls = (probs >= np.asarray(thresholds)[None, :]).astype(np.int64)
    rows = iter(zip(probs.tolist(), calls.tolist()))
    header = ["path", *(f"prob_{c}" for c in labels), *(f"call_{c}" for c in labels), "reason"]
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for item, reason in zip(items, reasons):
            if reason is not None:
                writer.writerow([item.name, *([""] * (2 * len(labels))), reason])
                continue
            row, call = next(rows)
            writer.writerow([item.name, *(repr(float(q)) for q in row), *call, ""])


def predict_files(
    model_path: Path | str,
    inputs: Sequence[Path | str],
    out: Path | str,
    *,
    threshold: str = "validation",
    device: str = "cpu",
) -> dict[str, Any]:
    """Predict every image of ``inputs`` with the model in ``model_path``; write ``out`` (CSV).

    ``threshold`` is ``validation`` (two classes: the Youden threshold chosen on the
    validation split, stored in model.pt; multi-label: one per label) or ``0.5``. Returns
    counts and the threshold used (multi-label: ``thresholds``, one per label).
    """
    import torch

    from biomedclf.train.inference import predict_probabilities

    saved = torch.load(Path(model_path), map_location="cpu", weights_only=True)
    if not saved.get("data"):
        raise ValueError(
            f"{model_path}: holds no decoding settings (key 'data'; written by an older "
            "version); train it again with the workflow"
        )
    spec = decode_spec(saved["data"])
    classes = list(saved["class_names"])
    items = _items(list_files(inputs), spec)
    if not items:
        raise ValueError(f"{', '.join(map(str, inputs))}: no files to predict")
    pixels, reasons = _decode(items, spec)
    probs = predict_probabilities(model_path, torch.from_numpy(pixels), device).double().numpy()
    skipped = sum(r is not None for r in reasons)
    if saved.get("task") == "multilabel":
        per_label = saved["thresholds"] if threshold == "validation" else [0.5] * len(classes)
        _write_multilabel(Path(out), items, reasons, probs, classes, list(per_label))
        log.info("%d image(s) predicted, %d unreadable", len(items) - skipped, skipped)
        return {
            "predicted": len(items) - skipped,
            "unreadable": skipped,
            "threshold": None,
            "thresholds": list(per_label),
        }
    chosen = saved["threshold"] if threshold == "validation" else 0.5
    if len(classes) == 2 and chosen is None:
        chosen = 0.5
    _write(Path(out), items, reasons, probs, classes, _calls(probs, chosen))
    log.info(
        "%d image(s) predicted, %d unreadable (reason in %s)", len(items) - skipped, skipped, out
    )
    return {
        "predicted": len(items) - skipped,
        "unreadable": skipped,
        "threshold": chosen if len(classes) == 2 else None,
    }
