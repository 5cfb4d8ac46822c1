"""Settings of the clinical formats, ``data.dicom`` and ``data.nifti``, as frozen specs that
decoding carries (:class:`DicomSpec`, :class:`NiftiSpec`, both part of
:class:`~biomedclf.data.decode.DecodeSpec`).

The schema (``workflow/schemas/config.schema.yaml``) gives their defaults and allowed values;
the specs are built from a validated ``data:`` section (:func:`clinical_specs`) and check only
what the schema cannot say (a window width of at least 1, clip percentiles in increasing order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DicomSpec:
    """How DICOM pixels become an 8-bit image (``data.dicom``).

    ``window``: ``"auto"`` (the file's VOI LUT or window, else a percentile range), ``"none"``
    (the full range of the rescaled values) or ``(center, width)`` in modality units (a list
    is stored as a tuple of floats).
    ``frames``: what a multi-frame file gives: ``"reject"``, ``"middle"`` or ``"all"``.
    """

    window: str | tuple[float, float]
    frames: str

    def __post_init__(self) -> None:
        window = self.window
        if isinstance(window, (list, tuple)):
            if float(window[1]) < 1:
                raise ValueError(
                    f"data.dicom.window: width {window[1]!r} is below 1; DICOM's linear window "
                    "needs a width of at least 1 (in modality units, e.g. 1500 for a lung window)"
                )
            object.__setattr__(self, "window", (float(window[0]), float(window[1])))


@dataclass(frozen=True)
class NiftiSpec:
    """How a NIfTI volume becomes a 2D 8-bit image (``data.nifti``).

    ``slice``: ``"middle"``, ``"mip"`` (maximum intensity projection) or a slice index along
    ``axis`` (0, 1 or 2 of the stored voxel axes); ``clip``: the percentiles (low, high) the
    intensities are clipped to before they are scaled to 0..255.
    """

    slice: str | int
    axis: int
    clip: tuple[float, float]

    def __post_init__(self) -> None:
        low, high = (float(v) for v in self.clip)
        if low >= high:
            raise ValueError(
                f"data.nifti.clip: {list(self.clip)!r}; give two percentiles [low, high] with "
                "low < high (e.g. [0.5, 99.5])"
            )
        object.__setattr__(self, "clip", (low, high))


def clinical_specs(cfg: dict[str, Any]) -> tuple[DicomSpec, NiftiSpec]:
    """The specs of a validated ``data:`` section (or its decoding settings); ``ValueError``
    names the key at fault."""
    dicom, nifti = cfg["dicom"], cfg["nifti"]
    return (
        DicomSpec(window=dicom["window"], frames=dicom["frames"]),
        NiftiSpec(slice=nifti["slice"], axis=nifti["axis"], clip=tuple(nifti["clip"])),
    )
