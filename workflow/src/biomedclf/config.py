"""Resolve the study config into the small, self-contained specs that single jobs receive.

A training job must depend only on its own variant (rerun rules in DESIGN.md), so the workflow
hands it the output of :func:`resolve_variant`, never the whole config.
"""

from __future__ import annotations

import copy
from typing import Any

#: Settings under ``training:`` that every variant inherits and may override.
TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "early_stopping",
    "augment",
    "device",
    "amp",
)

#: Keys of ``training:`` that describe the study rather than one training run.
STUDY_KEYS = ("seeds",)


class ConfigError(ValueError):
    """A config value is wrong; the message names the key and the fix."""


def resolve_variant(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the resolved spec of variant ``name``.

    The result has three parts: ``model`` (registry name), ``model_args`` (the variant's
    model settings, e.g. ``dropout``) and ``training`` (the ``training:`` defaults with the
    variant's overrides applied). Seeds are not part of it: each job gets its seed apart.
    """
    variants = config.get("variants") or {}
    if name not in variants:
        raise ConfigError(
            f"variants.{name}: no such variant; the config defines {sorted(variants)}"
        )
    variant = copy.deepcopy(variants[name])
    if "model" not in variant:
        raise ConfigError(f"variants.{name}.model: missing; name a model such as 'conv'")
    model = variant.pop("model")
    defaults = config.get("training") or {}
    training = {k: copy.deepcopy(defaults[k]) for k in TRAINING_KEYS if k in defaults}
    for key in TRAINING_KEYS:
        if key in variant:
            training[key] = variant.pop(key)
    for key in STUDY_KEYS:
        if key in variant:
            raise ConfigError(
                f"variants.{name}.{key}: '{key}' is a study setting; set it under training:"
            )
    return {"name": name, "model": model, "model_args": variant, "training": training}


def comparison_variants(config: dict[str, Any], name: str) -> list[str]:
    """Baseline first, then the compared variants, of comparison ``name``."""
    comp = config["comparisons"][name]
    return [comp["baseline"], *comp["variants"]]
