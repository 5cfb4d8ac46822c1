"""Hyperparameter sweeps: the config's ``sweeps:`` section expanded into the variants they train.

A sweep names a base variant and the settings to try, as a grid (every combination of the
listed values) or as a seeded random search. Each point is the base variant with those
settings changed, trained and evaluated like any variant, and named after its values::

    l2[weight_decay=0.001]            sweep l2, one setting
    reg[dropout=0.25,weight_decay=0]  settings in name order

A value has one spelling (:func:`spell`): whole numbers without a decimal point (``0`` for
``0.0``), other numbers as the shortest decimal that reads back the same (``0.001`` for
``1e-3``; ``1e-5``, ``2.5e-7``), ``true``/``false``, lists joined by ``_``. The name depends
on the values only, so reordering a grid's values renames nothing and reruns nothing, and
adding values adds only the new points. Names are path-safe on every file system (letters,
digits and ``_ . + - = , [ ]``) and cannot be a variant's name, whose pattern allows no
brackets.

The point a sweep's selection job chooses on the validation split is the study variant
``{sweep}.selected`` (:func:`selected_name`); comparisons may name it. The workflow expands the
sweeps once, when it plans the jobs (``workflow/rules/common.smk``).
"""

from __future__ import annotations

import difflib
import itertools
import math
import random
import re
from dataclasses import dataclass
from typing import Any

from biomedclf.config.schema import as_number, problems
from biomedclf.errors import ConfigError

#: Suffix of the study variant that is a sweep's selected point.
SELECTED = ".selected"

#: The characters a string value may have in a point name.
SPELLING = re.compile(r"^[A-Za-z0-9_.+-]+$")

#: The longest point name (file systems allow 255 bytes a path component).
MAX_NAME = 150

#: Significant digits of a randomly drawn number.
DIGITS = 3

#: Variant keys a sweep cannot change: a sweep varies the settings of one model.
FIXED = ("model",)

#: Keys of a ``random:`` search that are not settings.
SEARCH_KEYS = ("n", "seed")


@dataclass(frozen=True)
class Sweep:
    """One expanded sweep: its points (name -> the swept settings' values), ordered by value."""

    name: str
    base: str  # the variant whose settings are swept
    kind: str  # grid | random
    settings: tuple[str, ...]  # the swept settings, in name order
    points: dict[str, dict[str, Any]]
    seeds: tuple[int, ...]  # each point's training seeds
    select: str  # best | one_se
    prefer: str  # smaller | larger (one_se)
    scales: dict[str, str]  # setting -> log | linear | category (how a figure draws it)

    @property
    def selected(self) -> str:
        """The study variant that is this sweep's selected point."""
        return selected_name(self.name)

    def params(self) -> dict[str, Any]:
        """What a job of this sweep depends on, in one spelling (sorted keys, points in
        order): a rewritten config with the same meaning gives the same parameters."""
        return {
            "kind": self.kind,
            "name": self.name,
            "base": self.base,
            "points": [[name, values] for name, values in self.points.items()],
            "prefer": self.prefer,
            "scales": self.scales,
            "seeds": list(self.seeds),
            "select": self.select,
            "selected": self.selected,
            "settings": list(self.settings),
        }


def selected_name(sweep: str) -> str:
    """``{sweep}.selected``: the study variant that is the sweep's chosen point."""
    return f"{sweep}{SELECTED}"


def _plain(value: Any) -> Any:
    """Whole floats as ints, lists element by element: one value per meaning."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def spell(value: Any) -> str:
    """The one spelling of a setting's value in a point name; ValueError for a string with
    characters outside :data:`SPELLING`."""
    value = _plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        mantissa, exp, power = repr(value).partition("e")
        return f"{mantissa}e{int(power)}" if exp else mantissa
    if isinstance(value, list):
        return "_".join(spell(v) for v in value)
    if isinstance(value, str) and SPELLING.match(value):
        return value
    raise ValueError(f"{value!r}: use letters, digits and _ . + - only")


def point_name(sweep: str, values: dict[str, Any]) -> str:
    """``{sweep}[setting=value,...]``, settings in name order (:func:`spell`)."""
    return f"{sweep}[{','.join(f'{k}={spell(values[k])}' for k in sorted(values))}]"


def order_key(value: Any) -> tuple:
    """Sort key of a value: null, then false/true, numbers, text, lists."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, [order_key(v) for v in value])


