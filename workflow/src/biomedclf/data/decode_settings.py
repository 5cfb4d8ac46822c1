"""The settings that turn a file into cache pixels, kept with a trained model.

The prepare step decodes with them, the training job stores them in ``model.pt`` (key
``"data"``), and ``biomedclf predict`` decodes new images with the same ones, so a new image
reaches the model exactly as the training images did.
"""

from __future__ import annotations

from typing import Any

from .clinical import clinical_specs, resolve_clinical
from .decode import DecodeSpec

#: Keys of ``data:`` that decide the pixels of an image.
DECODE_KEYS = ("image_size", "channels", "interpolation", "resize", "dicom", "nifti")

#: Their defaults where the schema gives them (dicom and nifti: biomedclf.data.clinical).
DECODE_DEFAULTS: dict[str, Any] = {"interpolation": "bicubic", "resize": "pad", "channels": 1}


def decode_settings(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """The decoding part of a ``data:`` section, defaults filled in (plain JSON values)."""
    settings = {**DECODE_DEFAULTS, **{k: data_cfg[k] for k in DECODE_KEYS if k in data_cfg}}
    if "image_size" not in settings:
        raise ValueError("data.image_size: missing; the decoding settings need the image size")
    settings["dicom"], settings["nifti"] = resolve_clinical(data_cfg)
    return settings


def decode_spec(settings: dict[str, Any]) -> DecodeSpec:
    """The :class:`DecodeSpec` of decoding settings (a ``data:`` section or its decoding part);
    ``ValueError`` names the key at fault."""
    dicom, nifti = clinical_specs(settings)
    return DecodeSpec(
        image_size=int(settings["image_size"]),
        channels=int(settings.get("channels", 1)),
        interpolation=str(settings.get("interpolation", "bicubic")),
        resize=str(settings.get("resize", "pad")),
        dicom=dicom,
        nifti=nifti,
    )
