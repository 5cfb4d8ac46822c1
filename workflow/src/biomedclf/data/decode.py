"""Decode image files (or arrays) into the cache's uint8 C x H x W pixels.

One function (:func:`decode_file`) turns one file into the pixels the model will see. For PNG,
JPEG, TIFF and BMP, Pillow decodes it, the mode is converted to the requested channel count
(16-bit images scaled by their full 16-bit range, not clipped; alpha composited over black),
and Pillow resizes it to a square ``image_size`` (bicubic with antialiasing by default, the
same as ``torchvision.transforms.Resize(antialias=True)`` on a PIL image). DICOM files go to
:mod:`biomedclf.data.dicom` and NIfTI volumes to :mod:`biomedclf.data.nifti`, which hand back a
grey plane of 0..255 floats (:func:`decode_plane`: resized as a float image, rounded once) or
an 8-bit RGB image. A file that cannot be used raises :class:`DecodeError` whose ``reason`` is
the short text that goes to ``rejected.csv``.

:func:`decode_many` runs that over a thread pool: Pillow releases the GIL while it decodes and
resamples, and hashlib while it hashes, so threads scale without the pickling cost of processes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from .clinical import DicomSpec, NiftiSpec, clinical_specs
from .decode_settings import decode_settings
from .sources.common import IMAGE_SUFFIXES as IMAGE_SUFFIXES  # re-exported
from .sources.formats import file_kind

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``data.interpolation`` -> Pillow filter. Pillow's bilinear and bicubic resampling widen the
#: kernel when shrinking, i.e. they antialias.
RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


class DecodeError(Exception):
    """A file cannot be used; ``reason`` is the short text written to ``rejected.csv``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecodeSpec:
    """What every decoded image is turned into: the decoding settings of a validated ``data:``
    section (:func:`biomedclf.data.decode_settings.decode_spec`; the schema gives their
    defaults and allowed values)."""

    image_size: int
    channels: int  # data.channels: 1 or 3
    interpolation: str  # data.interpolation: a key of RESAMPLE
    resize: str  # data.resize: pad | crop | squash (non-square images)
    dicom: DicomSpec  # data.dicom: window, frames
    nifti: NiftiSpec  # data.nifti: slice, axis, clip


def decode_spec(settings: dict[str, Any]) -> DecodeSpec:
    """The :class:`DecodeSpec` of decoding settings (a validated ``data:`` section or its
    decoding part, :func:`biomedclf.data.decode_settings.decode_settings`); ``ValueError``
    names the key at fault."""
    settings = decode_settings(settings)
    dicom, nifti = clinical_specs(settings)
    return DecodeSpec(
        image_size=int(settings["image_size"]),
        channels=int(settings["channels"]),
        interpolation=str(settings["interpolation"]),
        resize=str(settings["resize"]),
        dicom=dicom,
        nifti=nifti,
    )


@dataclass(frozen=True)
class Decoded:
    """Pixels of one image as the cache stores them, and their sha256."""

    pixels: np.ndarray  # uint8, C x H x W, contiguous
    sha256: str
    square: bool = True  # whether the source image was square (data.resize had no effect)


class Row(NamedTuple):
    """What :func:`decode_into` returns for an image written into its buffer row."""

    sha256: str
    square: bool


def pixel_sha256(pixels: np.ndarray) -> str:
    """sha256 of the cached pixels (uint8 C x H x W bytes); equal images, equal digests."""
    return hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def _float_image(arr: np.ndarray) -> Image.Image:
    """A Pillow float (mode F) image of ``arr``."""
    return Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32))