def _scale(values: list[Any], distribution: str | None = None) -> str:
    """``log`` for a log-uniform draw or positive numbers spanning a factor of 100 (10 with
    three or more; a 0 among them is drawn at the axis's start), ``linear`` for other
    numbers, ``category`` for anything else."""
    if distribution in ("log_uniform", "uniform"):
        return "log" if distribution == "log_uniform" else "linear"
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "category"
    positive = sorted({v for v in values if v > 0})
    if len(positive) >= 2 and min(values) >= 0:
        span = positive[-1] / positive[0]
        if span >= 100 or (span >= 10 and len(positive) >= 3):
            return "log"
    return "linear"


def variant_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of one variant definition, from the config schema."""
    return schema["properties"]["variants"]["additionalProperties"]


def _check_settings(where: str, settings: list[str], allowed: dict[str, Any]) -> None:
    """ConfigError for a setting no variant has, or one a sweep cannot change."""
    for key in settings:
        if key in FIXED:
            raise ConfigError(
                f"{where}.{key}: a sweep varies the settings of one model; "
                "sweep each model apart (one sweep per base variant)"
            )
        if key not in allowed:
            close = difflib.get_close_matches(key, list(allowed), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"{where}.{key}: not a setting of a variant; {hint}settings: "
                f"{', '.join(k for k in allowed if k not in FIXED)}"
            )


def _grid_points(where: str, grid: dict[str, list], allowed: dict) -> list[dict[str, Any]]:
    """Every combination of the grid's values; ConfigError for a value listed twice."""
    settings = sorted(grid)
    _check_settings(f"{where}.grid", settings, allowed)
    columns = []
    for key in settings:
        values = [_plain(as_number(v, allowed[key])) for v in grid[key]]
        spelt = [spell(v) if _spellable(v) else repr(v) for v in values]
        twice = sorted({s for s in spelt if spelt.count(s) > 1})
        if twice:
            raise ConfigError(
                f"{where}.grid.{key}: {', '.join(twice)} listed twice; list each value once"
            )
        columns.append(values)
    return [dict(zip(settings, combo, strict=True)) for combo in itertools.product(*columns)]


def _spellable(value: Any) -> bool:
    try:
        spell(value)
    except ValueError:
        return False
    return True


def _draw(where: str, distribution: dict[str, Any], u: float, setting: dict[str, Any]) -> Any:
    """One setting's value from the uniform number ``u`` in [0, 1); ``setting`` is the
    setting's schema (whole numbers for an integer setting)."""
    (kind, args) = next(iter(distribution.items()))
    if kind == "choice":
        return _plain(as_number(args[min(int(u * len(args)), len(args) - 1)], setting))
    low, high = args
    if not low < high:
        raise ConfigError(f"{where}.{kind}: [{low}, {high}]; the low end must be below the high")
    if kind == "uniform":
        x = low + u * (high - low)
    else:
        x = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return round(x) if setting.get("type") == "integer" else _plain(float(f"{x:.{DIGITS}g}"))


def _random_points(where: str, search: dict[str, Any], allowed: dict) -> list[dict[str, Any]]:
    """``n`` points drawn with ``random.Random(seed)``: one number per setting (in name order)
    per point, so a larger ``n`` keeps the first points and the same seed draws the same."""
    settings = sorted(k for k in search if k not in SEARCH_KEYS)
    if not settings:
        raise ConfigError(
            f"{where}.random: no setting to draw; add one, e.g. lr: {{log_uniform: [0.0001, 0.01]}}"
        )
    _check_settings(f"{where}.random", settings, allowed)
    rng = random.Random(search["seed"])
    return [
        {k: _draw(f"{where}.random.{k}", search[k], rng.random(), allowed[k]) for k in settings}
        for _ in range(search["n"])
    ]


