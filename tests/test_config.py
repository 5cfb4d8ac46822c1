"""The config layer: schema defaults and errors, resolved variant specs, replaced sets,
canonical parameters, and the one list of training keys."""

import re
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from biomedclf.config.schema import load_schema, validate_config
from biomedclf.config.specs import (
    ConfigError,
    canonical,
    check_references,
    data_spec,
    load_yaml_files,
    merge_sets,
    prepare_config,
    resolve_variant,
)
from biomedclf.provenance import code_digest, script_closure, script_digest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def validated(config: dict) -> dict:
    return validate_config(config, load_schema(SCHEMA))


@pytest.mark.parametrize(
    "name", ["config.yaml", *sorted(f"configs/{p.name}" for p in (ROOT / "configs").glob("*.yaml"))]
)
def test_shipped_configs_validate(name):
    """Each preset, merged over config.yaml as Snakemake and the Snakefile merge it."""
    config = load("config.yaml")
    user = [] if name == "config.yaml" else [ROOT / name]
    for key, value in load(name).items():
        config[key] = {**config[key], **value} if isinstance(config.get(key), dict) else value
    prepared = prepare_config(config, user, SCHEMA, ROOT / "config.yaml")
    check_references(prepared)
    assert prepared["name"] == load(name)["name"]


def test_schema_fills_defaults():
    config = validated({"name": "x", "variants": {"a": {"model": "conv"}}})
    assert config["training"]["epochs"] == 10
    assert config["resources"]["train_threads"] == 1
    assert config["training"]["seeds"] == [0, 1, 2]
    assert config["data"]["split"]["val"] == 0.15
    assert config["statistics"]["n_bootstrap"] == 2000


def minimal(**extra) -> dict:
    return {"name": "x", "variants": {"a": {"model": "conv"}}, **extra}


@pytest.mark.parametrize(
    "config, first_line",
    [
        (minimal(bogus=1), "bogus: unknown key; allowed under the config: comparisons, data,"),
        (minimal(trainign={}), "trainign: unknown key; did you mean 'training'?"),
        (minimal(training={"epochs": "ten"}), "training.epochs: 'ten' is not of type 'integer'"),
        (minimal(training={"lr": -1}), "training.lr: -1 is less than or equal to the minimum of 0"),
        (
            minimal(data={"image_sise": 64}),
            "data.image_sise: unknown key; did you mean 'image_size'? allowed under data:",
        ),
        (
            {"name": "x", "variants": {"a": {"model": "transformer"}}},
            "variants.a.model: 'transformer' is not allowed; use linear or conv or conv_gap or "
            "resnet18 or torchvision/<name> or timm/<name>",
        ),
        (
            {"name": "x", "variants": {"a": {"model": "con"}}},
            "variants.a.model: 'con' is not allowed; did you mean 'conv'? use linear or",
        ),
        (
            {"name": "x", "variants": {"a": {"model": "conv", "dropuot": 0.5}}},
            "variants.a.dropuot: unknown key; did you mean 'dropout'?",
        ),
        ({"name": "x", "variants": {"a": {}}}, "variants.a.model: missing; this key is required"),
        (
            minimal(data={"dicom": {"window": "lung"}}),
            "data.dicom.window: 'lung' is not allowed; use auto or none or a list of 2 numbers",
        ),
        (
            minimal(data={"nifti": {"slice": -1}}),
            "data.nifti.slice: -1 is not allowed; use middle or mip or an integer >= 0",
        ),
    ],
)
def test_schema_errors_name_the_key_in_one_line(config, first_line):
    with pytest.raises(ConfigError) as err:
        validated(config)
    lines = str(err.value).splitlines()
    assert lines[0].startswith(first_line), lines
    assert len(lines) <= 6


