"""Validate a study config against ``workflow/schemas/config.schema.yaml``, fill its defaults,
and say what is wrong in a few lines.

The schema is the authority for keys, types, ranges and defaults. Validation fills the defaults
in place (every key a job reads is then present) and turns each violation into one line that
names the key's path, the value, what is allowed and, for a misspelt key, the nearest allowed
one::

    data.image_sise: unknown key; did you mean 'image_size'? Allowed under data: channels, ...
    training.epochs: 'two' is not of type 'integer'

YAML 1.1 (PyYAML, which Snakemake uses) reads ``1e-3`` without a decimal point as a string;
where the schema expects a number, such a string is read as the number it spells.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from biomedclf.errors import ConfigError

#: A YAML 1.2 float literal that YAML 1.1 leaves a string (``1e-3``, ``+5E2``).
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

#: How many problems one error message lists.
MAX_PROBLEMS = 5


def load_schema(path: Path | str) -> dict[str, Any]:
    """Read the JSON Schema (YAML) at ``path`` (with libyaml's loader when PyYAML has it:
    the workflow reads the schema each time it plans the jobs)."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _wants_number(subschema: dict[str, Any]) -> bool:
    kind = subschema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "number" in kinds and "string" not in kinds


def _with_defaults(validator_class: type) -> type:
    """A validator class that fills ``default`` values (deep copies) and reads number-like
    strings as numbers where the schema wants a number (a property or an array's items),
    before checking them."""
    from jsonschema import validators

    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema) -> Iterator[Any]:  # noqa: ANN001
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
                value = instance.get(key)
                if isinstance(value, str) and _wants_number(sub) and _NUMBER.match(value):
                    instance[key] = float(value)
        yield from check_properties(validator, props, instance, schema)

    check_items = validator_class.VALIDATORS["items"]

    def items(validator, items_schema, instance, schema) -> Iterator[Any]:  # noqa: ANN001
        if isinstance(instance, list) and isinstance(items_schema, dict):
            instance[:] = [as_number(v, items_schema) for v in instance]
        yield from check_items(validator, items_schema, instance, schema)

    return validators.extend(validator_class, {"properties": properties, "items": items})


def _path(error: Any) -> str:
    parts = []
    for part in error.absolute_path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _option(sub: dict[str, Any]) -> str:
    """A few words for one alternative of an ``anyOf``."""
    if "enum" in sub:
        return " or ".join(str(v) for v in sub["enum"])
    if "pattern" in sub and "description" in sub:
        return str(sub["description"])
    if sub.get("type") == "array":
        n = sub.get("minItems")
        what = sub.get("items", {}).get("type", "value")
        count = f"{n} " if n is not None and n == sub.get("maxItems") else ""
        return f"a list of {count}{what}s"
    if sub.get("type") == "integer" and "minimum" in sub:
        return f"an integer >= {sub['minimum']}"
    return str(sub.get("type", "a valid value"))


def _describe(error: Any) -> list[str]:
    """One line per problem of a jsonschema ``ValidationError``."""
    path = _path(error)
    where = path or "the config"
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        return [
            f"{_join(path, key)}: unknown key; {_suggest(key, allowed)}"
            f"allowed under {where}: {', '.join(allowed)}"
            for key in unknown
        ]
    if error.validator == "enum":
        allowed = [str(v) for v in error.validator_value]
        suggestion = _suggest(str(error.instance), allowed)
        return [
            f"{where}: {error.instance!r} is not allowed; {suggestion}"
            f"use one of {', '.join(allowed)}"
        ]
    if error.validator == "anyOf":
        options = " or ".join(_option(sub) for sub in error.validator_value)
        names = [str(v) for sub in error.validator_value for v in sub.get("enum", [])]
        suggestion = _suggest(error.instance, names) if isinstance(error.instance, str) else ""
        return [f"{where}: {error.instance!r} is not allowed; {suggestion}use {options}"]
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return [f"{_join(path, key)}: missing; this key is required" for key in missing]
    return [f"{where}: {error.message}"]


def as_number(value: Any, subschema: dict[str, Any]) -> Any:
    """``value``, or the number a YAML 1.1 string such as ``1e-3`` spells where ``subschema``
    wants a number (PyYAML leaves it a string)."""
    if isinstance(value, str) and _wants_number(subschema) and _NUMBER.match(value):
        return float(value)
    return value


def problems(instance: Any, schema: dict[str, Any]) -> list[str]:
    """One line per violation of ``schema`` by ``instance`` (no default is filled in)."""
    from jsonschema import Draft202012Validator

    lines: list[str] = []
    for error in Draft202012Validator(schema).iter_errors(instance):
        lines += [line for line in _describe(error) if line not in lines]
    return lines


def validate_config(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults into ``config`` (in place) and check it against ``schema``.

    Raises :class:`ConfigError` listing up to :data:`MAX_PROBLEMS` problems, one line each;
    returns ``config``.
    """
    from jsonschema import Draft202012Validator

    validator = _with_defaults(Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    lines: list[str] = []
    for error in errors:
        lines += [line for line in _describe(error) if line not in lines]
    if lines:
        more = len(lines) - MAX_PROBLEMS
        shown = lines[:MAX_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise ConfigError("\n".join(shown))
    return config
