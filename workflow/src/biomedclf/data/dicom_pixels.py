"""DICOM pixel values to what the cache stores: intensities, windowing and colour.

Grey images (MONOCHROME1/2, one sample per pixel), in the order DICOM's display pipeline uses:

1. the Modality LUT (:func:`pydicom.pixels.apply_modality_lut`: RescaleSlope and
   RescaleIntercept, or a Modality LUT Sequence), giving modality units (e.g. Hounsfield);
2. the window of ``data.dicom.window``:

   * ``auto``: the file's VOI LUT Sequence (:func:`pydicom.pixels.apply_voi`, output
     0..2^n-1 for its n-bit LUT), else its first WindowCenter/WindowWidth with its VOI LUT
     Function (LINEAR as PS3.3 C.11.2.1.2.1 defines it, LINEAR_EXACT and SIGMOID through
     :func:`pydicom.pixels.apply_windowing`, output over the range pydicom gives it), else the
     0.5th..99.5th percentiles of the image (also when the file's window tags are unusable);
   * ``[center, width]``: DICOM's LINEAR window in modality units
     (:func:`biomedclf.data.intensity.linear_window`);
   * ``none``: the image's minimum..maximum;

   each output range mapped linearly to 0..255;
3. MONOCHROME1 inverted (255 - v), so that bright means dense in every image.

Colour: RGB as it is (YBR is converted to RGB by pydicom when it decodes), PALETTE COLOR
through its palette (:func:`pydicom.pixels.apply_color_lut`); more than 8 bits are scaled by
their full range. The caller converts colour to ``data.channels`` as for any colour image.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .intensity import full_range, linear_window, percentile_range, scale_range

log = logging.getLogger(__name__)

#: Percentiles of the ``auto`` window when a file has no VOI LUT and no window.
AUTO_PERCENTILES = (0.5, 99.5)

_WINDOW_ERRORS = (ValueError, TypeError, AttributeError, IndexError, KeyError, NotImplementedError)


def photometric(ds: Any) -> str:
    """The file's PhotometricInterpretation, upper case (MONOCHROME2 when absent)."""
    return str(ds.get("PhotometricInterpretation", "") or "MONOCHROME2").strip().upper()


def _to_uint8_rgb(rgb: np.ndarray, bits: int) -> np.ndarray:
    """An H x W x 3 array of ``bits``-bit colour as 8-bit RGB (full range scaled)."""
    if rgb.dtype == np.uint8 and bits <= 8:
        return np.ascontiguousarray(rgb)
    scaled = rgb.astype(np.float64) * (255.0 / float(2**bits - 1))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def colour_image(ds: Any, arr: np.ndarray) -> np.ndarray:
    """8-bit RGB (H x W x 3) of a colour frame: RGB kept, PALETTE COLOR through its palette."""
    from pydicom.pixels import apply_color_lut

    if photometric(ds) == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        return _to_uint8_rgb(rgb, 16 if rgb.dtype == np.uint16 else 8)
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
    return _to_uint8_rgb(arr, bits)


def _voi_lut(values: np.ndarray, ds: Any) -> np.ndarray:
    """The file's first VOI LUT, mapped from its 0..2^n-1 output to 0..255.

    Inputs are rounded to whole numbers and clipped to the LUT's input range first (values
    outside map to its first or last entry, PS3.3 C.11.2.1.1); pydicom would otherwise wrap
    indices beyond 255 for an 8-bit LUT.
    """
    from pydicom.pixels import apply_voi

    entries, first, bits = (int(v) for v in ds.VOILUTSequence[0].LUTDescriptor)
    entries = entries or 2**16
    ints = np.clip(np.rint(np.asarray(values, dtype=np.float64)), first, first + entries - 1)
    return scale_range(apply_voi(ints.astype(np.int64), ds, 0), 0.0, float(2**bits - 1))


def _first(value: Any) -> float:
    """The first of a multi-valued DICOM number (WindowCenter 40\\400 -> 40.0)."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        value = value[0]
    return float(value)


def _file_window(values: np.ndarray, ds: Any) -> np.ndarray:
    """The file's first WindowCenter/WindowWidth, mapped to 0..255.

    The LINEAR function (the default) is computed in one vectorised pass
    (:func:`~biomedclf.data.intensity.linear_window`, the same values as
    :func:`pydicom.pixels.apply_windowing` gives, which tests/test_data_dicom.py checks; about
    five times faster on a 512 x 512 slice); LINEAR_EXACT and SIGMOID go through pydicom.
    """
    from pydicom.pixels import apply_windowing

    function = str(ds.get("VOILUTFunction", "") or "LINEAR").strip().upper()
    if function == "LINEAR" and not ds.get("ModalityLUTSequence"):
        center, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        if not width >= 1:
            raise ValueError(f"WindowWidth {width} below 1 for a LINEAR window")
        return linear_window(values, center, width)
    out = apply_windowing(values, ds, 0)  # a float64 copy of its own
    # pydicom's output range for this file: what it gives far below and far above the window
    # (the second is lower when a negative RescaleSlope turned pydicom's range around)
    below, above = apply_windowing(np.array([-np.inf, np.inf]), ds, 0)
    if above < below:
        return scale_range(-out, -below, -above)
    return scale_range(out, below, above)


def auto_window(values: np.ndarray, ds: Any) -> tuple[np.ndarray, str]:
    """``auto``: the VOI LUT, else the window tags, else the percentile range; says which."""
    try:
        if ds.get("VOILUTSequence"):
            return _voi_lut(values, ds), "voi_lut"
        if "WindowCenter" in ds and "WindowWidth" in ds:
            return _file_window(values, ds), "window"
    except _WINDOW_ERRORS as exc:  # unusable tags: fall back, as if they were absent
        log.debug("VOI LUT / window tags unusable (%s); percentile range used", exc)
    lo, hi = percentile_range(values, *AUTO_PERCENTILES)
    return scale_range(values, lo, hi), "percentile"


def grey_plane(ds: Any, arr: np.ndarray, window: str | tuple[float, float]) -> np.ndarray:
    """The 0..255 float plane of a grey frame: Modality LUT, window, MONOCHROME1 inverted."""
    from pydicom.pixels import apply_modality_lut

    values = np.asarray(apply_modality_lut(arr, ds))
    if isinstance(window, tuple):
        plane = linear_window(values, *window)
    elif window == "none":
        plane = scale_range(values, *full_range(values))
    else:
        plane = auto_window(values, ds)[0]
    if photometric(ds) == "MONOCHROME1":
        plane = 255.0 - plane
    return plane


def is_colour(ds: Any, arr: np.ndarray) -> bool:
    """True for a colour frame (three samples per pixel, or a palette)."""
    return (
        photometric(ds) == "PALETTE COLOR"
        or int(ds.get("SamplesPerPixel") or 1) == 3
        or (arr.ndim == 3 and arr.shape[-1] == 3)
    )