@pytest.mark.parametrize(
    "config, first_line",
    [
        # training settings (biomedclf.train.settings has no checks of its own)
        (
            minimal(training={"optimizer": "rmsprop"}),
            "training.optimizer: 'rmsprop' is not allowed; use one of adam, adamw, sgd",
        ),
        (minimal(training={"early_stopping": 0}), "training.early_stopping: 0 is less than the"),
        (
            minimal(variants={"a": {"model": "conv", "seeds": [1]}}),
            "variants.a.seeds: unknown key; allowed under variants.a: amp,",
        ),
        # model settings (biomedclf.train.models checks only which settings a model has)
        (
            minimal(variants={"a": {"model": "conv_gap", "dropout": 1.5}}),
            "variants.a.dropout: 1.5 is greater than or equal to the maximum of 1",
        ),
        (
            minimal(variants={"a": {"model": "linear", "hidden": []}}),
            "variants.a.hidden: [] should be non-empty",
        ),
        (
            minimal(variants={"a": {"model": "conv", "depth": 9}}),
            "variants.a.depth: 9 is greater than the maximum of 8",
        ),
        # data settings (biomedclf.data reads the validated section)
        (minimal(data={"source": "dicom"}), "data.source: 'dicom' is not allowed; use one of"),
        (minimal(data={"channels": 2}), "data.channels: 2 is not allowed; use one of 1, 3"),
        (
            minimal(data={"interpolation": "lanczos"}),
            "data.interpolation: 'lanczos' is not allowed; use one of bicubic, bilinear, nearest",
        ),
        (
            minimal(data={"resize": "stretch"}),
            "data.resize: 'stretch' is not allowed; use one of pad, crop, squash",
        ),
        (minimal(data={"on_error": "ignore"}), "data.on_error: 'ignore' is not allowed;"),
        (minimal(data={"split": {"val": 1.5}}), "data.split.val: 1.5 is greater than or equal"),
        (minimal(data={"split": {"test": 0}}), "data.split.test: 0 is less than or equal"),
        (
            minimal(data={"split": {"group": "study"}}),
            "data.split.group: 'study' is not allowed; use one of None, patient_id",
        ),
        (
            minimal(data={"classes": ["a", "b", "a"]}),
            "data.classes: ['a', 'b', 'a'] has non-unique elements",
        ),
        (minimal(data={"classes": ["a"]}), "data.classes: ['a'] is too short"),
        (
            minimal(data={"synthetic": {"n_classes": 13}}),
            "data.synthetic.n_classes: 13 is greater than the maximum of 12",
        ),
        (
            minimal(data={"dicom": {"window": [40]}}),
            "data.dicom.window: [40] is not allowed; use auto or none or a list of 2 numbers",
        ),
        (
            minimal(data={"dicom": {"frames": "first"}}),
            "data.dicom.frames: 'first' is not allowed; use one of reject, middle, all",
        ),
        (
            minimal(data={"dicom": {"windw": "auto"}}),
            "data.dicom.windw: unknown key; did you mean 'window'?",
        ),
        (
            minimal(data={"nifti": {"slice": "first"}}),
            "data.nifti.slice: 'first' is not allowed; use middle or mip or an integer >= 0",
        ),
        (minimal(data={"nifti": {"axis": 3}}), "data.nifti.axis: 3 is greater than the maximum"),
        (
            minimal(data={"nifti": {"clip": [0, 101]}}),
            "data.nifti.clip[1]: 101 is greater than the maximum of 100",
        ),
    ],
)
def test_values_the_library_reads_unchecked_are_checked_by_the_schema(config, first_line):
    """The library has no checks of its own for these (the schema is their one place)."""
    with pytest.raises(ConfigError) as err:
        validated(config)
    assert str(err.value).splitlines()[0].startswith(first_line), str(err.value)


def test_schema_lists_every_problem_up_to_a_limit():
    config = minimal(training={f"x{i}": 1 for i in range(8)})
    with pytest.raises(ConfigError) as err:
        validated(config)
    lines = str(err.value).splitlines()
    allowed = (
        "amp, augment, backbone_lr_factor, batch_size, class_weights, compile, device, "
        "device_cache, early_stopping, epochs, freeze_epochs, label_smoothing, lr, momentum, "
        "optimizer, scheduler, seeds, step_gamma, step_size, warmup_epochs, weight_decay"
    )
    assert lines[:2] == [
        f"training.x0: unknown key; allowed under training: {allowed}",
        f"training.x1: unknown key; allowed under training: {allowed}",
    ]
    assert lines[-1] == "... and 3 more" and len(lines) == 6