def _to_working_image(img: Image.Image) -> Image.Image:
    """Return the image in mode L, F (values 0..255) or RGB.

    16-bit images become a float image scaled by the full 16-bit range (65535 -> 255), so no
    precision is lost before resizing. Alpha is composited over black.
    """
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:
        arr = np.asarray(img).astype(np.float32)
        return _float_image(arr * (255.0 / 65535.0))
    if mode == "I":
        # 32-bit integer mode: what Pillow gives for some 16-bit PNG/TIFF files. Values within
        # 0..65535 are read as 16-bit; anything else is stretched over its own range.
        arr = np.asarray(img).astype(np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0 and hi <= 65535:
            return _float_image(arr * (255.0 / 65535.0))
        return _float_image((arr - lo) * (255.0 / max(hi - lo, 1e-12)))
    if mode == "F":
        arr = np.asarray(img).astype(np.float64)
        if not np.isfinite(arr).all():
            raise DecodeError("unreadable: float image holds NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo >= 0 and hi <= 1:
            return _float_image(arr * 255.0)
        return _float_image((arr - lo) * (255.0 / max(hi - lo, 1e-12)))
    if mode == "L":
        return img
    if mode == "1":
        return img.convert("L")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, img).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX
    return img


def _square(img: Image.Image, spec: DecodeSpec) -> Image.Image:
    """``img`` at ``image_size`` x ``image_size``: squashed, or scaled to fit and padded with
    black (``pad``), or scaled to fill and cut to its centre (``crop``)."""
    size = spec.image_size
    resample = RESAMPLE[spec.interpolation]
    w, h = img.size
    if w == h or spec.resize == "squash":
        return img if img.size == (size, size) else img.resize((size, size), resample)
    scale = size / max(w, h) if spec.resize == "pad" else size / min(w, h)
    inner = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = img.resize(inner, resample)
    if spec.resize == "crop":
        left, top = (inner[0] - size) // 2, (inner[1] - size) // 2
        return img.crop((left, top, left + size, top + size))
    canvas = Image.new(img.mode, (size, size), 0)
    canvas.paste(img, ((size - inner[0]) // 2, (size - inner[1]) // 2))
    return canvas


def _to_pixels(img: Image.Image, spec: DecodeSpec) -> np.ndarray:
    """Resize a working image (L, F or RGB) and return it as uint8 C x H x W."""
    if img.mode == "RGB" and spec.channels == 1:
        img = img.convert("L")  # ITU-R 601-2 luma, as torchvision's Grayscale
    arr = np.asarray(_square(img, spec))
    if arr.dtype != np.uint8:  # float plane from a 16-bit or float image
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[None]
        if spec.channels == 3:
            arr = np.repeat(arr, 3, axis=0)
    else:
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def decode_pil(img: Image.Image, spec: DecodeSpec) -> Decoded:
    """Convert a loaded Pillow image to cache pixels."""
    pixels = _to_pixels(_to_working_image(img), spec)
    return Decoded(pixels=pixels, sha256=pixel_sha256(pixels), square=img.width == img.height)


def decode_plane(plane: np.ndarray, spec: DecodeSpec) -> Decoded:
    """Cache pixels of a grey H x W plane of floats on the 0..255 scale (DICOM, NIfTI).

    A plane of the target size is rounded as it is; any other is resized as a Pillow float
    (float32) image and then rounded, so it is quantised once, after resizing.
    """
    plane = np.asarray(plane)
    if plane.dtype not in (np.float32, np.float64):
        plane = plane.astype(np.float64)
    size = spec.image_size
    if plane.shape == (size, size):
        arr = np.clip(np.rint(plane), 0, 255).astype(np.uint8)[None]
        if spec.channels == 3:
            arr = np.repeat(arr, 3, axis=0)
        pixels = np.ascontiguousarray(arr)
    else:
        pixels = _to_pixels(_float_image(plane), spec)
    square = plane.shape[0] == plane.shape[1]
    return Decoded(pixels=pixels, sha256=pixel_sha256(pixels), square=square)


def decode_array(arr: np.ndarray, spec: DecodeSpec) -> Decoded:
    """Convert an H x W or H x W x C array (uint8 or uint16, e.g. from an .npz) to cache pixels."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == np.uint16:
        if arr.ndim != 2:
            raise DecodeError("unreadable: 16-bit colour arrays are not supported")
        return decode_pil(Image.fromarray(np.ascontiguousarray(arr)), spec)
    if arr.dtype != np.uint8:
        raise DecodeError(f"unreadable: array dtype {arr.dtype}, expected uint8 or uint16")
    if arr.ndim == 2 or arr.ndim == 3 and arr.shape[2] in (3, 4):
        img = Image.fromarray(np.ascontiguousarray(arr))
    else:
        raise DecodeError(f"unreadable: array of shape {arr.shape}, expected H x W [x 1|3|4]")
    return decode_pil(img, spec)


def decode_file(path: Path, spec: DecodeSpec, frame: int | None = None) -> Decoded:
    """Decode one image file to cache pixels, or raise :class:`DecodeError` saying why not.

    DICOM (by suffix or preamble) and NIfTI files are read by their own modules; ``frame``
    (0-based) picks a frame of a multi-frame DICOM file. Anything else goes to Pillow.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DecodeError(f"unreadable: {exc.strerror or exc}") from exc
    if size == 0:
        raise DecodeError("zero bytes")
    kind = file_kind(path)
    if kind == "dicom":
        from .dicom import decode_dicom  # pydicom loads only when a DICOM file is read

        return decode_dicom(path, spec, frame)
    if kind == "nifti":
        from .nifti import decode_nifti  # likewise nibabel

        return decode_nifti(path, spec)
    return _decode_with_pillow(path, spec)


def _decode_with_pillow(path: Path, spec: DecodeSpec) -> Decoded:
    """Decode a PNG, JPEG, TIFF, BMP (or anything Pillow reads) to cache pixels."""
    try:
        # (No warnings.catch_warnings here: it is not thread-safe. Pillow itself raises
        # DecompressionBombError above twice its MAX_IMAGE_PIXELS.)
        with Image.open(path) as img:
            img.load()
            return decode_pil(img, spec)
    except DecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise DecodeError("not an image: Pillow cannot identify the file format") from exc
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"unreadable: too many pixels ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        text = str(exc)
        if "truncated" in text.lower() or isinstance(exc, EOFError):
            raise DecodeError(f"truncated: {text or 'file ends early'}") from exc
        raise DecodeError(f"unreadable: {text or type(exc).__name__}") from exc


#: Bytes of the block :func:`reuse_freed_memory` allocates and frees (below glibc's 32 MB cap).
_RELEASE_BLOCK = 16 << 20


def reuse_freed_memory() -> None:
    """Let the large per-image temporaries of decoding reuse freed memory instead of new pages.

    glibc serves every allocation above its mmap threshold (128 KB at start) with fresh pages
    and returns them on free, so the float planes of a 512 x 512 DICOM slice (2 MB each) cost
    about 1,300 page faults per image, more than half of its decoding time. glibc raises the
    threshold to the size of the largest such block freed (up to 32 MB): after one block of
    16 MB is freed, those planes come from the heap and are reused. Elsewhere (another C
    library) this only allocates and frees 16 MB once.
    """
    block = np.empty(_RELEASE_BLOCK, dtype=np.uint8)
    del block


def decode_many(
    items: Sequence[T],
    spec: DecodeSpec,
    threads: int = 1,
    decode: Callable[[T, DecodeSpec], Decoded] = decode_file,  # type: ignore[assignment]
) -> list[Decoded | DecodeError]:
    """Decode ``items`` (file paths by default) in order over ``threads`` threads.

    Failures are returned in place as :class:`DecodeError`, not raised, so one bad file costs
    one row in ``rejected.csv`` and nothing else.
    """

    def one(item: T) -> Decoded | DecodeError:
        try:
            return decode(item, spec)
        except DecodeError as exc:
            return exc

    reuse_freed_memory()

    if threads <= 1 or len(items) < 2:
        return [one(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode") as pool:
        return list(pool.map(one, items))


def decode_into(
    items: Sequence[T],
    spec: DecodeSpec,
    out: np.ndarray,
    threads: int = 1,
    decode: Callable[[T, DecodeSpec], Decoded] = decode_file,  # type: ignore[assignment]
) -> list[Row | DecodeError]:
    """Decode ``items`` into the rows of ``out`` (uint8, len(items) x C x H x W).

    Item ``i`` lands in ``out[i]`` (each thread writes only its own rows) and its entry in the
    result is a :class:`Row` (the pixels' sha256, whether the source was square); a failure
    leaves its row untouched and is returned in place as :class:`DecodeError`. Only one image
    per thread is held besides ``out``, so memory grows by the cache's own size and no more.
    """
    expected = (len(items), spec.channels, spec.image_size, spec.image_size)
    if out.dtype != np.uint8 or out.shape != expected:
        raise ValueError(f"decode buffer: need uint8 {expected}, got {out.dtype} {out.shape}")
    reuse_freed_memory()

    def one(i: int) -> Row | DecodeError:
        try:
            decoded = decode(items[i], spec)
        except DecodeError as exc:
            return exc
        out[i] = decoded.pixels
        return Row(decoded.sha256, decoded.square)

    if threads <= 1 or len(items) < 2:
        return [one(i) for i in range(len(items))]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode") as pool:
        return list(pool.map(one, range(len(items))))
