"""Read NIfTI volumes (``.nii``, ``.nii.gz``) with nibabel as 2D images.

A 3-D volume gives one plane along ``data.nifti.axis`` (0, 1 or 2 of the stored voxel axes, as
nibabel's array indexes them; no reorientation): its ``middle`` slice (size // 2), the slice
of a given index, or the maximum intensity projection (``mip``, NaN ignored). A 2-D file
(shape X x Y, or X x Y x 1) is read as it is, whatever ``data.nifti.slice`` says. Trailing axes
of length 1 are dropped first; 4-D data (e.g. time series) is rejected. Intensities are the
file's scaled values (scl_slope, scl_inter), clipped to the percentiles ``data.nifti.clip`` of
the plane's finite values and mapped linearly to 0..255 (NaN gives 0).

The plane is shown as ``matplotlib.pyplot.imshow(plane.T, origin="lower")`` shows it: the first
remaining voxel axis runs left to right, the second bottom to top (``numpy.rot90(plane)``).
For a slice or a 2-D file only that plane is read from an uncompressed ``.nii``; ``mip`` and
``.nii.gz`` read the volume.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .decode import Decoded, DecodeError, DecodeSpec, decode_plane
from .intensity import percentile_range, scale_range

_TRUNCATION_WORDS = ("expected", "ended before", "truncat", "damaged", "eof")


def _gzip_ends_early(path: Path) -> bool:
    """True when ``path`` is a gzip stream that ends before its end marker."""
    import gzip

    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except EOFError:
        return True
    except (OSError, zlib.error):
        return False
    return False


def _load(path: Path) -> Any:
    """The nibabel image of ``path`` (header read; data on demand)."""
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    try:
        img = nib.load(str(path))
    except ImageFileError as exc:
        if path.name.lower().endswith(".gz") and _gzip_ends_early(path):
            raise DecodeError("truncated: the gzip stream ends before the NIfTI header") from exc
        raise DecodeError(f"not an image: not a NIfTI file ({_one_line(exc)})") from exc
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise DecodeError(_read_reason(exc)) from exc
    _check_size(path, img)
    return img


def _check_size(path: Path, img: Any) -> None:
    """Raise when an uncompressed file is shorter than its header's offset plus its data."""
    if not path.name.lower().endswith(".nii"):
        return  # compressed: a short stream shows when the data is read
    offset = getattr(img.dataobj, "offset", None)  # where the voxels start on disk
    if offset is None:
        return
    header = img.header
    needed = int(offset) + int(
        np.prod(header.get_data_shape(), dtype=np.int64) * header.get_data_dtype().itemsize
    )
    size = path.stat().st_size
    if size < needed:
        raise DecodeError(f"truncated: {size} bytes, the header declares {needed}")


def _one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line, shortened to ``limit`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_reason(exc: BaseException) -> str:
    """``truncated: ...`` or ``unreadable: ...`` for an error raised while reading."""
    text = _one_line(exc)
    truncated = isinstance(exc, EOFError) or any(w in text.lower() for w in _TRUNCATION_WORDS)
    return f"{'truncated' if truncated else 'unreadable'}: {text}"


def effective_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` without trailing axes of length 1 beyond the second (X x Y x 1 -> X x Y)."""
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def slice_index(spec_slice: str | int, axis: int, shape: tuple[int, ...]) -> int | None:
    """The slice to read along ``axis`` (None for ``mip``); raise when an index is outside."""
    size = shape[axis]
    if spec_slice == "mip":
        return None
    if spec_slice == "middle":
        return size // 2
    index = int(spec_slice)
    if index >= size:
        raise DecodeError(
            f"slice out of range: data.nifti.slice {index} along data.nifti.axis {axis}, but the "
            f"volume has shape {shape} (slices 0..{size - 1} along that axis)"
        )
    return index


def read_plane(path: Path, slice_: str | int, axis: int) -> np.ndarray:
    """The 2-D plane (float64, voxel axes as stored) that ``slice_`` and ``axis`` pick."""
    img = _load(path)
    if img.get_data_dtype().names is not None:
        raise DecodeError("unreadable: NIfTI colour (RGB) voxels are not supported")
    shape = effective_shape(tuple(int(d) for d in img.shape))
    if len(shape) < 2 or len(shape) > 3:
        raise DecodeError(
            f"unreadable: a {len(shape)}-D NIfTI image of shape {tuple(img.shape)}; expected a "
            "2-D image or a 3-D volume"
        )
    try:
        if len(shape) == 2:
            return np.asarray(img.dataobj, dtype=np.float64).reshape(shape)
        index = slice_index(slice_, axis, shape)
        if index is None:
            volume = np.asarray(img.dataobj, dtype=np.float64).reshape(shape)
            with np.errstate(invalid="ignore"):
                return np.fmax.reduce(volume, axis=axis)
        slicer: list[Any] = [slice(None)] * len(img.shape)
        slicer[axis] = index
        plane = np.asarray(img.dataobj[tuple(slicer)], dtype=np.float64)
        return plane.reshape([d for k, d in enumerate(shape) if k != axis])
    except DecodeError:
        raise
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise DecodeError(_read_reason(exc)) from exc


def display_plane(plane: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    """The 0..255 float image of a plane: clipped to its ``clip`` percentiles, scaled, and
    turned so that the second voxel axis runs bottom to top."""
    lo, hi = percentile_range(plane, *clip)
    return np.rot90(scale_range(plane, lo, hi))


def decode_nifti(path: Path, spec: DecodeSpec) -> Decoded:
    """Cache pixels of a NIfTI file, as ``spec.nifti`` says; raise :class:`DecodeError` with
    the reason when it cannot be used."""
    nifti = spec.nifti
    plane = read_plane(Path(path), nifti.slice, nifti.axis)
    return decode_plane(display_plane(plane, nifti.clip), spec)
