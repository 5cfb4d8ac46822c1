"""Read DICOM files with pydicom: cheap headers for indexing, one frame each for decoding.

* :func:`read_headers` reads the tags indexing needs (number of frames, PatientID) with
  ``stop_before_pixels``, so no pixel data is read; unreadable headers are left for decoding
  to reject with their reason.
* :func:`decode_dicom` reads a file (or, for a frame of a multi-frame file, only that frame
  through :func:`pydicom.pixels.pixel_array`), decodes it with pydicom's pixel-data handlers
  (native, RLE and deflate by pydicom; JPEG, JPEG-LS and JPEG 2000 by pylibjpeg's libjpeg and
  openjpeg plugins or Pillow) and turns it into cache pixels (:mod:`.dicom_pixels`).

Each call reads its own file into its own dataset and pydicom keeps no per-call state in its
decoders, so decoding runs in the decode step's thread pool (tests/test_data_dicom.py checks
that threads give the pixels one thread gives). Files are rejected, with the reason written to
``rejected.csv``, when they have no pixel data (``no pixel data``: structured reports, RT
plans, DICOMDIR), end early (``truncated``), use a transfer syntax the installed handlers
cannot decode (``cannot decode``, naming the syntax and the package that decodes it), have
several frames while ``data.dicom.frames`` is ``reject`` (``multi-frame``), or are not DICOM.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .decode import Decoded, DecodeError, DecodeSpec, decode_pil, decode_plane
from .dicom_pixels import colour_image, grey_plane, is_colour

log = logging.getLogger(__name__)

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_UNDEFINED_LENGTH = 0xFFFFFFFF
#: Words in pydicom's errors that mean the pixel data ends early.
_TRUNCATION_WORDS = ("less than expected", "cannot reshape", "end of file", "truncat", "eof")

#: Transfer syntax UID -> the package that decodes it, for messages.
_DECODER_PACKAGES = {
    **dict.fromkeys(
        (
            "1.2.840.10008.1.2.4.50",
            "1.2.840.10008.1.2.4.51",
            "1.2.840.10008.1.2.4.57",
            "1.2.840.10008.1.2.4.70",
        ),
        "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg)",
    ),
    **dict.fromkeys(
        ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"),
        "pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg) or pyjpegls",
    ),
    **dict.fromkeys(
        (
            "1.2.840.10008.1.2.4.90",
            "1.2.840.10008.1.2.4.91",
            "1.2.840.10008.1.2.4.201",
            "1.2.840.10008.1.2.4.202",
            "1.2.840.10008.1.2.4.203",
        ),
        "pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)",
    ),
    "1.2.840.10008.1.2.5": "numpy (pydicom's own RLE decoder) or pylibjpeg-rle",
}
#: pydicom plugin label -> what to install.
_PIP_NAMES = {
    "gdcm": "python-gdcm",
    "pylibjpeg": "pylibjpeg and its plugin",
    "pyjpegls": "pyjpegls",
}


@dataclass(frozen=True)
class DicomHeader:
    """What indexing needs from a DICOM file."""

    n_frames: int
    patient_id: str | None  # PatientID (0010,0020), stripped; None when absent or empty


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line, shortened to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def n_frames(ds: Any) -> int:
    """NumberOfFrames (1 when absent or not a number)."""
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def read_header(path: Path) -> DicomHeader | None:
    """The header's frame count and PatientID, read without the pixel data; None when the file
    cannot be read (decoding then rejects it with the reason)."""
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        patient = str(ds.get("PatientID", "") or "").strip() or None
        return DicomHeader(n_frames=n_frames(ds), patient_id=patient)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on damaged files
        log.debug("%s: DICOM header unreadable at indexing (%s)", path, one_line(exc))
        return None


def read_headers(paths: Sequence[Path], threads: int = 1) -> list[DicomHeader | None]:
    """:func:`read_header` of each path, in order, over ``threads`` threads."""
    if threads <= 1 or len(paths) < 2:
        return [read_header(p) for p in paths]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dicom-header") as pool:
        return list(pool.map(read_header, paths))


def _read(path: Path, header_only: bool = False) -> Any:
    """The dataset of ``path`` (read with ``force``, so files without the preamble work)."""
    import pydicom

    try:
        return pydicom.dcmread(path, stop_before_pixels=header_only, force=True)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on damaged files
        text = one_line(exc)
        kind = "truncated" if any(w in text.lower() for w in _TRUNCATION_WORDS) else "unreadable"
        raise DecodeError(f"{kind}: not a readable DICOM file ({text})") from exc


def _sop_class(ds: Any) -> str | None:
    """The name of the file's SOP class (e.g. 'RT Plan Storage'), or None."""
    meta = getattr(ds, "file_meta", None)
    for uid in (meta.get("MediaStorageSOPClassUID") if meta else None, ds.get("SOPClassUID")):
        if uid:
            return str(getattr(uid, "name", uid))
    return None


def check_pixels(ds: Any) -> None:
    """Raise when the dataset has no pixel data, or pixel data shorter than it declares."""
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        if "Rows" in ds and "Columns" in ds:
            raise DecodeError(
                "truncated: the image header (Rows, Columns) is not followed by pixel data; "
                "the file ends early"
            )
        sop = _sop_class(ds)
        if sop is None and getattr(ds, "preamble", None) is None:
            raise DecodeError("not an image: not a DICOM file (no preamble, no DICOM elements)")
        raise DecodeError(
            f"no pixel data: a DICOM {sop or 'object'} holds no image (structured reports, RT "
            "plans and DICOMDIR files have none)"
        )
    raw = ds.get_item(keyword)
    declared = getattr(raw, "length", _UNDEFINED_LENGTH)
    value = getattr(raw, "value", None)
    if declared != _UNDEFINED_LENGTH and isinstance(value, bytes) and len(value) < declared:
        raise DecodeError(f"truncated: pixel data ends after {len(value)} of its {declared} bytes")


