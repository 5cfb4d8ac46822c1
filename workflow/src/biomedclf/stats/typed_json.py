"""Dataclasses from parsed JSON and back, checked against their type annotations.

:class:`DataclassReader` builds a tree of dataclasses from ``json.load`` output: each field is
read from the key of its name (or ``field(metadata={"key": ...})``), checked against its
annotation (``int``, ``float``, ``bool``, ``str``, ``X | None``, ``list[X]``,
``dict[str, X]``, another dataclass) and a field with a default may be absent. Errors name
the file, the field's path and the fix. :func:`to_json` is the inverse. Fields marked
``metadata={"json": False}`` are not part of the JSON. Used for stats.json: read by
:mod:`biomedclf.stats.records`, written by :mod:`biomedclf.stats.study`.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved type annotations of dataclass ``cls`` (cached)."""
    return typing.get_type_hints(cls)


def _key(f: dataclasses.Field) -> str:
    """The JSON key of a field: ``metadata["key"]`` or its name."""
    return f.metadata.get("key", f.name)


def json_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of dataclass ``cls`` that are read from and written to JSON."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("json", True)]


def _type_name(tp: Any) -> str:
    """A type's name for error messages."""
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


class DataclassReader:
    """Reads JSON values into annotated types; errors are ``error_type`` naming ``source``."""

    def __init__(
        self, source: Path | str, fix: str, error_type: type[Exception] = ValueError
    ) -> None:
        self.source = source
        self.fix = fix
        self.error_type = error_type

    def error(self, where: str, problem: str) -> Exception:
        """An error naming the file, the field and the fix."""
        return self.error_type(f"{self.source}: {where}: {problem}; {self.fix}")

    def _mismatch(self, where: str, expected: str, value: Any) -> Exception:
        """An error for ``value`` not being of the ``expected`` kind."""
        if value is None:
            return self.error(where, f"is null, expected {expected}")
        return self.error(where, f"expected {expected}, found {type(value).__name__} {value!r}")

    def read(self, tp: Any, value: Any, where: str) -> Any:
        """``value`` as type ``tp``; ``where`` is the field's path for errors."""
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            return self._union(typing.get_args(tp), value, where)
        if origin is list:
            if not isinstance(value, list):
                raise self._mismatch(where, "a list", value)
            (item,) = typing.get_args(tp)
            return [self.read(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                raise self._mismatch(where, "an object", value)
            _, item = typing.get_args(tp)
            return {k: self.read(item, v, f"{where}.{k}") for k, v in value.items()}
        if dataclasses.is_dataclass(tp):
            return self._dataclass(tp, value, where)
        return self._scalar(tp, value, where)

    def _union(self, options: tuple[Any, ...], value: Any, where: str) -> Any:
        """``value`` as the first of ``options`` it fits (``None`` when null is allowed)."""
        if value is None and type(None) in options:
            return None
        kinds = [o for o in options if o is not type(None)]
        if len(kinds) == 1:
            return self.read(kinds[0], value, where)  # nested errors say what is wrong inside
        for kind in kinds:
            try:
                return self.read(kind, value, where)
            except self.error_type:
                continue
        raise self._mismatch(where, " or ".join(_type_name(o) for o in options), value)

    def _dataclass(self, cls: type, value: Any, where: str) -> Any:
        """An instance of dataclass ``cls`` from a JSON object; required fields must be there."""
        if not isinstance(value, dict):
            raise self._mismatch(where, "an object", value)
        kwargs = {}
        for f in json_fields(cls):
            key = _key(f)
            if key in value:
                kwargs[f.name] = self.read(_hints(cls)[f.name], value[key], f"{where}.{key}")
            elif f.default is dataclasses.MISSING:
                raise self.error(f"{where}.{key}", "missing field")
        return cls(**kwargs)

    def _scalar(self, tp: Any, value: Any, where: str) -> Any:
        """An ``int``, ``float`` (ints accepted), ``bool`` or ``str``; booleans are not numbers."""
        if tp is bool and isinstance(value, bool):
            return value
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if tp is float and is_number:
            return float(value)
        if tp is int and is_number and isinstance(value, int):
            return value
        if (tp is str and isinstance(value, str)) or tp is Any:
            return value
        raise self._mismatch(where, _type_name(tp), value)


def to_json(obj: Any) -> Any:
    """The JSON value of a dataclass tree, keys in field order; a field with a default that is
    ``None`` is left out."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in json_fields(type(obj)):
            value = getattr(obj, f.name)
            if value is None and f.default is not dataclasses.MISSING:
                continue
            out[_key(f)] = to_json(value)
        return out
    if isinstance(obj, list):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    return obj
