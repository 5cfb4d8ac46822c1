"""The workflow end to end: snakemake on configs/smoke.yaml in a temporary copy of the repo.

One full run is shared by the session (conftest.smoke_study); each rerun case is then checked
by the job list of a dry run after a single, reverted change.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from repo_copy import ROOT, copy_repo
from workflow_helpers import (
    SMOKE,
    edit_yaml,
    edited,
    jobs_after_config_change,
    planned_jobs,
    smk,
    smoke_config,
)

pytestmark = pytest.mark.workflow

AGGREGATES = {
    "stats",
    "study_tables",
    "comparison_tables",
    "study_figures",
    "comparison_figures",
    "summary",
    "all",
}


@pytest.fixture(scope="module")
def study(smoke_study: Path) -> Path:
    return smoke_study


def test_outputs_exist_and_match_the_config(study):
    cfg = smoke_config(study)
    out = study / "results" / "smoke"
    variants, seeds = list(cfg["variants"]), cfg["training"]["seeds"]
    for v in variants:
        for s in seeds:
            for f in ("model.pt", "history.csv", "train.json", "scores.csv"):
                assert (out / "train" / v / f"seed{s}" / f).stat().st_size > 0
            for f in ("metrics.json", "predictions.csv"):
                assert (out / "eval" / v / f"seed{s}" / f).stat().st_size > 0
    with open(out / "tables" / "test_metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    per_seed = {(r["variant"], str(r["seed"])) for r in rows if str(r["seed"]).isdigit()}
    assert per_seed == {(v, str(s)) for v in variants for s in seeds}
    for comp in cfg["comparisons"]:
        for f in (
            f"tables/comparison_{comp}.md",
            f"tables/stats_{comp}.md",
            f"figures/curves_{comp}.png",
            f"figures/roc_{comp}.png",
        ):
            assert (out / f).stat().st_size > 0, f
    summary = (out / "summary.md").read_text()
    for v in variants:
        assert v in summary
    manifest = (out / "data" / "manifest.csv").read_text().splitlines()[0]
    assert manifest == "path,label,class_name,split,group,sha256"
    history = (out / "train" / "cnn" / "seed0" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + cfg["training"]["epochs"]
    info = json.loads((out / "train" / "cnn" / "seed0" / "train.json").read_text())
    assert info["device"] == "cpu" and info["torch_version"]
    assert (study / "logs" / "smoke" / "train" / "cnn" / "seed0.log").stat().st_size > 0


def test_html_report_groups_every_output_by_comparison(study):
    """`snakemake --report` builds one HTML file: each comparison is a category holding its
    figures and tables, each with its caption from workflow/report/."""
    cfg = smoke_config(study)
    smk(study, "--report", "results/smoke/report.html")
    html = (study / "results" / "smoke" / "report.html").read_text()
    match = re.search(r"var categories = (\{.*?\});\s*</script>", html, re.S)
    assert match, "no category index in the report"
    categories = json.loads(match.group(1))
    assert set(categories) == {"Study", *cfg["comparisons"]}
    for comp in cfg["comparisons"]:
        files = {Path(f).name for group in categories[comp].values() for f in group}
        assert {
            f"curves_{comp}.png",
            f"roc_{comp}.png",
            f"comparison_{comp}.md",
            f"stats_{comp}.md",
        } <= files, (comp, sorted(files))
    curves = (ROOT / "workflow" / "report" / "curves.rst").read_text().split(":")[0]
    assert html.count(curves) >= len(cfg["comparisons"])
    assert "summary.md" in {Path(f).name for g in categories["Study"].values() for f in g}


def test_nothing_changed_nothing_to_do(study):
    assert planned_jobs(study) == Counter()


def test_variant_setting_change_reruns_that_variant_only(study):
    jobs = jobs_after_config_change(
        study, lambda c: c["variants"]["cnn_dropout"].update(dropout=0.3)
    )
    per_run = {k for k in jobs if k[0] in ("train", "evaluate")}
    assert per_run == {
        (r, f"variant=cnn_dropout, seed={s}") for r in ("train", "evaluate") for s in (0, 1)
    }
    assert {k[0] for k in jobs} - {"train", "evaluate"} <= AGGREGATES | {
        "architecture",
        "explain",
        "explain_figures",
    }
    assert "prepare" not in {k[0] for k in jobs}


def test_added_variant_and_seed_run_only_their_jobs(study):
    def add(c):
        c["variants"]["cnn_l2"] = {"model": "conv", "weight_decay": 0.01}

    jobs = jobs_after_config_change(study, add)
    per_run = {k for k in jobs if k[0] in ("train", "evaluate")}
    assert per_run == {
        (r, f"variant=cnn_l2, seed={s}") for r in ("train", "evaluate") for s in (0, 1)
    }

    jobs = jobs_after_config_change(study, lambda c: c["training"].update(seeds=[0, 1, 2]))
    per_run = {k for k in jobs if k[0] in ("train", "evaluate")}
    variants = list(smoke_config(study)["variants"])
    assert per_run == {(r, f"variant={v}, seed=2") for r in ("train", "evaluate") for v in variants}


def test_image_size_change_reruns_everything_from_preparation(study):
    jobs = jobs_after_config_change(study, lambda c: c["data"].update(image_size=20))
    rules = {k[0] for k in jobs}
    assert {"synthesize", "prepare", "train", "evaluate", "summary"} <= rules


def test_rewritten_config_with_the_same_meaning_reruns_nothing(study):
    """The smoke config loaded and dumped again with keys sorted (as editors, formatters and
    config generators do), in flow style, with 0 for 0.0: nothing to do."""
    path = study / SMOKE
    data = yaml.safe_load(path.read_text())
    data["training"]["lr"] = 0.001
    data["training"]["weight_decay"] = 0
    data["variants"]["cnn_dropout"]["dropout"] = 0.50
    data["training"]["seeds"] = list(reversed(data["training"]["seeds"]))
    with edited(path, yaml.safe_dump(data, sort_keys=True)):
        assert planned_jobs(study) == Counter()
    with edited(path, yaml.safe_dump(data, sort_keys=True, default_flow_style=True)):
        assert planned_jobs(study) == Counter()
    respelt = (
        path.read_text()
        .replace("0.5}", "5.0e-1}")
        .replace("  epochs: 2\n", "  epochs: 2  # a comment\n  lr: 1e-3\n")
    )
    assert respelt != path.read_text()
    with edited(path, respelt):
        assert planned_jobs(study) == Counter()


def test_a_second_run_gives_identical_numbers(study, tmp_path):
    """The same config and seed on the same machine: every metric, prediction, score,
    history value (but its seconds), weight and statistics table is identical."""
    again = copy_repo(tmp_path / "again")
    smk(again)
    first, second = study / "results" / "smoke", again / "results" / "smoke"
    cfg = smoke_config(study)
    same = [
        "data/manifest.csv",
        "tables/test_metrics.csv",
        "tables/test_metrics.md",
        "tables/architecture.csv",
    ]
    same += [f"tables/stats_{c}.{ext}" for c in cfg["comparisons"] for ext in ("csv", "md")]
    for v in cfg["variants"]:
        for s in cfg["training"]["seeds"]:
            same += [
                f"eval/{v}/seed{s}/metrics.json",
                f"eval/{v}/seed{s}/predictions.csv",
                f"train/{v}/seed{s}/scores.csv",
            ]
            a, b = (
                torch.load(d / f"train/{v}/seed{s}/model.pt", weights_only=True)
                for d in (first, second)
            )
            assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
            rows = [
                list(csv.DictReader((d / f"train/{v}/seed{s}/history.csv").open()))
                for d in (first, second)
            ]
            for r in (*rows[0], *rows[1]):
                r.pop("seconds")
            assert rows[0] == rows[1], (v, s)
    for rel in same:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


@pytest.mark.parametrize(
    "change, key, value",
    [
        (lambda c: c.update(bogus=1), "bogus", "unknown key"),
        (lambda c: c["training"].update(epochs="two"), "training.epochs", "'two'"),
        (lambda c: c["training"].update(epochs=0), "training.epochs", "0"),
        (lambda c: c["data"].update(image_sise=16), "data.image_sise", "image_size"),
        (lambda c: c["variants"]["cnn"].update(model="vit"), "variants.cnn.model", "'vit'"),
        (
            lambda c: c["comparisons"]["dropout"].update(variants=["cnn_dropuot"]),
            "comparisons.dropout.variants[0]",
            "cnn_dropuot",
        ),
        (
            lambda c: c["data"].update(source="folder", path="/nonexistent/xrays"),
            "data.path",
            "/nonexistent/xrays",
        ),
    ],
    ids=[
        "unknown-key",
        "wrong-type",
        "out-of-range",
        "misspelt-key",
        "unknown-model",
        "unknown-variant",
        "missing-data-path",
    ],
)
def test_config_errors_name_the_key_in_a_few_lines(tmp_path, change, key, value):
    repo = copy_repo(tmp_path / "repo")
    edit_yaml(repo / SMOKE, change)
    proc = smk(repo, "--dry-run", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    line = next((ln for ln in out.splitlines() if key in ln), None)
    assert line is not None and value in line, out
    assert len(out.strip().splitlines()) <= 8, out


def test_default_profile_keeps_going_when_one_variant_fails(tmp_path):
    """No --keep-going on the command line: the default profile (found through the
    top-level profiles link) must keep the other variants running."""
    repo = copy_repo(tmp_path / "repo")

    def broken(c):
        c["variants"] = {
            "ann": {"model": "linear"},
            "broken": {"model": "resnet18", "weights": "/nonexistent/weights.pt"},
        }
        c["comparisons"] = {"cmp": {"baseline": "ann", "variants": ["broken"]}}
        c["training"]["seeds"] = [0]

    edit_yaml(repo / SMOKE, broken)
    proc = smk(repo, check=False)
    assert proc.returncode != 0
    out = repo / "results" / "smoke"
    assert (out / "eval" / "ann" / "seed0" / "metrics.json").exists()
    assert not (out / "train" / "broken" / "seed0" / "model.pt").exists()
    log = (repo / "logs" / "smoke" / "train" / "broken" / "seed0.log").read_text()
    assert "/nonexistent/weights.pt" in log


def test_the_last_lines_name_the_summary_and_the_report(study):
    proc = smk(study, "results/smoke/summary.md", "--forcerun", "summary")
    tail = proc.stderr.strip().splitlines()[-6:]
    assert "Study 'smoke': the summary is results/smoke/summary.md" in tail, tail
    assert (
        "HTML report: snakemake --report results/smoke/report.html --configfile configs/smoke.yaml"
        in tail
    ), tail


def test_a_user_config_adds_a_variant_to_the_default_study(tmp_path):
    """One variant and one comparison in my.yaml: the six default variants come along."""
    repo = copy_repo(tmp_path / "repo")
    (repo / "my.yaml").write_text(
        "name: mine\n"
        "variants:\n  cnn_wide: {model: conv, width: 64}\n"
        "comparisons:\n  width: {baseline: cnn, variants: [cnn_wide]}\n"
    )
    jobs = planned_jobs(repo, "my.yaml")
    trained = {w for rule, w in jobs if rule == "train"}
    defaults = yaml.safe_load((repo / "config.yaml").read_text())
    variants = {*defaults["variants"], "cnn_wide"}
    seeds = defaults["training"]["seeds"]
    assert trained == {f"variant={v}, seed={s}" for v in variants for s in seeds}
    figures = {w for rule, w in jobs if rule == "comparison_figures"}
    assert figures == {f"comparison={c}" for c in (*defaults["comparisons"], "width")}
