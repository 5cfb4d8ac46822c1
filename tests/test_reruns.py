"""An edit to any module of the package, or to any rule's script, reruns exactly the jobs
whose code it is, and what follows from their outputs: no more, no less.

One test per module (generated from the package's files, so a new module without an entry
here fails) edits it in the finished smoke study, keeps its modification time, and compares
the rules of the dry run with the expectation written below by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from repo_copy import ROOT
from workflow_helpers import planned_rules

pytestmark = pytest.mark.workflow

PACKAGE = Path("workflow") / "src" / "biomedclf"
JOBS = {
    "synthesize",
    "prepare",
    "train",
    "evaluate",
    "architecture",
    "stats",
    "study_tables",
    "comparison_tables",
    "study_figures",
    "comparison_figures",
    "summary",
    "explain",
    "explain_figures",
}
TABLES = {"study_tables", "comparison_tables"}
FIGURES = {"study_figures", "comparison_figures"}
AGGREGATES = {"stats", *TABLES, *FIGURES, "summary"}

#: Rules whose own script runs the module (directly or through other package modules).
#: Modules only the Snakefile uses (config, schema, provenance, errors) rerun no job by
#: themselves: what they produce, the jobs' parameters, is compared instead.
RUNS_MODULE: dict[str, set[str]] = {
    "__init__.py": JOBS,
    "logs.py": JOBS,
    "io.py": JOBS - {"synthesize"},
    "runs.py": JOBS - {"synthesize", "prepare"},
    "config.py": set(),
    "schema.py": set(),
    "provenance.py": set(),
    "errors.py": set(),
    "cli.py": set(),  # the `biomedclf predict` command, run by users, not by the workflow
    "predict_files.py": set(),
    "data/__init__.py": {"synthesize", "prepare", "train", "explain"},
    "data/synthetic.py": {"synthesize"},
    "data/synthetic_lesions.py": {"synthesize"},
    "data/cache.py": {"prepare", "train", "explain"},
    # every other module under data/: {"prepare"} (see expected_rules)
    "augment.py": {"train", "explain"},
    "devices.py": {"train"},
    "models.py": {"train", "architecture", "explain"},
    "model_summary.py": {"architecture"},
    "losses.py": {"train", "explain"},
    "predict.py": {"train", "explain"},
    "settings.py": {"train"},
    "speedups.py": {"train"},
    "train.py": {"train"},
    "train_outputs.py": {"train"},
    "train_state.py": {"train"},
    "evaluate.py": {"evaluate"},
    "metrics.py": {"train", "evaluate", *AGGREGATES},  # train: its Youden threshold
    "stats.py": {"stats"},
    "bootstrap.py": {"stats"},
    "calibration.py": {"evaluate", "stats", *FIGURES, "summary", "explain", "explain_figures"},
    "multiclass.py": {"evaluate", "stats", *FIGURES, "summary", "explain", "explain_figures"},
    "resampled.py": {"stats"},
    "ranking.py": {"stats"},
    "ranking_table.py": {*TABLES, "summary"},
    "variant_stats.py": {"stats"},
    "stats_variants.py": {"architecture", *AGGREGATES, "explain_figures"},
    "per_class_table.py": {*TABLES, "summary"},
    "class_plots.py": FIGURES,
    "figure_style.py": {*FIGURES, "explain_figures"},
    "comparison_stats.py": {"stats"},
    "descriptive.py": {"stats"},
    "significance.py": {"stats", *TABLES, "summary"},
    "run_outputs.py": {"stats", *FIGURES, "summary", "explain", "explain_figures"},
    "history.py": {"train", "stats", *FIGURES, "summary", "explain", "explain_figures"},
    "stats_file.py": {"architecture", *AGGREGATES, "explain_figures"},
    "typed_json.py": {"architecture", *AGGREGATES, "explain_figures"},
    "rendering.py": {"architecture", *TABLES, *FIGURES, "summary"},
    "architecture_table.py": {"architecture"},
    "tables.py": TABLES,
    "study_tables.py": {*TABLES, "summary"},
    "comparison_tables.py": {*TABLES, "summary"},
    "plots.py": FIGURES,
    "summary.py": {"summary"},
    "summary_setup.py": {"summary"},
    "explain.py": {"explain"},
    "explain_layout.py": {"explain", "summary"},
    "explain_files.py": {"explain", "explain_figures", "summary"},
    "explain_sanity.py": {"explain", "explain_figures", "summary"},
    "explain_select.py": {"explain"},
    "explain_mosaic.py": {"explain_figures"},
    "explain_plots.py": {"explain_figures"},
    "explain_gallery.py": {"explain_figures"},
    "explain_summary.py": {"summary"},
    # cross-validation: only the summary runs in a study without folds
    # (tests/test_workflow_crossval.py reruns a cross-validated study)
    "crossval.py": set(),
    "crossval_stats.py": set(),
    "crossval_plots.py": set(),
    "crossval_tables.py": {"summary"},
    "crossval_summary.py": {"summary"},
    "data/folds.py": {"prepare", "train"},
    "data/fold_cache.py": {"train"},
}

#: Rules that read a rule's outputs.
READERS = {
    "synthesize": {"prepare"},
    "prepare": {"train", "summary", "explain"},
    "train": {"evaluate", *AGGREGATES, "explain"},
    "evaluate": {*AGGREGATES, "explain"},
    "stats": AGGREGATES - {"stats"},
    "explain": {"explain_figures", "summary"},
}


def with_readers(rules: set[str]) -> set[str]:
    """``rules`` and every rule downstream of them, plus ``all`` when anything reruns."""
    todo, done = list(rules), set()
    while todo:
        rule = todo.pop()
        if rule not in done:
            done.add(rule)
            todo += READERS.get(rule, set())
    return done | {"all"} if done else set()


def expected_rules(module: str) -> set[str]:
    if module in RUNS_MODULE:
        return with_readers(RUNS_MODULE[module])
    if module.startswith("data/"):
        return with_readers({"prepare"})
    raise AssertionError(f"{module}: new module; add the rules that run it to RUNS_MODULE")


def package_modules() -> list[str]:
    base = ROOT / PACKAGE
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*.py"))


def rules_after_edit(repo: Path, path: Path) -> set[str]:
    """The dry run's rules with a comment appended to ``path``, its modification time kept
    (so only the code digests can notice), then reverted."""
    original, stat = path.read_text(), path.stat()
    path.write_text(original + "\n# edited\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    try:
        return planned_rules(repo)
    finally:
        path.write_text(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("module", package_modules())
def test_module_edit_reruns_exactly_its_jobs(smoke_study: Path, module: str) -> None:
    got = rules_after_edit(smoke_study, smoke_study / PACKAGE / module)
    assert got == expected_rules(module), (
        f"unexpected: {got - expected_rules(module)}, missing: {expected_rules(module) - got}"
    )


SCRIPTS = {
    "synthesize": "synthesize.py",
    "prepare": "prepare.py",
    "train": "train.py",
    "evaluate": "evaluate.py",
    "architecture": "architecture.py",
    "stats": "stats.py",
    "study_tables": "study_tables.py",
    "comparison_tables": "comparison_tables.py",
    "study_figures": "study_figures.py",
    "comparison_figures": "comparison_figures.py",
    "summary": "summary.py",
    "explain": "explain.py",
    "explain_figures": "explain_figures.py",
}


def test_every_script_is_covered() -> None:
    from test_workflow_crossval import CV_SCRIPTS

    scripts = {p.name for p in (ROOT / "workflow" / "scripts").glob("*.py")}
    assert scripts == set(SCRIPTS.values()) | set(CV_SCRIPTS) and set(SCRIPTS) == JOBS


@pytest.mark.parametrize("rule", sorted(SCRIPTS))
def test_script_edit_reruns_its_rule(smoke_study: Path, rule: str) -> None:
    path = smoke_study / "workflow" / "scripts" / SCRIPTS[rule]
    assert rules_after_edit(smoke_study, path) == with_readers({rule})
