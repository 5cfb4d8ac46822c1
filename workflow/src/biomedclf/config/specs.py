"""Resolve the study config into the small, self-contained specs that single jobs receive.

:func:`prepare_config` is what the Snakefile calls: it lets a user's file replace the default
variants and comparisons, validates the config against the schema (filling its defaults),
checks the cross-references and makes the config canonical, so a config rewritten with the same
meaning (keys in another order, ``1e-3`` for ``0.001``, ``0`` for ``0.0``, flow or block style,
comments) gives every job the same parameters and reruns nothing.

A training job must depend only on its own variant (docs/architecture.md, "What reruns a job"),
so the workflow hands it the output of :func:`resolve_variant`, never the whole config. Every
function but :func:`prepare_config` and :func:`merge_sets` reads a config the schema has
validated, so every key it reads is there (the schema is the only place for defaults).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.config.sweeps import selected_name
from biomedclf.errors import ConfigError
from biomedclf.train.settings import TrainingSettings, combination_problem

__all__ = [
    "ConfigError",
    "canonical",
    "check_models",
    "check_references",
    "comparison_variants",
    "data_spec",
    "load_yaml_files",
    "prepare_config",
    "merge_sets",
    "resolve_variant",
]

#: Settings under ``training:`` that every variant inherits and may override.
TRAINING_KEYS = TrainingSettings.keys()

#: Top-level sets whose entries a user's config file adds to the defaults (an entry of the same
#: name replaces the default entry whole); ``replace_defaults: [variants]`` replaces a set.
SETS = ("variants", "comparisons", "sweeps")

#: What an inherited claim says of itself when the study is not the default one.
INHERITED_CLAIM = "(from the default study in config.yaml, not written for this study) "

#: Keys that say how and where a study runs, not what it is: a user file setting only these
#: (say, tracking on) runs the default study itself, whose claims stay as written.
HOW_IT_RUNS = frozenset({"tracking", "resources", "results_dir", "weights_cache"})
#: The same inside sections: where the images sit on the device (``training.device_cache``)
#: and how many jobs decode them (``data.shards``); neither changes a number of the study.
HOW_IT_RUNS_IN = {"training": frozenset({"device_cache"}), "data": frozenset({"shards"})}


def changes_the_study(user: dict[str, Any]) -> bool:
    """Whether a user config file sets a key outside :data:`HOW_IT_RUNS` (and
    :data:`HOW_IT_RUNS_IN` inside its sections)."""
    keys = set(user) - HOW_IT_RUNS
    for section, how in HOW_IT_RUNS_IN.items():
        if isinstance(user.get(section), dict) and set(user[section]) <= how:
            keys.discard(section)
    return bool(keys)


def canonical(value: Any) -> Any:
    """``value`` in one spelling per meaning: mappings with their keys sorted, tuples as lists,
    whole floats as ints (``0.0`` -> ``0``). Job parameters compare by their text, so two
    configs that mean the same must give the same parameters."""
    if isinstance(value, dict):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"config value {value!r} ({type(value).__name__}) is not plain YAML data")


def prepare_config(
    config: dict[str, Any],
    user_files: Sequence[str | Path],
    schema_path: Path | str,
    default_file: Path | str = "config.yaml",
) -> dict[str, Any]:
    """Merge the variant and comparison sets, validate with defaults, check references,
    canonicalise.

    ``config`` is Snakemake's merged config, updated in place (and returned); ``user_files``
    the ``--configfile`` files, ``default_file`` the workflow's own config. Raises
    :class:`ConfigError` naming each key at fault.
    """
    from biomedclf.config.schema import load_schema, validate_config

    if user_files:
        merge_sets(config, load_yaml_files([default_file])[0], load_yaml_files(user_files))
    validate_config(config, load_schema(schema_path))
    check_references(config)
    check_models(config)
    for name in config["variants"]:  # settings that do not go together stop the workflow here
        resolve_variant(config, name)
    check_task(config)
    result = canonical(config)
    for key in (("training", "seeds"), ("replace_defaults",)):  # sets written as lists
        holder = result
        for part in key[:-1]:
            holder = holder[part]
        holder[key[-1]] = sorted(holder[key[-1]])
    config.clear()
    config.update(result)
    return config


def resolve_variant(
    config: dict[str, Any], name: str, defined: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return the resolved spec of variant ``name`` of a validated config.

    ``defined`` holds the variant definitions to look ``name`` up in (default: the config's
    ``variants``; the workflow adds the sweeps' points,
    :func:`biomedclf.config.sweeps.point_definitions`).

    The result has four parts: ``name``, ``model`` (registry name), ``model_args`` (the
    variant's model settings, e.g. ``dropout``) and ``training`` (every setting of
    ``training:`` but the study's seeds, with the variant's overrides applied). Seeds are not
    part of it: each job gets its seed apart.
    """
    variants = config["variants"] if defined is None else defined
    if name not in variants:
        raise ConfigError(
            f"variants.{name}: no such variant; the config defines {sorted(variants)}"
        )
    variant = copy.deepcopy(variants[name])
    model = variant.pop("model")
    training = {k: copy.deepcopy(config["training"][k]) for k in TRAINING_KEYS}
    overridden = [key for key in TRAINING_KEYS if key in variant]
    for key in overridden:
        training[key] = variant.pop(key)
    problem = combination_problem(training)
    if problem:
        key, message = problem
        where = f"variants.{name}.{key}" if key in overridden else f"training.{key}"
        raise ConfigError(f"{where} (variant {name}): {message}")
    spec = {"name": name, "model": model, "model_args": variant, "training": training}
    return canonical(spec)