def test_yaml_11_exponent_strings_are_read_as_numbers():
    config = validated(
        minimal(training={"lr": "1e-3"}, variants={"a": {"model": "conv", "lr": "5E-4"}})
    )
    assert config["training"]["lr"] == 0.001 and config["variants"]["a"]["lr"] == 0.0005
    with pytest.raises(ConfigError, match="training.lr: 'fast' is not of type 'number'"):
        validated(minimal(training={"lr": "fast"}))


def test_resolve_variant_applies_overrides_and_keeps_only_its_own_settings():
    config = validated(load("config.yaml"))
    spec = resolve_variant(config, "cnn_l2")
    assert spec["model"] == "conv"
    assert spec["training"]["weight_decay"] == 0.01
    assert spec["training"]["epochs"] == config["training"]["epochs"]
    assert "seeds" not in spec["training"]
    assert resolve_variant(config, "cnn")["training"]["weight_decay"] == 0.0
    assert resolve_variant(config, "cnn_dropout")["model_args"] == {"dropout": 0.5}


def test_a_resolved_variant_holds_every_training_setting():
    from biomedclf.train.settings import TrainingSettings

    config = validated(minimal(variants={"a": {"model": "conv", "lr": 0.01}}))
    spec = resolve_variant(config, "a")
    assert list(spec["training"]) == sorted(TrainingSettings.keys())
    settings = TrainingSettings.from_spec(spec)
    assert settings.lr == 0.01 and settings.epochs == config["training"]["epochs"]


def test_resolve_unknown_variant_lists_known_ones():
    with pytest.raises(ConfigError, match="variants.nope.*ann"):
        resolve_variant(validated(load("config.yaml")), "nope")


def test_comparison_naming_unknown_variant_is_an_error():
    config = validated(load("config.yaml"))
    config["comparisons"]["dropout"]["variants"] = ["cnn_dropuot"]
    with pytest.raises(ConfigError, match=r"comparisons\.dropout\.variants\[0\].*cnn_dropuot"):
        check_references(config)


