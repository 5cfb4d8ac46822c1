"""The config layer: schema defaults and errors, resolved variant specs, replaced sets."""

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from biomedclf.config import (
    ConfigError,
    check_references,
    data_spec,
    load_yaml_files,
    replace_sets,
    resolve_variant,
)
from biomedclf.provenance import code_digest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def validated(config: dict) -> dict:
    validate(config, SCHEMA)
    return config


@pytest.mark.parametrize(
    "name", ["config.yaml", "configs/smoke.yaml", "configs/chest_xray.yaml", "configs/medmnist.yaml"]
)
def test_shipped_configs_validate(name):
    config = load(name)
    if "variants" not in config:  # presets inherit the default suite from config.yaml
        config["variants"] = load("config.yaml")["variants"]
    validated(config)
    check_references(config)


def test_schema_fills_defaults():
    config = validated({"name": "x", "variants": {"a": {"model": "conv"}}})
    assert config["training"]["epochs"] == 10
    assert config["training"]["seeds"] == [0, 1, 2]
    assert config["data"]["split"]["val"] == 0.15
    assert config["statistics"]["n_bootstrap"] == 2000


@pytest.mark.parametrize(
    "config, key",
    [
        ({"name": "x", "variants": {"a": {"model": "conv"}}, "bogus": 1}, "bogus"),
        ({"name": "x", "variants": {"a": {"model": "conv"}}, "training": {"epochs": "ten"}}, "ten"),
        ({"name": "x", "variants": {"a": {"model": "conv"}}, "training": {"lr": -1}}, "-1"),
        ({"name": "x", "variants": {"a": {"model": "transformer"}}}, "transformer"),
        ({"name": "x", "variants": {"a": {"model": "conv", "dropuot": 0.5}}}, "dropuot"),
    ],
)
def test_schema_errors_name_the_key(config, key):
    with pytest.raises(Exception) as err:
        validated(config)
    assert key in str(err.value)


def test_resolve_variant_applies_overrides_and_keeps_only_its_own_settings():
    config = validated(load("config.yaml"))
    spec = resolve_variant(config, "cnn_l2")
    assert spec["model"] == "conv"
    assert spec["training"]["weight_decay"] == 0.01
    assert spec["training"]["epochs"] == config["training"]["epochs"]
    assert "seeds" not in spec["training"]
    assert resolve_variant(config, "cnn")["training"]["weight_decay"] == 0.0
    assert resolve_variant(config, "cnn_dropout")["model_args"] == {"dropout": 0.5}


def test_resolve_unknown_variant_lists_known_ones():
    with pytest.raises(ConfigError, match="variants.nope.*ann"):
        resolve_variant(validated(load("config.yaml")), "nope")


def test_comparison_naming_unknown_variant_is_an_error():
    config = validated(load("config.yaml"))
    config["comparisons"]["dropout"]["variants"] = ["cnn_dropuot"]
    with pytest.raises(ConfigError, match=r"comparisons\.dropout\.variants\[0\].*cnn_dropuot"):
        check_references(config)


def test_user_file_replaces_variants_and_comparisons(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text("name: mine\nvariants:\n  only: {model: linear}\ncomparisons: {}\n")
    config = replace_sets(load("config.yaml"), load_yaml_files([str(user)]))
    assert list(config["variants"]) == ["only"]
    assert config["comparisons"] == {}


def test_user_file_without_variants_keeps_defaults(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text("name: mine\ndata: {source: folder, path: x}\n")
    config = replace_sets(load("config.yaml"), load_yaml_files([str(user)]))
    assert "cnn" in config["variants"]


def test_bad_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_yaml_files([str(bad)])


def test_data_spec_points_synthetic_at_the_generated_folder():
    config = validated(load("config.yaml"))
    spec = data_spec(config, synthetic_root="results/demo/synthetic")
    assert spec["source"] == "folder" and spec["path"] == "results/demo/synthetic"
    assert spec["split"]["group_pattern"], "synthetic patients must be kept in one split"
    config["data"]["source"] = "manifest"
    with pytest.raises(ConfigError, match="data.path"):
        data_spec(config)


def test_code_digest_follows_package_imports(tmp_path, monkeypatch):
    import biomedclf.provenance as prov

    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("")
    (tmp_path / "sub" / "b.py").write_text("y = 1\n")
    (tmp_path / "a.py").write_text("def f():\n    from biomedclf.sub import b\n")
    (tmp_path / "c.py").write_text("from .sub.b import y\nimport numpy\n")
    (tmp_path / "lone.py").write_text("import os\n")
    monkeypatch.setattr(prov, "PACKAGE_DIR", tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in prov.module_closure("a.py")]
    assert names == ["__init__.py", "a.py", "sub/__init__.py", "sub/b.py"]
    assert "sub/b.py" in [p.relative_to(tmp_path).as_posix() for p in prov.module_closure("c.py")]
    before = {m: code_digest(m) for m in ("a.py", "c.py", "lone.py")}
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    assert code_digest("a.py") != before["a.py"]
    assert code_digest("c.py") != before["c.py"]
    assert code_digest("lone.py") == before["lone.py"]
    with pytest.raises(FileNotFoundError, match="missing.py"):
        code_digest("missing.py")


def test_plotting_code_is_not_part_of_training_code():
    from biomedclf.provenance import PACKAGE_DIR, module_closure

    def names(m):
        return {p.relative_to(PACKAGE_DIR).as_posix() for p in module_closure(m)}

    assert "plots.py" not in names("train.py") | names("evaluate.py") | names("stats.py")
    assert "models.py" in names("train.py")
    assert "data/prepare.py" not in names("train.py")


def _imports_by_ast(path: Path, package_dir: Path) -> set[Path]:
    """Reference for the scanner: every package module an AST walk of ``path`` finds."""
    import ast

    import biomedclf.provenance as prov

    package = ["biomedclf", *path.relative_to(package_dir).parent.parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        found |= {r for r in map(prov._resolve, names) if r is not None}
    return found


def test_import_scanner_agrees_with_the_parser(tmp_path, monkeypatch):
    import biomedclf.provenance as prov

    for path in sorted(prov.PACKAGE_DIR.rglob("*.py")):
        assert set(prov._imported_files(path)) == _imports_by_ast(path, prov.PACKAGE_DIR), path
    (tmp_path / "__init__.py").write_text("")
    for name in ("x", "y", "z", "w"):
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "m.py").write_text(
        "from biomedclf import (\n    x,  # first\n    y as why,\n)\n"
        "import biomedclf.z as zed, os\n"
        "if True:\n    from . import w\n"
        "text = 'from biomedclf import nothing'\n"
    )
    monkeypatch.setattr(prov, "PACKAGE_DIR", tmp_path)
    got = {p.name for p in prov._imported_files(tmp_path / "m.py")}
    assert got == {"__init__.py", "x.py", "y.py", "z.py", "w.py"}
    assert got == {p.name for p in _imports_by_ast(tmp_path / "m.py", tmp_path)}
