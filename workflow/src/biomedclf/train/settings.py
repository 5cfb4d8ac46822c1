"""The training settings every variant inherits from ``training:`` and may override.

:class:`TrainingSettings` is the one list of these keys: :mod:`biomedclf.config.specs` resolves a
variant with exactly its fields, and :mod:`biomedclf.train.loop` runs with them. Their defaults
and allowed values are the schema's alone (``workflow/schemas/config.schema.yaml``): the settings
are built from a validated config and have no defaults of their own. This module does not import
torch, so the workflow can read it when it plans jobs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

#: The environment variable in which the workflow (``common.smk``) hands training jobs
#: ``training.device_cache``. Not a field of :class:`TrainingSettings` and not in any job's
#: params: where the split sits changes no number (:mod:`biomedclf.train.batches`), so changing
#: it reruns nothing. A job started without it (the library used alone) works as ``auto``.
DEVICE_CACHE_ENV = "BIOMEDCLF_DEVICE_CACHE"

#: ``training.device_cache``: ``auto`` or a size in MB, GB (10^6, 10^9 bytes), MiB or GiB.
DEVICE_CACHE_SIZE = r"^[0-9]+(\.[0-9]+)?\s*(MB|GB|MiB|GiB)$"
_UNITS = {"MB": 10**6, "GB": 10**9, "MiB": 2**20, "GiB": 2**30}


def device_cache_bytes(value: str) -> int | None:
    """``training.device_cache`` in bytes (``"2GB"`` -> 2_000_000_000), or None for ``auto``;
    ``ValueError`` naming the key and the spellings for anything else."""
    text = str(value).strip()
    if text == "auto":
        return None
    if not re.match(DEVICE_CACHE_SIZE, text):
        raise ValueError(
            f"training.device_cache: {value!r} is not auto or a size; write e.g. 2GB, 512MB, "
            "1.5GiB or 0GB (0GB: always stream batches from host memory)"
        )
    number, unit = re.match(r"([0-9.]+)\s*(\w+)", text).groups()  # type: ignore[union-attr]
    return int(float(number) * _UNITS[unit])


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
    compile: bool  # torch.compile the model (biomedclf.train.speedups.compile_model)
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