def transfer_syntax(ds: Any) -> Any:
    """The dataset's transfer syntax; for a file without file meta, the encoding it was read
    with (implicit or explicit VR, little or big endian), which is then set in its file meta."""
    import pydicom.uid as uids
    from pydicom.dataset import FileMetaDataset

    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("TransferSyntaxUID"):
        return meta.TransferSyntaxUID
    implicit, little = getattr(ds, "original_encoding", (False, True))
    ts = (
        uids.ImplicitVRLittleEndian
        if implicit
        else uids.ExplicitVRLittleEndian
        if little is not False
        else uids.ExplicitVRBigEndian
    )
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    meta.TransferSyntaxUID = ts
    return ts


def _missing(decoder: Any) -> str:
    """pydicom's list of the decoders it could use if their packages were installed."""
    found = []
    for text in getattr(decoder, "missing_dependencies", []) or []:
        label = text.split(" ", 1)[0]
        found.append(f"{label} (pip install {_PIP_NAMES.get(label, label)})")
    return "; ".join(found)


def check_decodable(ts: Any) -> None:
    """Raise naming the transfer syntax and the package to install when pydicom's installed
    handlers cannot decode ``ts``."""
    from pydicom.pixels import get_decoder

    if not ts.is_transfer_syntax:
        raise DecodeError(
            f"cannot decode: transfer syntax {ts} is unknown to pydicom; convert the file to "
            "an uncompressed transfer syntax (e.g. gdcmconv --raw, dcmdjpeg)"
        )
    if not ts.is_compressed:
        return
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as exc:
        raise DecodeError(
            f"cannot decode: transfer syntax {ts.name} ({ts}) has no pydicom pixel-data "
            "decoder in any package; convert the file to an uncompressed transfer syntax "
            "(e.g. gdcmconv --raw)"
        ) from exc
    if not decoder.is_available:
        package = _DECODER_PACKAGES.get(str(ts)) or _missing(decoder) or "a pydicom plugin"
        raise DecodeError(f"cannot decode: transfer syntax {ts.name} ({ts}) needs {package}")


def _pixels(src: Any, index: int | None, ts: Any) -> np.ndarray:
    """Decoded pixels of ``src`` (a dataset or a path): frame ``index``, or all of a
    one-frame file. Errors become :class:`DecodeError` with the reason."""
    from pydicom.pixels import get_decoder, pixel_array

    try:
        return np.asarray(pixel_array(src, index=index))
    except RuntimeError as exc:  # every installed plugin failed on this data
        try:
            others = _missing(get_decoder(ts))
        except NotImplementedError:
            others = ""
        also = f"; pydicom could also try {others}" if others else ""
        raise DecodeError(
            f"cannot decode: {ts.name} ({ts}) pixel data failed in the installed decoders "
            f"({one_line(exc, 160)}){also}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - damaged data raises many kinds
        text = one_line(exc)
        kind = "truncated" if any(w in text.lower() for w in _TRUNCATION_WORDS) else "unreadable"
        raise DecodeError(f"{kind}: {text}") from exc


def read_frame(path: Path, frames: str, frame: int | None = None) -> tuple[Any, np.ndarray]:
    """The dataset and the decoded pixels of one image of ``path``.

    ``frame`` (0-based) reads only that frame of a multi-frame file (the header, then the
    frame's data). Otherwise the whole file is read; a multi-frame file then gives its middle
    frame (number of frames // 2) when ``frames`` is ``middle`` and is rejected otherwise.
    """
    if frame is not None:
        header = _read(path, header_only=True)
        count = n_frames(header)
        if frame >= count:
            raise DecodeError(
                f"frame out of range: frame {frame + 1} asked for, the file has {count} frame(s)"
            )
        meta = getattr(header, "file_meta", None)
        if meta is not None and meta.get("TransferSyntaxUID"):  # the file format: read one frame
            ts = transfer_syntax(header)
            check_decodable(ts)
            return header, _pixels(path, frame, ts)
        ds = _read(path)  # no file meta: pydicom reads the frame from the whole dataset
        check_pixels(ds)
        ts = transfer_syntax(ds)
        check_decodable(ts)
        return ds, _pixels(ds, frame, ts)
    ds = _read(path)
    check_pixels(ds)
    count = n_frames(ds)
    if count > 1 and frames != "middle":
        raise DecodeError(
            f"multi-frame: {count} frames; set data.dicom.frames to middle (the middle frame) "
            "or all (every frame an image) to use them"
        )
    ts = transfer_syntax(ds)
    check_decodable(ts)
    return ds, _pixels(ds, count // 2 if count > 1 else None, ts)


def decode_dicom(path: Path, spec: DecodeSpec, frame: int | None = None) -> Decoded:
    """Cache pixels of a DICOM file (or of its frame ``frame``, 0-based), as ``spec.dicom``
    says; raise :class:`DecodeError` with the reason when the file cannot be used."""
    ds, arr = read_frame(Path(path), spec.dicom.frames, frame)
    try:
        if is_colour(ds, arr):
            return decode_pil(Image.fromarray(colour_image(ds, arr)), spec)
        if arr.ndim != 2:
            raise DecodeError(f"unreadable: a frame of shape {arr.shape}, expected rows x columns")
        return decode_plane(grey_plane(ds, arr, spec.dicom.window), spec)
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - malformed LUTs and tags raise many kinds
        raise DecodeError(f"unreadable: DICOM pixel values unusable ({one_line(exc)})") from exc