def _points(where: str, spec: dict[str, Any], allowed: dict) -> tuple[str, list[dict]]:
    """The sweep's kind and its points' values (a random search may repeat a point;
    :func:`_named` keeps one)."""
    if ("grid" in spec) == ("random" in spec):
        raise ConfigError(
            f"{where}: give either grid (values to try) or random (a seeded "
            "search), not both or neither"
        )
    if "grid" in spec:
        return "grid", _grid_points(where, spec["grid"], allowed)
    return "random", _random_points(where, spec["random"], allowed)


def _named(where: str, name: str, points: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Points by name (first of equal names kept), ordered by their values."""
    settings = sorted(points[0])
    points = sorted(points, key=lambda p: tuple(order_key(p[k]) for k in settings))
    named: dict[str, dict[str, Any]] = {}
    for values in points:
        try:
            label = point_name(name, values)
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
        if len(label) > MAX_NAME:
            raise ConfigError(
                f"{where}: point name {label!r} is longer than {MAX_NAME} "
                "characters; shorten the sweep's name or sweep fewer settings"
            )
        named.setdefault(label, values)
    return named


def _scales(spec: dict[str, Any], points: dict[str, dict[str, Any]]) -> dict[str, str]:
    """How each swept setting is drawn on a figure's axis (:func:`_scale`)."""
    settings = sorted(next(iter(points.values())))
    search = spec.get("random") or {}
    return {
        k: _scale([p[k] for p in points.values()], next(iter(search[k])) if k in search else None)
        for k in settings
    }


def _check_points(where: str, base: dict, points: dict[str, dict], schema: dict) -> None:
    """ConfigError when a point's variant breaks the variant schema (e.g. ``dropout: 1``)."""
    definitions = {p: {**base, **values} for p, values in points.items()}
    lines = problems(definitions, {"type": "object", "additionalProperties": schema})
    if lines:
        raise ConfigError(f"{where}: points outside the allowed values:\n" + "\n".join(lines[:5]))


def expand_sweep(config: dict[str, Any], name: str, schema: dict[str, Any]) -> Sweep:
    """The :class:`Sweep` ``sweeps.{name}`` of a validated config; ``schema`` is the config
    schema (the settings' types and ranges). ConfigError names the key at fault."""
    where, spec = f"sweeps.{name}", config["sweeps"][name]
    if spec["base"] not in config["variants"]:
        raise ConfigError(
            f"{where}.base: unknown variant '{spec['base']}'; defined variants "
            f"are {sorted(config['variants'])}"
        )
    allowed = variant_schema(schema)["properties"]
    kind, values = _points(where, spec, allowed)
    points = _named(where, name, values)
    _check_points(where, config["variants"][spec["base"]], points, variant_schema(schema))
    seeds = spec["sweep_seeds"] or config["training"]["seeds"]
    return Sweep(
        name=name,
        base=spec["base"],
        kind=kind,
        settings=tuple(sorted(next(iter(points.values())))),
        points=points,
        seeds=tuple(sorted(seeds)),
        select=spec["select"],
        prefer=spec["prefer"],
        scales=_scales(spec, points),
    )


def expand_sweeps(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Sweep]:
    """Every sweep of a validated config, by name (:func:`expand_sweep`)."""
    return {name: expand_sweep(config, name, schema) for name in config["sweeps"]}


def point_definitions(config: dict[str, Any], sweeps: dict[str, Sweep]) -> dict[str, dict]:
    """Each point's variant definition (its base's, with the point's values), by name: what
    :func:`biomedclf.config.specs.resolve_variant` resolves for a point's training job."""
    return {
        point: {**config["variants"][sweep.base], **values}
        for sweep in sweeps.values()
        for point, values in sweep.points.items()
    }
