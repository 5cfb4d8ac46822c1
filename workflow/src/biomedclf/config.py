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


#: Top-level sets that a user's config file replaces whole instead of merging into the defaults.
REPLACED_SETS = ("variants", "comparisons")


def replace_sets(config: dict[str, Any], user_configs: list[dict[str, Any]]) -> dict[str, Any]:
    """Let a user's config file replace the default ``variants`` and ``comparisons``.

    Snakemake merges ``--configfile`` files into the workflow's ``config.yaml`` key by key, so
    a study that lists two variants would silently inherit the six default ones too. For the
    named sets the last user file that defines one wins outright.
    """
    for user in user_configs:
        for key in REPLACED_SETS:
            if isinstance(user, dict) and key in user:
                config[key] = copy.deepcopy(user[key])
    return config


def check_references(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` when a comparison names a variant that does not exist."""
    variants = set(config.get("variants") or {})
    for comp, spec in (config.get("comparisons") or {}).items():
        names = [("baseline", spec["baseline"])] + [
            (f"variants[{i}]", v) for i, v in enumerate(spec["variants"])
        ]
        for key, name in names:
            if name not in variants:
                raise ConfigError(
                    f"comparisons.{comp}.{key}: unknown variant '{name}'; "
                    f"defined variants are {sorted(variants)}"
                )
        if spec["baseline"] in spec["variants"]:
            raise ConfigError(
                f"comparisons.{comp}: the baseline '{spec['baseline']}' is also listed "
                "under variants; compare it with other variants"
            )


def data_spec(config: dict[str, Any], synthetic_root: str | None = None) -> dict[str, Any]:
    """The ``data:`` section a prepare job runs with.

    A synthetic source is generated into ``synthetic_root`` first and then read like any
    class-folder dataset, so the real ingestion path runs every time.
    """
    data = copy.deepcopy(config["data"])
    data.pop("synthetic", None)
    if data["source"] == "synthetic":
        from biomedclf.data.synthetic import GROUP_PATTERN

        data["source"] = "folder"
        data["path"] = synthetic_root
        # Images of one synthetic patient share anatomy: keep each patient in one split.
        if not data["split"].get("group_pattern"):
            data["split"]["group_pattern"] = GROUP_PATTERN
    elif not data.get("path"):
        raise ConfigError(
            f"data.path: required for data.source '{data['source']}'; set it to your "
            "folder, CSV manifest or .npz file"
        )
    return data


def load_yaml_files(paths: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    """Read YAML (or JSON) config files, naming the file that does not parse."""
    import yaml

    loaded = []
    for path in paths or ():
        try:
            with open(path) as fh:
                loaded.append(yaml.safe_load(fh) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return loaded