def test_user_variants_and_comparisons_are_added_to_the_defaults(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text(
        "name: mine\nvariants:\n  cnn_wide: {model: conv, width: 64}\n"
        "  gap_improved: {model: conv}\n"
        "comparisons:\n  width: {baseline: cnn, variants: [cnn_wide], claim: Wider is better.}\n"
    )
    defaults = load("config.yaml")
    config = merge_sets(copy_of(defaults), defaults, load_yaml_files([user]))
    assert list(config["variants"])[:6] == list(defaults["variants"])
    assert config["variants"]["cnn_wide"] == {"model": "conv", "width": 64}
    assert config["variants"]["gap_improved"] == {"model": "conv"}  # replaced whole
    assert config["comparisons"]["width"]["claim"] == "Wider is better."
    inherited = config["comparisons"]["dropout"]["claim"]
    assert inherited.startswith("(from the default study in config.yaml, not written for this")
    assert inherited.endswith(defaults["comparisons"]["dropout"]["claim"])


def test_a_file_that_only_says_how_the_study_runs_keeps_the_claims(tmp_path):
    """Tracking on (or other resources) in a file of its own is still the default study: its
    claims are not marked inherited, so stats and summary keep their parameters."""
    user = tmp_path / "tracking.yaml"
    user.write_text(
        "tracking: {mlflow: true, tensorboard: true}\nresources: {train_threads: 1}\n"
        "training: {device_cache: 8GB}\ndata: {shards: 4}\n"
    )
    defaults = load("config.yaml")
    config = merge_sets(copy_of(defaults), defaults, load_yaml_files([user]))
    assert config["comparisons"] == defaults["comparisons"]


def test_replace_defaults_replaces_a_set(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text(
        "name: mine\nreplace_defaults: [variants, comparisons]\n"
        "variants:\n  only: {model: linear}\ncomparisons: {}\n"
    )
    defaults = load("config.yaml")
    config = merge_sets(copy_of(defaults), defaults, load_yaml_files([user]))
    assert list(config["variants"]) == ["only"] and config["comparisons"] == {}


def test_user_file_without_sets_keeps_the_defaults_and_labels_their_claims(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text("name: mine\ndata: {source: folder, path: x}\n")
    defaults = load("config.yaml")
    config = merge_sets(copy_of(defaults), defaults, load_yaml_files([user]))
    assert config["variants"] == defaults["variants"]
    assert all(
        c["claim"].startswith("(from the default study") for c in config["comparisons"].values()
    )


def copy_of(config: dict) -> dict:
    import copy

    return copy.deepcopy(config)


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


def test_canonical_spelling():
    a = {"b": 1.0, "a": [0.0, 1e-3, {"y": 2, "x": (1, 2)}], "c": None, "d": True}
    assert list(canonical(a)) == ["a", "b", "c", "d"]
    assert canonical(a) == {"a": [0, 0.001, {"x": [1, 2], "y": 2}], "b": 1, "c": None, "d": True}
    assert repr(canonical({"wd": 0.0})) == repr(canonical({"wd": 0}))
    with pytest.raises(TypeError, match="not plain YAML data"):
        canonical({"a": object()})


REWRITTEN_SMOKE = """
# the smoke study, written another way: keys in another order, flow style, 1e-3, 0 for 0.0
replace_defaults: [comparisons, variants]
variants: {gap: {width: 8, model: conv_gap}, cnn_dropout: {dropout: 0.50, model: conv},
           cnn: {model: conv}, ann: {model: linear}}
training: {seeds: [1, 0], device: cpu, batch_size: 16, epochs: 2, lr: 1e-3, weight_decay: 0}
statistics: {n_bootstrap: 200}
resources: {prepare_threads: 1}
comparisons:
  ann_vs_cnn: {variants: [cnn, gap], baseline: ann}
  dropout: {variants: ['cnn_dropout'], baseline: "cnn"}
data:
  synthetic: {seed: 0, difficulty: 0.3, n_per_class: 40}
  split: {test: 0.25, seed: 0, val: 0.2}
  image_size: 16
  source: synthetic
name: smoke
"""


def test_config_rewritten_with_the_same_meaning_prepares_identically(tmp_path):
    original = tmp_path / "a.yaml"
    original.write_text((ROOT / "configs" / "smoke.yaml").read_text())
    rewritten = tmp_path / "b.yaml"
    rewritten.write_text(REWRITTEN_SMOKE)
    prepared = []
    for path in (original, rewritten):
        config = load("config.yaml")
        for key, value in load_yaml_files([path])[0].items():
            config[key] = {**config.get(key, {}), **value} if key in ("data", "training") else value
        prepared.append(prepare_config(config, [path], SCHEMA, ROOT / "config.yaml"))
    assert repr(prepared[0]) == repr(prepared[1])
    spec = [repr(resolve_variant(c, "cnn_dropout")) for c in prepared]
    assert spec[0] == spec[1]


def test_prepare_config_names_the_key_and_keeps_variant_sets(tmp_path):
    user = tmp_path / "my.yaml"
    user.write_text(
        "name: mine\nreplace_defaults: [variants, comparisons]\n"
        "variants:\n  only: {model: linear}\ncomparisons: {}\n"
    )
    config = prepare_config(
        {**load("config.yaml"), **load_yaml_files([user])[0]}, [user], SCHEMA, ROOT / "config.yaml"
    )
    assert list(config["variants"]) == ["only"] and config["training"]["epochs"] == 25
    user.write_text("name: mine\ncomparisons: {c: {baseline: cnn, variants: [cnn_dropuot]}}\n")
    config = {**load("config.yaml"), **load_yaml_files([user])[0]}
    with pytest.raises(ConfigError, match=r"comparisons\.c\.variants\[0\]: unknown variant"):
        prepare_config(config, [user], SCHEMA, ROOT / "config.yaml")


def test_training_keys_agree_across_schema_settings_and_models():
    """Each training fact is written once: the schema holds the defaults and allowed values,
    TrainingSettings the keys (no defaults), the registry the models and their settings."""
    from biomedclf.train.backbones import DEFAULTS, FAMILIES
    from biomedclf.train.devices import DEVICE_CHOICES
    from biomedclf.train.models import REGISTRY
    from biomedclf.train.settings import DEVICE_CACHE_SIZE, TrainingSettings

    schema = load_schema(SCHEMA)["properties"]
    training = schema["training"]["properties"]
    keys = TrainingSettings.keys()
    assert set(training) == {"seeds", "device_cache", *keys}  # the two a variant cannot set
    assert training["device_cache"]["anyOf"][1]["pattern"] == DEVICE_CACHE_SIZE
    assert all("default" in training[k] for k in keys)  # a resolved variant has every one
    assert all(f.default is MISSING for f in fields(TrainingSettings))
    assert training["device"]["enum"] == list(DEVICE_CHOICES)  # also `biomedclf predict --device`
    variant = schema["variants"]["additionalProperties"]["properties"]
    registry, backbone = variant["model"]["anyOf"]
    assert registry["enum"] == list(REGISTRY)
    assert backbone["pattern"].startswith(f"^({'|'.join(FAMILIES)})/")
    model_args = {k for entry in REGISTRY.values() for k in entry.defaults} | set(DEFAULTS)
    assert set(variant) == {"model"} | model_args | set(keys)
    for key in keys:  # a variant override allows what the default allows
        assert {k: v for k, v in variant[key].items()} == {
            k: v for k, v in training[key].items() if k not in ("default", "description")
        }, key


def rule_scripts() -> dict[str, tuple[str, str]]:
    """rule -> (its script:, the script its code= digest names), from the .smk files."""
    found = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", smk.read_text())[1:]:
            rule = re.match(r"rule (\w+):", block).group(1)
            script = re.search(r'script:\s+"\.\./scripts/([\w.]+)"', block)
            digest = re.search(r'code=code\("([\w.]+)"\)', block)
            found[rule] = (script and script.group(1), digest and digest.group(1))
    return found


def test_every_rule_digests_its_own_script():
    found = rule_scripts()
    assert len(found) >= 11
    for rule, (script, digest) in found.items():
        assert script is not None and script == digest, (rule, script, digest)


def test_script_digest_covers_the_script_and_the_modules_it_imports(tmp_path):
    from biomedclf.provenance import PACKAGE_DIR

    scripts = ROOT / "workflow" / "scripts"
    names = {p.relative_to(PACKAGE_DIR).as_posix() for p in script_closure(scripts / "train.py")}
    train = {"train/loop.py", "train/models.py", "train/settings.py", "train/state.py"}
    assert train | {"__init__.py", "train/__init__.py"} <= names
    assert not {n for n in names if n.startswith(("report/", "config/"))}
    plots = {
        p.relative_to(PACKAGE_DIR).as_posix()
        for p in script_closure(scripts / "comparison_figures.py")
    }
    assert "report/figures/plots.py" in plots and "train/models.py" not in plots
    script = tmp_path / "s.py"
    script.write_text("from biomedclf.io import write_json\n")
    before = script_digest(script)
    script.write_text("from biomedclf.io import write_json  # edited\n")
    assert script_digest(script) != before


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


def test_plotting_and_decoding_code_is_not_part_of_training_code():
    from biomedclf.provenance import PACKAGE_DIR

    def names(script):
        closure = script_closure(ROOT / "workflow" / "scripts" / script)
        return {p.relative_to(PACKAGE_DIR).as_posix() for p in closure}

    jobs = names("train.py") | names("evaluate.py") | names("stats.py")
    assert not {n for n in jobs if n.startswith("report/")}
    assert "train/models.py" in names("train.py")
    # the training job stores the decoding settings; it neither prepares nor decodes
    assert not {"data/prepare.py", "data/decode.py", "data/dicom.py"} & names("train.py")


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


def test_report_entries_are_labelled_by_kind_and_name():
    """One label pair per report entry, so each category lists its files in two columns."""
    rules = {smk.name: smk.read_text() for smk in (ROOT / "workflow" / "rules").glob("*.smk")}
    for name, text in rules.items():
        for labels in re.findall(r"labels=\{([^}]*)\}", text):
            assert re.findall(r'"(\w+)":', labels) == ["kind", "name"], (name, labels)
    kinds = re.findall(r'_report\(.*, "(\w+)", [\w"]+\)', rules["report.smk"])
    kinds += re.findall(r'labels=\{"kind": "(\w+)"', rules["report.smk"])
    assert set(kinds) == {"figure", "table", "document"} and len(kinds) >= 9, kinds