def check_models(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming ``variants.<v>.model`` and the closest names when a
    ``torchvision/<name>`` or ``timm/<name>`` is not a model of that library, or the model
    and its fix when it does not run on ``data.image_size`` (torch is imported only when a
    variant names one)."""
    data = config["data"]
    for name, variant in config["variants"].items():
        if "/" in variant["model"]:  # the schema allows "/" in backbone names only
            from biomedclf.train.backbones import check_name
            from biomedclf.train.input_sizes import check_input_size

            key = f"variants.{name}.model"
            try:
                check_name(variant["model"], key)
                check_input_size(variant["model"], data["image_size"], data["channels"], key)
            except (ValueError, ImportError) as err:
                raise ConfigError(str(err)) from None


def check_task(config: dict[str, Any]) -> None:
    """Refuse settings a multi-label study (``data.task: multilabel``) cannot use."""
    data = config["data"]
    if data["task"] != "multilabel":
        return
    where = "data.task is multilabel"
    if data["source"] == "folder":
        raise ConfigError(
            f"data.source: folder holds one class per image (its folder), but {where}; use a "
            "manifest (a joined label column or one column per label) or a multi-label .npz"
        )
    for key, bad, fix in (
        ("ordinal", data["ordinal"], "set data.ordinal: false"),
        ("positive_class", data["positive_class"] is not None, "remove data.positive_class"),
    ):
        if bad:
            raise ConfigError(f"data.{key}: single-label only, but {where}; {fix}")
    if config["sweeps"]:
        raise ConfigError(
            f"sweeps: choosing a sweep's point for a multi-label study is not built yet "
            f"({where}); train the points as variants and compare them instead"
        )
    for name in config["variants"]:
        smoothing = resolve_variant(config, name)["training"]["label_smoothing"]
        if smoothing:
            raise ConfigError(
                f"training.label_smoothing (variant {name}): {smoothing}, but {where}; label "
                "smoothing is defined for one class per image, set it to 0"
            )


def comparison_variants(config: dict[str, Any], name: str) -> list[str]:
    """Baseline first, then the compared variants, of comparison ``name``."""
    comp = config["comparisons"][name]
    return [comp["baseline"], *comp["variants"]]


def merge_sets(
    config: dict[str, Any], defaults: dict[str, Any], user_configs: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``variants`` and ``comparisons`` of a study with user config files.

    Snakemake merges ``--configfile`` files into the defaults key by key, so a redefined
    variant would keep keys of the default one. Here a user file's entries are added to the
    default set and an entry of the same name replaces the default entry whole; a file that
    lists a set under ``replace_defaults`` replaces the whole set. Claims of default
    comparisons that no user file restates are marked as inherited (:data:`INHERITED_CLAIM`)
    when a user file changes the study (sets a key outside :data:`HOW_IT_RUNS`).
    """
    merged = {key: copy.deepcopy(defaults.get(key) or {}) for key in SETS}
    own = set()
    for user in user_configs:
        if not isinstance(user, dict):
            continue
        replace = user.get("replace_defaults") or []
        for key in SETS:
            if key in replace:
                merged[key] = {}
            merged[key].update(copy.deepcopy(user.get(key) or {}))
        own |= set(user.get("comparisons") or {})
    other_study = any(isinstance(u, dict) and changes_the_study(u) for u in user_configs)
    for name, comp in merged["comparisons"].items():
        if other_study and name not in own and isinstance(comp, dict) and comp.get("claim"):
            comp["claim"] = INHERITED_CLAIM + comp["claim"]
    config.update(merged)
    return config


def check_references(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` when a comparison names a variant that does not exist (a
    sweep's chosen point, ``{sweep}.selected``, is a variant)."""
    variants = set(config["variants"]) | {selected_name(s) for s in config["sweeps"]}
    for comp, spec in config["comparisons"].items():
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


def synthetic_spec(config: dict[str, Any]) -> dict[str, Any]:
    """What the synthesize job generates: ``data.synthetic`` with the image size and the task
    (``prevalence`` only for a multi-label set: it changes nothing else)."""
    data = config["data"]
    spec = {**data["synthetic"], "image_size": data["image_size"], "task": data["task"]}
    if data["task"] != "multilabel":
        spec.pop("prevalence")
    return canonical(spec)


def data_spec(config: dict[str, Any], synthetic_root: str | None = None) -> dict[str, Any]:
    """The ``data:`` section a prepare job runs with (of a validated config).

    A synthetic source is generated into ``synthetic_root`` first and then read like any
    class-folder dataset, so the real ingestion path runs every time. ``data.shards`` is left
    out: how many jobs decode does not change what is prepared (biomedclf.data.shards).
    """
    data = copy.deepcopy(config["data"])
    synthetic = data.pop("synthetic", None)
    data.pop("shards", None)
    if data["source"] == "synthetic" and data["task"] == "multilabel":
        from biomedclf.data.synthetic_multilabel import MANIFEST, multilabel_names

        data["source"] = "manifest"  # its images and a manifest with one column per label
        data["path"] = f"{synthetic_root}/{MANIFEST}"
        data["manifest"]["label_column"] = None
        data["classes"] = data["classes"] or multilabel_names(synthetic["n_classes"])
    elif data["source"] == "synthetic":
        from biomedclf.data.synthetic import GROUP_PATTERN

        data["source"] = "folder"
        data["path"] = synthetic_root
        # Images of one synthetic patient share anatomy: keep each patient in one split.
        if not data["split"]["group_pattern"]:
            data["split"]["group_pattern"] = GROUP_PATTERN
    elif not data["path"]:
        raise ConfigError(
            f"data.path: required for data.source '{data['source']}'; set it to your "
            "folder, CSV manifest or .npz file"
        )
    return canonical(data)


def load_yaml_files(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Read YAML (or JSON) config files, naming the file that does not parse."""
    import yaml

    loaded = []
    for path in paths or ():
        try:
            with open(path, encoding="utf-8") as fh:
                loaded.append(yaml.safe_load(fh) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return loaded
