"""The conda environments in envs/ stay in step with pyproject.toml's dependencies.

Each env file must parse, name exactly the packages pyproject.toml depends on (under their
conda-forge names) plus python, and give each the same version constraints.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
ENVS = {
    "biomedclf.yaml": "cpu",
    "biomedclf-cuda.yaml": "cuda",
}

# PyPI name -> conda-forge name, where they differ (torch per build flavour).
CONDA_NAME = {"torch": {"cpu": "pytorch-cpu", "cuda": "pytorch-gpu"}}
# A conda match spec as written in the env files: "name", or "name <version spec>".
MATCH_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\s+(?P<version>[^\s#]+))?$")


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def conda_name(pypi_name: str, flavour: str) -> str:
    name = pypi_name.lower().replace("_", "-")
    return CONDA_NAME.get(name, {}).get(flavour, name)


def expected_specs(flavour: str) -> dict[str, SpecifierSet]:
    project = pyproject()["project"]
    specs = {"python": SpecifierSet(project["requires-python"])}
    for line in project["dependencies"]:
        req = Requirement(line)
        assert not req.marker, (
            f"pyproject.toml: environment markers are not mirrored in envs/ ({line})"
        )
        specs[conda_name(req.name, flavour)] = req.specifier
    return specs


def env_specs(path: Path) -> dict[str, SpecifierSet]:
    env = yaml.safe_load(path.read_text())
    assert isinstance(env, dict), f"{path}: not a YAML mapping"
    assert env.get("name"), f"{path}: needs a 'name'"
    assert "conda-forge" in env.get("channels", []), f"{path}: needs the conda-forge channel"
    specs: dict[str, SpecifierSet] = {}
    for dep in env.get("dependencies", []):
        assert isinstance(dep, str), (
            f"{path}: only conda packages are expected, found {dep!r} "
            "(a pip section would bypass this check)"
        )
        match = MATCH_SPEC.match(dep.strip())
        assert match, f"{path}: cannot read the dependency {dep!r}; write 'name >=x.y'"
        name = match["name"].lower()
        assert name not in specs, f"{path}: {name} is listed twice"
        specs[name] = SpecifierSet(match["version"] or "")
    return specs


@pytest.mark.parametrize("filename", sorted(ENVS))
def test_env_matches_pyproject(filename: str) -> None:
    path = ROOT / "envs" / filename
    assert path.is_file(), f"missing {path}"
    got = env_specs(path)
    want = expected_specs(ENVS[filename])

    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert not missing, f"envs/{filename} lacks {missing}: add them as in pyproject.toml"
    assert not extra, (
        f"envs/{filename} names {extra}, which pyproject.toml's dependencies do not: "
        "add them to pyproject.toml or remove them here"
    )
    differ = {n: (str(got[n]), str(want[n])) for n in want if got[n] != want[n]}
    assert not differ, (
        f"envs/{filename}: version constraints differ from pyproject.toml "
        f"(env, pyproject): {differ}"
    )


def test_env_flavours_differ_only_in_torch_build() -> None:
    cpu = env_specs(ROOT / "envs" / "biomedclf.yaml")
    cuda = env_specs(ROOT / "envs" / "biomedclf-cuda.yaml")
    assert cpu.pop("pytorch-cpu") == cuda.pop("pytorch-gpu")
    assert cpu == cuda


def test_rules_name_an_existing_env() -> None:
    """Every `conda:` env a rule names exists (the rules name it through ENV in common.smk)."""
    rules = ROOT / "workflow" / "rules"
    if not rules.is_dir():
        pytest.skip("no workflow/rules yet")
    named = set()
    for smk in rules.glob("*.smk"):
        named |= set(re.findall(r"[\"']((?:\.\./)+envs/[^\"']+\.ya?ml)[\"']", smk.read_text()))
    for rel in named:
        assert (rules / rel).resolve().is_file(), (
            f"workflow/rules names {rel}, which does not exist"
        )
