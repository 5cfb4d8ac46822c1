"""Sweeps in the config: the points a sweep expands into, their names (stable, unique,
path-safe, one spelling per value), the seeded random search, the checks that name the key at
fault, and the chosen point as a variant comparisons can name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from biomedclf.config.schema import load_schema, validate_config
from biomedclf.config.specs import ConfigError, canonical, check_references, resolve_variant
from biomedclf.config.sweeps import expand_sweeps, point_definitions, point_name, spell

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(ROOT / "workflow" / "schemas" / "config.schema.yaml")

#: What the names of points may hold: path-safe on every file system, no separator.
PATH_SAFE = re.compile(r"^[A-Za-z0-9_.+\-=,\[\]]+$")

#: The pattern of a variant's name in the schema.
VARIANT_NAME = re.compile(SCHEMA["properties"]["variants"]["propertyNames"]["pattern"])


def study(sweeps: dict, **extra) -> dict:
    """A validated, canonical config with the variants cnn and mlp and ``sweeps``."""
    config = {
        "name": "x",
        "variants": {"cnn": {"model": "conv"}, "mlp": {"model": "linear", "hidden": [8]}},
        "sweeps": sweeps,
        **extra,
    }
    return canonical(validate_config(config, SCHEMA))


def sweeps_of(sweeps: dict, **extra) -> dict:
    return expand_sweeps(study(sweeps, **extra), SCHEMA)


def test_one_spelling_per_value():
    assert spell(1e-3) == spell(0.001) == "0.001"
    assert spell(1e-5) == "1e-5" and spell(2.5e-7) == "2.5e-7" and spell(1e20) == spell(10**20)
    assert spell(0.0) == spell(0) == "0" and spell(1.0) == "1"
    assert spell(True) == "true" and spell(None) == "null" and spell([64, 32]) == "64_32"
    assert point_name("l2", {"weight_decay": 0.001}) == "l2[weight_decay=0.001]"
    assert point_name("s", {"lr": 0.01, "dropout": 0.5}) == "s[dropout=0.5,lr=0.01]"
    with pytest.raises(ValueError, match="letters, digits"):
        spell("a/b")


def test_names_are_stable_unique_and_path_safe():
    grid = {"weight_decay": [0, 1e-4, "1e-3", 0.01], "dropout": [0.0, 0.25, 0.5]}
    sweeps = sweeps_of(
        {
            "reg": {"base": "cnn", "grid": grid},
            "wd": {"base": "cnn", "grid": {"weight_decay": [0.001, 0]}},
            "width": {"base": "mlp", "grid": {"hidden": [[8], [16, 8]], "augment": [True, False]}},
        }
    )
    names = [p for s in sweeps.values() for p in s.points]
    assert len(names) == len(set(names)) == 12 + 2 + 4
    for name in names:
        assert PATH_SAFE.match(name) and len(name) < 100, name
        assert not VARIANT_NAME.match(name), f"{name} could be a variant's name"
    assert "reg[dropout=0.25,weight_decay=0.001]" in sweeps["reg"].points
    assert list(sweeps["wd"].points) == ["wd[weight_decay=0]", "wd[weight_decay=0.001]"]
    assert "width[augment=false,hidden=16_8]" in sweeps["width"].points
    # the YAML 1.1 string '1e-3' is the number it spells
    assert sweeps["reg"].points["reg[dropout=0,weight_decay=0.001]"]["weight_decay"] == 0.001


def test_reordering_values_changes_nothing_and_adding_one_adds_one_point():
    before = sweeps_of({"l2": {"base": "cnn", "grid": {"weight_decay": [0, 0.001, 0.01]}}})
    shuffled = sweeps_of({"l2": {"base": "cnn", "grid": {"weight_decay": [0.01, 0.0, 1e-3]}}})
    assert before["l2"].params() == shuffled["l2"].params()
    more = sweeps_of({"l2": {"base": "cnn", "grid": {"weight_decay": [0.01, 0, 0.001, 1e-4]}}})
    assert set(more["l2"].points) - set(before["l2"].points) == {"l2[weight_decay=0.0001]"}
    old = {p: before["l2"].points[p] for p in before["l2"].points}
    assert {p: more["l2"].points[p] for p in old} == old


def test_points_are_their_base_with_the_values():
    config = study({"l2": {"base": "cnn", "grid": {"weight_decay": [0.01], "dropout": [0.5]}}})
    sweeps = expand_sweeps(config, SCHEMA)
    defined = {**config["variants"], **point_definitions(config, sweeps)}
    spec = resolve_variant(config, "l2[dropout=0.5,weight_decay=0.01]", defined)
    assert spec["model"] == "conv" and spec["model_args"] == {"dropout": 0.5}
    assert spec["training"]["weight_decay"] == 0.01
    assert sweeps["l2"].selected == "l2.selected"
    assert sweeps["l2"].seeds == (0, 1, 2)  # training.seeds without sweep_seeds


def test_sweep_seeds_and_the_selection_settings():
    (sweep,) = sweeps_of(
        {
            "s": {
                "base": "cnn",
                "grid": {"lr": [0.01]},
                "sweep_seeds": [3, 1],
                "select": "one_se",
                "prefer": "larger",
            }
        }
    ).values()
    assert sweep.seeds == (1, 3) and sweep.select == "one_se" and sweep.prefer == "larger"


def test_scales_follow_the_values():
    (sweep,) = sweeps_of(
        {
            "s": {
                "base": "cnn",
                "grid": {
                    "weight_decay": [0, 1e-4, 1e-3, 1e-2],
                    "dropout": [0, 0.25, 0.5],
                    "augment": [False, True],
                },
            }
        }
    ).values()
    assert sweep.scales == {"augment": "category", "dropout": "linear", "weight_decay": "log"}


def test_random_search_is_reproducible_and_keeps_its_first_points():
    def search(n: int, seed: int) -> dict:
        space = {"lr": {"log_uniform": [1e-4, 1e-2]}, "dropout": {"uniform": [0, 0.6]}}
        spec = {"base": "cnn", "random": {"n": n, "seed": seed, **space}}
        return sweeps_of({"r": spec})["r"]

    first, again = search(8, 0), search(8, 0)
    assert first.points == again.points and len(first.points) == 8
    assert set(search(8, 1).points) != set(first.points)
    assert set(first.points) < set(search(12, 0).points)
    for values in first.points.values():
        assert 1e-4 <= values["lr"] <= 1e-2 and 0 <= values["dropout"] <= 0.6
        assert float(f"{values['lr']:.3g}") == values["lr"]  # 3 significant digits
    assert first.scales == {"dropout": "linear", "lr": "log"}
    assert first.kind == "random"


def test_random_search_draws_whole_numbers_for_integer_settings_and_choices():
    spec = {"n": 20, "width": {"log_uniform": [4, 64]}, "augment": {"choice": [True, False]}}
    (sweep,) = sweeps_of({"r": {"base": "cnn", "random": spec}}).values()
    widths = {v["width"] for v in sweep.points.values()}
    assert all(isinstance(w, int) and 4 <= w <= 64 for w in widths)
    assert {v["augment"] for v in sweep.points.values()} == {True, False}


@pytest.mark.parametrize(
    "sweep, message",
    [
        ({"base": "nope", "grid": {"lr": [0.1]}}, r"sweeps\.s\.base: unknown variant 'nope'"),
        ({"base": "cnn", "grid": {"weight_decy": [0.1]}}, "did you mean 'weight_decay'"),
        ({"base": "cnn", "grid": {"model": ["linear"]}}, r"sweeps\.s\.grid\.model"),
        ({"base": "cnn", "grid": {"lr": [0.001, 1e-3]}}, r"sweeps\.s\.grid\.lr: 0\.001 listed"),
        ({"base": "cnn"}, "give either grid"),
        ({"base": "cnn", "grid": {"dropout": [0.5, 1.5]}}, r"dropout=1\.5.*dropout"),
        (
            {"base": "cnn", "random": {"n": 2, "lr": {"uniform": [0.1, 0.01]}}},
            r"sweeps\.s\.random\.lr\.uniform",
        ),
        ({"base": "cnn", "grid": {"optimizer": ["adam", "a b"]}}, "letters, digits"),
    ],
)
def test_config_errors_name_the_key(sweep, message):
    with pytest.raises(ConfigError, match=message):
        sweeps_of({"s": sweep})


def test_comparisons_may_name_a_sweeps_chosen_point():
    sweeps = {"l2": {"base": "cnn", "grid": {"weight_decay": [0, 0.01]}}}
    good = study(sweeps, comparisons={"c": {"baseline": "cnn", "variants": ["l2.selected"]}})
    check_references(good)
    bad = study(sweeps, comparisons={"c": {"baseline": "cnn", "variants": ["l3.selected"]}})
    with pytest.raises(ConfigError, match="unknown variant 'l3.selected'"):
        check_references(bad)


def test_yaml_1_1_number_strings_are_numbers_in_a_search():
    """PyYAML reads ``1e-4`` as text: a range or a choice of numbers reads it as a number."""
    spec = {"n": 6, "lr": {"log_uniform": ["1e-4", "1e-2"]}, "weight_decay": {"choice": ["1e-3"]}}
    (sweep,) = sweeps_of({"r": {"base": "cnn", "random": spec}}).values()
    for values in sweep.points.values():
        assert isinstance(values["lr"], float) and values["weight_decay"] == 0.001
