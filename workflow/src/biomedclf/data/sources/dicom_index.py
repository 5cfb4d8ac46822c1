"""What indexing reads from DICOM headers: patient groups and the frames of multi-frame files.

Applied to a folder or manifest index after it is built, and only when the config needs a
header (``data.split.group: patient_id``, or ``data.dicom.frames`` other than ``reject``):

* ``data.split.group: patient_id``: each DICOM file's group is its PatientID (0010,0020), in
  place of a manifest ``group`` or a ``group_pattern`` match; a file without a PatientID keeps
  those (or is its own group). Other files (PNG, NIfTI) keep theirs, so a pattern that gives
  the same names links them to the same patients.
* ``data.dicom.frames: all``: a file of N frames becomes N candidates ``path#frame1`` ..
  ``path#frameN`` (numbered from 1, as DICOM does), which share the file's group: its patient,
  else its manifest group or pattern match, else the file's own path, so that the frames of
  one acquisition never straddle two splits. ``middle``: one candidate, its middle frame.

Headers are read without pixel data (:func:`biomedclf.data.dicom.read_headers`); a header that
cannot be read leaves the candidate as it is, and decoding then rejects the file with its
reason. Only counts go to the notes and the log, never a patient's identifier.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .common import Candidate, SourceIndex
from .formats import file_kind, frame_path


def _expand(cand: Candidate, header: Any, frames: str, patient_group: bool) -> list[Candidate]:
    """The candidates one DICOM candidate becomes, with its group set."""
    group = cand.group
    if patient_group and header.patient_id is not None:
        group = header.patient_id
    if cand.frame is not None or header.n_frames <= 1 or frames == "reject":
        return [dataclasses.replace(cand, group=group)]
    if frames == "middle":
        return [dataclasses.replace(cand, group=group, frame=header.n_frames // 2)]
    group = group if group is not None else cand.path
    return [
        dataclasses.replace(cand, path=frame_path(cand.path, k), group=group, frame=k)
        for k in range(header.n_frames)
    ]


def _patient_notes(headers: list[Any]) -> list[str]:
    """What ``data.split.group: patient_id`` found, in counts (prepare logs the notes)."""
    if not headers:
        msg = (
            "data.split.group is patient_id, but the source holds no DICOM file; groups come "
            "from data.split.group_pattern or a manifest group column, if any"
        )
        return [msg]
    ids = [h.patient_id for h in headers if h is not None and h.patient_id is not None]
    missing = len(headers) - len(ids)
    msg = (
        f"data.split.group: patient_id: {len(ids)} DICOM file(s) of {len(set(ids))} "
        "patient(s) grouped by PatientID"
    )
    if missing:
        msg += f"; {missing} without a readable PatientID keep their other group or their own"
    return [msg]


def _frame_notes(headers: list[Any], frames: str, n_images: int) -> list[str]:
    """What ``data.dicom.frames`` did with multi-frame files, in counts."""
    multi = [h for h in headers if h is not None and h.n_frames > 1]
    if not multi or frames == "reject":
        return []
    if frames == "all":
        msg = (
            f"data.dicom.frames: all: {len(multi)} multi-frame DICOM file(s) gave "
            f"{sum(h.n_frames for h in multi)} images (path#frameN); {n_images} images in all"
        )
    else:
        msg = f"data.dicom.frames: middle: the middle frame of {len(multi)} multi-frame file(s)"
    return [msg]


def _check_unique(index: SourceIndex, candidates: list[Candidate]) -> None:
    """Raise when two candidates have one path (a manifest naming a frame and its file)."""
    seen: set[str] = set()
    for c in candidates:
        if c.path in seen:
            raise ValueError(
                f"data.path: {index.root}: {c.path} is listed and is also a frame of a file "
                "listed whole (data.dicom.frames: all makes every frame an image); list the "
                "file or its frames, not both"
            )
        seen.add(c.path)


def apply_dicom_headers(index: SourceIndex, cfg: dict[str, Any], threads: int = 1) -> SourceIndex:
    """The index with DICOM patient groups and frames applied as the validated ``data:``
    section ``cfg`` says (see the module doc); unchanged when nothing needs a header."""
    patient_group = cfg["split"]["group"] == "patient_id"
    frames = cfg["dicom"]["frames"]
    if index.source == "medmnist" or not (patient_group or frames != "reject"):
        return index
    from ..dicom import read_headers

    where = [
        i
        for i, c in enumerate(index.candidates)
        if c.file is not None and file_kind(c.file) == "dicom"
    ]
    headers = read_headers([index.candidates[i].file for i in where], threads)  # type: ignore[misc]
    by_row = dict(zip(where, headers))
    candidates: list[Candidate] = []
    for i, cand in enumerate(index.candidates):
        header = by_row.get(i)
        candidates.extend(
            [cand] if header is None else _expand(cand, header, frames, patient_group)
        )
    _check_unique(index, candidates)
    notes = _patient_notes(headers) if patient_group else []
    notes += _frame_notes(headers, frames, len(candidates))
    return dataclasses.replace(index, candidates=candidates, notes=[*index.notes, *notes])
