"""Which files are read, and as what: ordinary images, DICOM and NIfTI.

A file's kind comes from its name where the name says it (:data:`IMAGE_SUFFIXES` are read by
Pillow, ``.dcm``/``.dicom`` by pydicom, ``.nii``/``.nii.gz`` by nibabel); any other file is
DICOM when it carries the DICOM preamble, the bytes ``DICM`` at offset 128 (files named by
their UIDs, ``IM0001`` or without an extension). That sniff reads 132 bytes, so indexing a
folder stays cheap.
"""

from __future__ import annotations

from pathlib import Path

from .common import IMAGE_SUFFIXES

#: Suffixes read as DICOM (lower case); other files are DICOM when they carry the preamble.
DICOM_SUFFIXES = (".dcm", ".dicom")
#: Suffixes read as NIfTI volumes (lower case; ``.nii.gz`` is matched on the whole name).
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: The kinds :func:`file_kind` returns.
KINDS = ("image", "dicom", "nifti")
#: What is accepted, for messages.
SUPPORTED = (
    f"{', '.join(IMAGE_SUFFIXES)}, DICOM ({', '.join(DICOM_SUFFIXES)} or any file with the "
    f"DICOM preamble) and NIfTI ({', '.join(NIFTI_SUFFIXES)})"
)

_PREAMBLE_END = 132  # 128 bytes of preamble, then b"DICM"


def has_dicom_preamble(path: Path) -> bool:
    """True when ``path`` holds ``DICM`` at byte 128 (the DICOM file format's preamble)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PREAMBLE_END)
    except OSError:
        return False
    return len(head) == _PREAMBLE_END and head[128:] == b"DICM"


def kind_by_name(name: str) -> str | None:
    """The kind a file name states (``image``, ``dicom``, ``nifti``), or None."""
    lower = name.lower()
    if lower.endswith(NIFTI_SUFFIXES):
        return "nifti"
    suffix = Path(lower).suffix
    if suffix in DICOM_SUFFIXES:
        return "dicom"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None


def file_kind(path: Path, sniff: bool = True) -> str | None:
    """The kind of ``path``: by its name, else ``dicom`` when it carries the DICOM preamble
    (``sniff``), else None (not a file this package reads)."""
    kind = kind_by_name(Path(path).name)
    if kind is None and sniff and has_dicom_preamble(Path(path)):
        return "dicom"
    return kind


def describe_other(path: Path) -> str:
    """Why a file of no known kind is not read, for ``rejected.csv``."""
    suffix = Path(path).suffix
    kind = f"'{suffix}'" if suffix else "no extension"
    return f"not an image: {kind} without the DICOM preamble; expected {SUPPORTED}"


#: How a frame of a multi-frame DICOM file is named in manifests: ``file.dcm#frame3``.
FRAME_TAG = "#frame"


def frame_path(path: str, frame: int) -> str:
    """The name of frame ``frame`` (0-based) of the file at ``path``: ``path#frame{frame + 1}``
    (frames are numbered from 1, as DICOM numbers them)."""
    return f"{path}{FRAME_TAG}{frame + 1}"


def split_frame_path(path: str) -> tuple[str, int | None]:
    """``file.dcm#frame3`` -> (``file.dcm``, 2); a path without the tag -> (path, None)."""
    head, tag, number = path.rpartition(FRAME_TAG)
    if not tag or not number.isdigit() or int(number) < 1:
        return path, None
    return head, int(number) - 1
