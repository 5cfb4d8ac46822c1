"""The settings that turn a file into cache pixels, kept with a trained model.

The prepare step decodes with them, the training job stores them in ``model.pt`` (key
``"data"``), and ``biomedclf predict`` decodes new images with the same ones, so a new image
reaches the model exactly as the training images did. They come from a ``data:`` section
validated by the schema, which fills their defaults; :func:`biomedclf.data.decode.decode_spec`
turns them into what decoding runs with. This module imports nothing else of the package, so
the training job that stores them runs no decoding code.
"""

from __future__ import annotations

import copy
from typing import Any

#: Keys of ``data:`` that decide the pixels of an image.
DECODE_KEYS = ("image_size", "channels", "interpolation", "resize", "dicom", "nifti")


def decode_settings(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """The decoding part of a validated ``data:`` section (plain JSON values); ``ValueError``
    names a key it lacks."""
    missing = [k for k in DECODE_KEYS if k not in data_cfg]
    if missing:
        raise ValueError(
            f"data.{missing[0]}: missing; the decoding settings need {', '.join(DECODE_KEYS)} "
            "(validate the config with biomedclf.config.schema, which fills the defaults)"
        )
    return {k: copy.deepcopy(data_cfg[k]) for k in DECODE_KEYS}
