"""Intensity ranges of clinical images mapped to the 0..255 scale of the cache.

Shared by the DICOM and NIfTI readers. Every function returns a new float32 plane on the
0..255 scale (the offset is subtracted in float64 first, so large modality values keep their
precision; float32 then resolves 0..255 to about 1e-5, far below one grey level, and halves the
memory traffic of these full-resolution passes). Rounding to uint8 happens once, after resizing
(:func:`biomedclf.data.decode.decode_plane`). NaN takes 0; infinities are clipped like any
value beyond the range.
"""

from __future__ import annotations

import numpy as np


def finite_values(values: np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as a flat float64 array."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    return flat[np.isfinite(flat)]


def percentile_range(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """The ``low`` and ``high`` percentiles (0..100, numpy's linear method) of the finite
    values; (0, 0) when there are none."""
    finite = finite_values(values)
    if not finite.size:
        return 0.0, 0.0
    lo, hi = np.percentile(finite, [low, high])
    return float(lo), float(hi)


def full_range(values: np.ndarray) -> tuple[float, float]:
    """The minimum and maximum of the finite values; (0, 0) when there are none."""
    finite = finite_values(values)
    if not finite.size:
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def _finish(out: np.ndarray) -> np.ndarray:
    """Clip a float plane to 0..255 in place; NaN becomes 0 (infinities are clipped)."""
    np.clip(out, 0.0, 255.0, out=out)
    if not np.isfinite(out.sum(dtype=np.float64)):  # NaN outlives the clip; rare, so one check
        np.nan_to_num(out, copy=False, nan=0.0)
    return out


def _shifted(values: np.ndarray, offset: float) -> np.ndarray:
    """``values - offset``, computed in float64 and stored as a new float32 plane."""
    arr = np.asarray(values)
    out = np.empty(arr.shape, dtype=np.float32)
    np.subtract(arr, offset, out=out, dtype=np.float64, casting="same_kind")
    return out


def scale_range(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``lo``..``hi`` linearly to 0..255, clipping outside; a flat range (hi <= lo) gives 0
    everywhere."""
    if not hi > lo:
        return np.zeros(np.shape(values), dtype=np.float32)
    out = _shifted(values, lo)
    out *= np.float32(255.0 / (hi - lo))
    return _finish(out)


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """DICOM's LINEAR window (PS3.3 C.11.2.1.2.1) with output 0..255.

    Values at or below ``center - 0.5 - (width - 1) / 2`` give 0, values above
    ``center - 0.5 + (width - 1) / 2`` give 255, and in between
    ``((x - (center - 0.5)) / (width - 1) + 0.5) * 255``. Requires ``width >= 1``; width 1
    is a threshold at ``center - 0.5``. In-place arithmetic and a clip (the clip gives the two
    ends).
    """
    x = np.asarray(values)
    c, w = float(center) - 0.5, float(width) - 1.0
    if w <= 0:
        out = np.where(x > c, 255.0, 0.0).astype(np.float32)
        out[np.isnan(x)] = 0.0
        return out
    out = _shifted(x, c)
    out *= np.float32(255.0 / w)
    out += np.float32(127.5)
    return _finish(out)
