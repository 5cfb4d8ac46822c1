"""The workflow end to end: snakemake on configs/smoke.yaml in a temporary copy of the repo.

One full run is shared by the module; each rerun case is then checked by the job list of a
dry run after a single, reverted change.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from repo_copy import ROOT, copy_repo

pytestmark = pytest.mark.workflow

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
def smk(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", "--configfile", "configs/smoke.yaml", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(repo: Path) -> Counter:
    """(rule, wildcards) of every job a dry run would run."""
    proc = smk(repo, "--dry-run")
    out = proc.stdout + proc.stderr
    jobs: Counter = Counter()
    rule = None
    for line in out.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            rule = m.group(1)
            jobs[(rule, "")] += 1
            continue
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and rule:
            jobs[(rule, "")] -= 1
            jobs[(rule, m.group(1))] += 1
    return +jobs


def edit_yaml(path: Path, change) -> str:
    original = path.read_text()
    data = yaml.safe_load(original)
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return original


def jobs_after_config_change(repo: Path, change) -> Counter:
    """The dry-run job list with ``change`` applied to the smoke config, then reverted."""
    path = repo / "configs" / "smoke.yaml"
    original = edit_yaml(path, change)
    try:
        return planned_jobs(repo)
    finally:
        path.write_text(original)


AGGREGATES = {"stats", "study_tables", "comparison_tables", "study_figures", "comparison_figures", "summary", "all"}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("wf") / "repo")
    smk(repo)
    return repo


def smoke_config(repo: Path) -> dict:
    return yaml.safe_load((repo / "configs" / "smoke.yaml").read_text())


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
        for f in (f"tables/comparison_{comp}.md", f"tables/stats_{comp}.md",
                  f"figures/curves_{comp}.png", f"figures/roc_{comp}.png"):
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
        assert {f"curves_{comp}.png", f"roc_{comp}.png", f"comparison_{comp}.md",
                f"stats_{comp}.md"} <= files, (comp, sorted(files))  # fmt: skip
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
    assert per_run == {(r, f"variant=cnn_dropout, seed={s}") for r in ("train", "evaluate") for s in (0, 1)}
    assert {k[0] for k in jobs} - {"train", "evaluate"} <= AGGREGATES | {"architecture"}
    assert "prepare" not in {k[0] for k in jobs}


def test_added_variant_and_seed_run_only_their_jobs(study):
    def add(c):
        c["variants"]["cnn_l2"] = {"model": "conv", "weight_decay": 0.01}

    jobs = jobs_after_config_change(study, add)
    per_run = {k for k in jobs if k[0] in ("train", "evaluate")}
    assert per_run == {(r, f"variant=cnn_l2, seed={s}") for r in ("train", "evaluate") for s in (0, 1)}

    jobs = jobs_after_config_change(study, lambda c: c["training"].update(seeds=[0, 1, 2]))
    per_run = {k for k in jobs if k[0] in ("train", "evaluate")}
    variants = list(smoke_config(study)["variants"])
    assert per_run == {(r, f"variant={v}, seed=2") for r in ("train", "evaluate") for v in variants}


def jobs_after_module_edit(repo: Path, module: str) -> Counter:
    """The dry-run job list with a comment appended to a package module, then reverted."""
    path = repo / "workflow" / "src" / "biomedclf" / module
    original = path.read_text()
    path.write_text(original + "\n# edited\n")
    try:
        return planned_jobs(repo)
    finally:
        path.write_text(original)


def test_model_module_edit_reruns_training_and_what_follows(study):
    jobs = jobs_after_module_edit(study, "models.py")
    rules = Counter(k[0] for k in jobs for _ in range(jobs[k]))
    cfg = smoke_config(study)
    n_runs = len(cfg["variants"]) * len(cfg["training"]["seeds"])
    assert rules["train"] == n_runs and rules["evaluate"] == n_runs
    assert rules["prepare"] == 0 and rules["synthesize"] == 0


def test_plotting_module_edit_reruns_only_figures(study):
    jobs = jobs_after_module_edit(study, "plots.py")
    assert {k[0] for k in jobs} - {"all"} == {"study_figures", "comparison_figures"}


def test_image_size_change_reruns_everything_from_preparation(study):
    jobs = jobs_after_config_change(study, lambda c: c["data"].update(image_size=20))
    rules = {k[0] for k in jobs}
    assert {"synthesize", "prepare", "train", "evaluate", "summary"} <= rules


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c.update(bogus=1), "bogus"),
        (lambda c: c["training"].update(epochs="two"), "two"),
        (lambda c: c["training"].update(epochs=0), "epochs"),
        (lambda c: c["variants"]["cnn"].update(model="vit"), "vit"),
        (lambda c: c["comparisons"]["dropout"].update(variants=["cnn_dropuot"]), "comparisons.dropout"),
    ],
    ids=["unknown-key", "wrong-type", "out-of-range", "unknown-model", "unknown-variant"],
)
def test_config_errors_name_the_key(tmp_path, change, expected):
    repo = copy_repo(tmp_path / "repo")
    edit_yaml(repo / "configs" / "smoke.yaml", change)
    proc = smk(repo, "--dry-run", check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr


def test_keep_going_keeps_the_other_variants(tmp_path):
    repo = copy_repo(tmp_path / "repo")

    def broken(c):
        c["variants"] = {
            "ann": {"model": "linear"},
            "broken": {"model": "resnet18", "weights": "/nonexistent/weights.pt"},
        }
        c["comparisons"] = {"cmp": {"baseline": "ann", "variants": ["broken"]}}
        c["training"]["seeds"] = [0]

    edit_yaml(repo / "configs" / "smoke.yaml", broken)
    proc = smk(repo, "--keep-going", check=False)
    assert proc.returncode != 0
    out = repo / "results" / "smoke"
    assert (out / "eval" / "ann" / "seed0" / "metrics.json").exists()
    assert not (out / "train" / "broken" / "seed0" / "model.pt").exists()
    log = (repo / "logs" / "smoke" / "train" / "broken" / "seed0.log").read_text()
    assert "/nonexistent/weights.pt" in log
