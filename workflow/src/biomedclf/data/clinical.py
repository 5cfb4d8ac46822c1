"""Settings of the clinical formats: ``data.dicom``, ``data.nifti`` and ``data.split.group``.

The defaults here equal the schema's (tests/test_data_prepare.py checks them). Each setting is
checked once, naming its key, and turned into a frozen spec that decoding carries
(:class:`DicomSpec`, :class:`NiftiSpec`, both part of
:class:`~biomedclf.data.decode.DecodeSpec`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Defaults of ``data.dicom``.
DICOM_DEFAULTS: dict[str, Any] = {"window": "auto", "frames": "reject"}
#: Defaults of ``data.nifti``.
NIFTI_DEFAULTS: dict[str, Any] = {"slice": "middle", "axis": 2, "clip": [0.5, 99.5]}
#: Values of ``data.split.group`` besides null.
SPLIT_GROUPS = ("patient_id",)
#: ``data.dicom.frames`` values.
FRAME_CHOICES = ("reject", "middle", "all")


@dataclass(frozen=True)
class DicomSpec:
    """How DICOM pixels become an 8-bit image (``data.dicom``).

    ``window``: ``"auto"`` (the file's VOI LUT or window, else a percentile range), ``"none"``
    (the full range of the rescaled values) or ``(center, width)`` in modality units.
    ``frames``: what a multi-frame file gives: ``"reject"``, ``"middle"`` or ``"all"``.
    """

    window: str | tuple[float, float] = "auto"
    frames: str = "reject"

    def __post_init__(self) -> None:
        window = self.window
        if isinstance(window, (list, tuple)):
            if len(window) != 2 or not all(_is_number(v) for v in window):
                raise ValueError(
                    f"data.dicom.window: {list(window)!r}; give [center, width] as two numbers "
                    "(e.g. [-600, 1500] for a CT lung window), auto or none"
                )
            if float(window[1]) < 1:
                raise ValueError(
                    f"data.dicom.window: width {window[1]!r} is below 1; DICOM's linear window "
                    "needs a width of at least 1 (in modality units, e.g. 1500 for a lung window)"
                )
            object.__setattr__(self, "window", (float(window[0]), float(window[1])))
        elif window not in ("auto", "none"):
            raise ValueError(f"data.dicom.window: {window!r}; use auto, none or [center, width]")
        if self.frames not in FRAME_CHOICES:
            raise ValueError(
                f"data.dicom.frames: {self.frames!r}; use one of {', '.join(FRAME_CHOICES)}"
            )


@dataclass(frozen=True)
class NiftiSpec:
    """How a NIfTI volume becomes a 2D 8-bit image (``data.nifti``).

    ``slice``: ``"middle"``, ``"mip"`` (maximum intensity projection) or a slice index along
    ``axis`` (0, 1 or 2 of the stored voxel axes); ``clip``: the percentiles (low, high) the
    intensities are clipped to before they are scaled to 0..255.
    """

    slice: str | int = "middle"
    axis: int = 2
    clip: tuple[float, float] = (0.5, 99.5)

    def __post_init__(self) -> None:
        chosen = self.slice
        if not (chosen in ("middle", "mip") or (_is_int(chosen) and int(chosen) >= 0)):
            raise ValueError(
                f"data.nifti.slice: {chosen!r}; use middle, mip or a slice index (0, 1, ...)"
            )
        if not _is_int(self.axis) or int(self.axis) not in (0, 1, 2):
            raise ValueError(f"data.nifti.axis: {self.axis!r}; use 0, 1 or 2")
        clip = self.clip
        if (
            not isinstance(clip, (list, tuple))
            or len(clip) != 2
            or not all(_is_number(v) and 0 <= float(v) <= 100 for v in clip)
            or float(clip[0]) >= float(clip[1])
        ):
            raise ValueError(
                f"data.nifti.clip: {clip!r}; give two percentiles [low, high] with "
                "0 <= low < high <= 100 (e.g. [0.5, 99.5])"
            )
        object.__setattr__(self, "clip", (float(clip[0]), float(clip[1])))


def _is_number(value: Any) -> bool:
    """True for an int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    """True for an int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def resolve_clinical(data_cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data.dicom`` and ``data.nifti`` with the defaults filled in (copies)."""
    dicom = {**DICOM_DEFAULTS, **(data_cfg.get("dicom") or {})}
    nifti = {**NIFTI_DEFAULTS, **(data_cfg.get("nifti") or {})}
    return dicom, nifti


def clinical_specs(cfg: dict[str, Any]) -> tuple[DicomSpec, NiftiSpec]:
    """The specs of a resolved ``data:`` section; raise ``ValueError`` naming the key at fault
    (``data.dicom.*``, ``data.nifti.*``, ``data.split.group``) and an unknown sub-key."""
    for key, defaults in (("dicom", DICOM_DEFAULTS), ("nifti", NIFTI_DEFAULTS)):
        unknown = sorted(set(cfg.get(key) or {}) - set(defaults))
        if unknown:
            raise ValueError(
                f"data.{key}.{unknown[0]}: unknown key; allowed under data.{key}: "
                f"{', '.join(defaults)}"
            )
    group = (cfg.get("split") or {}).get("group")
    if group is not None and group not in SPLIT_GROUPS:
        raise ValueError(
            f"data.split.group: {group!r}; use patient_id (DICOM PatientID) or leave it null"
        )
    dicom, nifti = resolve_clinical(cfg)
    window = dicom["window"]
    return (
        DicomSpec(
            window=tuple(window) if isinstance(window, list) else window, frames=dicom["frames"]
        ),
        NiftiSpec(slice=nifti["slice"], axis=nifti["axis"], clip=tuple(nifti["clip"])),
    )
