"""The training settings every variant inherits from ``training:`` and may override.

:class:`TrainingSettings` is the one list of these keys: :mod:`biomedclf.config.specs` resolves a
variant with exactly its fields, and :mod:`biomedclf.train.loop` runs with them. Its defaults and
choices are the schema's (``workflow/schemas/config.schema.yaml``); a test fails when the two
disagree. This module does not import torch, so the workflow can read it when it plans jobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from biomedclf.train.devices import DEVICE_CHOICES

OPTIMIZERS = ("adam", "adamw", "sgd")
CLASS_WEIGHTS = (None, "balanced")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: key -> (test, what a valid value is)
_CHECKS = {
    "epochs": (lambda v: _is_int(v) and v >= 1, "must be a positive integer"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "must be a positive integer"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"must be one of {OPTIMIZERS}"),
    "lr": (lambda v: _is_number(v) and v > 0, "must be a positive number"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "must be a number >= 0"),
    "momentum": (lambda v: _is_number(v) and 0 <= v <= 1, "must be a number in [0, 1]"),
    "early_stopping": (
        lambda v: v is None or (_is_int(v) and v >= 1),
        "must be a patience in epochs (integer >= 1) or null",
    ),
    "augment": (lambda v: isinstance(v, bool), "must be true or false"),
    "device": (lambda v: v in DEVICE_CHOICES, f"must be one of {DEVICE_CHOICES}"),
    "amp": (lambda v: isinstance(v, bool), "must be true or false"),
    "class_weights": (lambda v: v in CLASS_WEIGHTS, f"must be one of {CLASS_WEIGHTS}"),
    "label_smoothing": (
        lambda v: _is_number(v) and 0 <= v < 1,
        "must be a number in [0, 1)",
    ),
}


@dataclass(frozen=True)
class TrainingSettings:
    """The resolved ``training`` part of a variant spec (defaults as in the config schema)."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1.0e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    early_stopping: int | None = None
    augment: bool = False
    device: str = "auto"
    amp: bool = True
    class_weights: str | None = None
    label_smoothing: float = 0.0

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The setting names, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TrainingSettings:
        """Validate ``spec["training"]``; errors name ``variants.<name>.<key>``."""
        name = spec.get("name", "<variant>")
        raw = dict(spec.get("training") or {})
        unknown = sorted(set(raw) - set(cls.keys()))
        if unknown:
            raise ValueError(
                f"variants.{name}.{unknown[0]}: not a training setting; "
                f"allowed: {sorted(cls.keys())}"
            )
        settings = cls(**raw)
        for key, (valid, what) in _CHECKS.items():
            value = getattr(settings, key)
            if not valid(value):
                raise ValueError(
                    f"variants.{name}.{key} (or training.{key}): {what}, got {value!r}"
                )
        return settings
