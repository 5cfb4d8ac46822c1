"""Configs built as the workflow builds them, for tests that call the library directly.

The schema (``workflow/schemas/config.schema.yaml``) is the only place for defaults: the library
reads validated configs and has no fallbacks of its own. These helpers validate a partial study
config with :mod:`biomedclf.config.schema` (filling every default) and hand back the part a
library function takes: the ``data:`` section, its decoding settings, a resolved variant spec.
They also name the files of a prepare or training job in a folder, by role, with the names of
:mod:`biomedclf.layout`, as the rules hand them over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biomedclf import layout
from biomedclf.config.schema import load_schema, validate_config
from biomedclf.config.specs import resolve_variant
from biomedclf.data.decode import DecodeSpec
from biomedclf.data.decode import decode_spec as spec_of
from biomedclf.data.decode_settings import decode_settings

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"

#: The variant a config needs when a test gives none (the schema requires one).
_PLACEHOLDER = {"v": {"model": "linear"}}


def study_config(**sections: Any) -> dict[str, Any]:
    """A validated study config with every default filled in: ``sections`` are its top-level
    keys (``data``, ``training``, ``variants``, ...); ``name`` and one variant are supplied
    when not given. Raises :class:`biomedclf.errors.ConfigError` as the workflow would."""
    config = {"name": "test", "variants": _yaml(_PLACEHOLDER), **_yaml(sections)}
    return validate_config(config, load_schema(SCHEMA))


def _yaml(value: Any) -> Any:
    """A copy of ``value`` as YAML gives it: tuples become lists."""
    if isinstance(value, dict):
        return {k: _yaml(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml(v) for v in value]
    return value


def data_config(**data: Any) -> dict[str, Any]:
    """The validated ``data:`` section with ``data`` set (e.g. ``source="folder", path=...``)."""
    return study_config(data=data)["data"]


def decoding(**data: Any) -> dict[str, Any]:
    """The decoding settings (:func:`biomedclf.data.decode_settings.decode_settings`) of the
    validated ``data:`` section with ``data`` set."""
    return decode_settings(data_config(**data))


def decode_spec(**data: Any) -> DecodeSpec:
    """The :class:`~biomedclf.data.decode.DecodeSpec` of the validated ``data:`` section with
    ``data`` set (e.g. ``image_size=8, channels=3``)."""
    return spec_of(data_config(**data))


def variant_spec(
    model: str, model_args: dict[str, Any] | None = None, name: str | None = None, **training: Any
) -> dict[str, Any]:
    """The resolved spec of one variant (:func:`biomedclf.config.specs.resolve_variant`):
    ``model`` with ``model_args``, the ``training`` settings given and every other one the
    schema's default."""
    name = name or f"{model}_test"
    variant = {"model": model, **(model_args or {})}
    config = study_config(variants={name: variant}, training=training)
    return resolve_variant(config, name)


def data_files(folder: Path, folds: bool = False) -> dict[str, Path]:
    """What a prepare job writes, by role, in ``folder`` (the layout's file names): the three
    splits, or with ``folds`` the pool, its fold file and the test split; then the manifest,
    the rejections and the summary."""
    cache = ("pool", "folds", "test") if folds else ("train", "val", "test")
    return {
        r: Path(folder) / layout.DATA_FILES[r] for r in (*cache, "manifest", "rejected", "summary")
    }


def cache_files(folder: Path, folds: bool = False) -> dict[str, Path]:
    """The cache files a training job reads, by role, in ``folder``."""
    files = data_files(folder, folds)
    return {r: files[r] for r in (("pool", "folds", "test") if folds else ("train", "val", "test"))}


def train_files(folder: Path) -> dict[str, Path]:
    """What a training job writes, by role (``model``, ``history``, ``info``, ``scores``), in
    ``folder``."""
    return {r: Path(folder) / name for r, name in layout.TRAIN_FILES.items()}
