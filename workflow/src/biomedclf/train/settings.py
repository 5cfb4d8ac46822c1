"""The training settings every variant inherits from ``training:`` and may override.

:class:`TrainingSettings` is the one list of these keys: :mod:`biomedclf.config.specs` resolves a
variant with exactly its fields, and :mod:`biomedclf.train.loop` runs with them. Their defaults
and allowed values are the schema's alone (``workflow/schemas/config.schema.yaml``): the settings
are built from a validated config and have no defaults of their own. This module does not import
torch, so the workflow can read it when it plans jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TrainingSettings:
    """The resolved ``training`` part of a variant spec (values checked by the schema)."""

    epochs: int
    batch_size: int
    optimizer: str  # adam, adamw or sgd
    lr: float
    weight_decay: float
    momentum: float  # sgd only
    early_stopping: int | None  # patience in epochs, or None
    augment: bool
    device: str  # auto, cpu, cuda or mps (biomedclf.train.devices)
    amp: bool
    class_weights: str | None  # None or balanced
    label_smoothing: float
    scheduler: str  # constant, cosine or step (biomedclf.train.schedule)
    warmup_epochs: int  # linear warm-up epochs, fewer than epochs
    step_size: int  # scheduler step: epochs between two steps
    step_gamma: float  # scheduler step: factor per step
    freeze_epochs: int  # epochs that train the head only
    backbone_lr_factor: float | None  # lr factor of the layers outside the head, or None

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The setting names, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TrainingSettings:
        """The settings of a resolved variant spec (:func:`biomedclf.config.specs.resolve_variant`
        of a validated config); an unknown or a missing key raises ``ValueError`` naming
        ``variants.<name>.<key>``."""
        name, raw, allowed = spec["name"], dict(spec["training"]), cls.keys()
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ValueError(
                f"variants.{name}.{unknown[0]}: not a training setting; allowed: {sorted(allowed)}"
            )
        missing = [k for k in allowed if k not in raw]
        if missing:
            raise ValueError(
                f"variants.{name}.{missing[0]} (or training.{missing[0]}): missing; resolve the "
                "variant from a config validated by the schema, which fills every default "
                "(biomedclf.config.specs.resolve_variant)"
            )
        problem = combination_problem(raw)
        if problem:
            key, message = problem
            raise ValueError(f"variants.{name}.{key} (or training.{key}): {message}")
        return cls(**raw)


def combination_problem(training: dict[str, Any]) -> tuple[str, str] | None:
    """(key, what is wrong) when values the schema allows one by one do not go together
    (``training`` holds every setting), else None."""
    warmup, epochs = training["warmup_epochs"], training["epochs"]
    if warmup >= epochs:
        return "warmup_epochs", (
            f"{warmup} warm-up epochs leave none of the {epochs} epochs at the full learning "
            "rate; use warmup_epochs smaller than epochs"
        )
    return None
