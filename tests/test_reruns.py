"""An edit to any module of the package, or to any rule's script, reruns exactly the jobs
whose code it is, and what follows from their outputs: no more, no less.

One test per module (generated from the package's files) edits it in the finished smoke
study, keeps its modification time, and compares the rules of the dry run with the
expectation. The expectation comes from two statements written here:

* which rules run a module: those whose script imports it, directly or through other package
  modules, found by walking the scripts' and modules' syntax trees (independently of
  ``biomedclf.provenance``, which finds imports with a regular expression), and
* the layering of the stages, per subpackage and rule file (:data:`MAY_RUN_IN`): a stage's
  modules run in the jobs of its own rule file and of later stages, never earlier, and
  ``config``, ``predict`` and ``cli`` in no job at all.

Adding, moving or merging a module inside a stage therefore needs no edit here.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from repo_copy import ROOT
from workflow_helpers import SMOKE, planned_rules

pytestmark = pytest.mark.workflow

PACKAGE = Path("workflow") / "src" / "biomedclf"
RULES = Path("workflow") / "rules"

#: For each subpackage, the rule files (workflow/rules/{name}.smk) whose jobs may run its
#: modules; the shared top-level modules may run anywhere.
MAY_RUN_IN: dict[str, set[str]] = {
    "config": set(),  # the Snakefile's own: jobs compare their parameters instead
    "predict": set(),  # `biomedclf predict`, run by users
    "data": {"data", "train", "explain", "sweeps"},
    # MLflow and TensorBoard: the training job's callbacks, what the later jobs add
    "tracking": {"train", "evaluate", "crossval", "stats", "sweeps", "report"},
    "train": {"train", "evaluate", "crossval", "explain", "stats", "sweeps", "report"},
    "evaluate": {"evaluate", "crossval", "explain", "stats", "sweeps", "report"},
    "crossval": {"crossval", "report"},
    "explain": {"explain", "report"},
    "stats": {"stats", "report"},
    # a sweep's choice and its chosen point's runs (the chosen point may train)
    "sweeps": {"sweeps", "report"},
    "report": {"report"},
}

#: Top-level modules no job runs: the command line, and what only the Snakefile uses.
NO_JOB = {"cli.py", "errors.py", "provenance.py"}

#: Modules built and unit-tested ahead of the rules that will run them (none at present). The
#: test fails once a job runs one of them, so that its entry goes when it is wired in.
NOT_YET_RUN: set[str] = set()

#: Rules that read a rule's outputs.
READERS = {
    "synthesize": {"prepare"},
    "prepare": {"train", "summary", "explain"},
    "train": {"evaluate", "stats", "study_tables", "comparison_tables", "study_figures",
              "comparison_figures", "summary", "explain"},
    "evaluate": {"stats", "study_tables", "comparison_tables", "study_figures",
                 "comparison_figures", "summary", "explain"},
    "stats": {"study_tables", "comparison_tables", "study_figures", "comparison_figures",
              "summary"},
    "explain": {"explain_figures", "summary"},
}  # fmt: skip


#: A rule and the script it runs, in a rule file.
RULE_SCRIPT = re.compile(r"^\s*rule (\w+):(.*?)^\s*script:\s*\n\s*\"([^\"]+)\"", re.M | re.S)


def rule_scripts() -> dict[str, tuple[str, str]]:
    """rule -> (its rule file's stem, its script's file name), read from the rule files."""
    found = {}
    for smk in sorted((ROOT / RULES).glob("*.smk")):
        text = smk.read_text()
        for m in RULE_SCRIPT.finditer(text):
            found[m.group(1)] = (smk.stem, Path(m.group(3)).name)
    return found


@cache
def smoke_rules() -> frozenset[str]:
    """The rules the smoke study defines (those of cross-validation are not among them)."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules", "--configfile", SMOKE],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return frozenset(line.strip() for line in proc.stdout.splitlines() if line.strip())


def _module_file(dotted: str) -> Path | None:
    parts = dotted.split(".")
    if parts[0] != "biomedclf":
        return None
    base = ROOT / PACKAGE / Path(*parts[1:]) if len(parts) > 1 else ROOT / PACKAGE
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[Path]:
    """Package files ``path`` imports, from its syntax tree (imports inside functions too)."""
    inside = path.is_relative_to(ROOT / PACKAGE)
    package = ["biomedclf", *path.relative_to(ROOT / PACKAGE).parent.parts] if inside else []
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                module = ".".join(anchor + [module] * bool(module))
            names += [module] + [f"{module}.{a.name}" for a in node.names]
    return {f for f in map(_module_file, names) if f is not None}


@cache
def closure(script: str) -> frozenset[Path]:
    """Every package file a script runs: what it imports, transitively, with the
    ``__init__.py`` of each package on the way."""
    seen: set[Path] = set()
    todo = list(_imports(ROOT / "workflow" / "scripts" / script))
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for parent in path.relative_to(ROOT / PACKAGE).parents:
            todo.append(ROOT / PACKAGE / parent / "__init__.py")
        todo += _imports(path)
    return frozenset(seen)


def running_rules(module: str) -> set[str]:
    """The smoke study's rules whose script runs ``module`` (a path inside the package)."""
    path = ROOT / PACKAGE / module
    return {
        rule
        for rule, (_, script) in rule_scripts().items()
        if rule in smoke_rules() and path in closure(script)
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
def test_module_runs_only_in_its_stage_and_later(module: str) -> None:
    stage = module.split("/")[0] if "/" in module else None
    files = {rule_scripts()[r][0] for r in running_rules(module)}
    if stage is None:
        assert (module in NO_JOB) == (not files), f"{module}: run by rule files {files}"
    else:
        assert files <= MAY_RUN_IN[stage], f"{module} ({stage}) runs in {files}"
        # with or without folds, some job runs every module of a stage that jobs run
        path = ROOT / PACKAGE / module
        anywhere = [r for r, (_, script) in rule_scripts().items() if path in closure(script)]
        runs = bool(MAY_RUN_IN[stage]) and module not in NOT_YET_RUN
        assert bool(anywhere) == runs, f"{module}: run by {anywhere}"


@pytest.mark.parametrize("module", package_modules())
def test_module_edit_reruns_exactly_its_jobs(smoke_study: Path, module: str) -> None:
    expected = with_readers(running_rules(module))
    got = rules_after_edit(smoke_study, smoke_study / PACKAGE / module)
    assert got == expected, f"unexpected: {got - expected}, missing: {expected - got}"


def test_every_rule_with_a_script_is_found() -> None:
    scripts = {p.name for p in (ROOT / "workflow" / "scripts").glob("*.py")}
    assert {s for _, s in rule_scripts().values()} == scripts
    assert smoke_rules() - {"all"} <= set(rule_scripts())


@pytest.mark.parametrize("rule", sorted(rule_scripts()))
def test_script_edit_reruns_its_rule(smoke_study: Path, rule: str) -> None:
    if rule not in smoke_rules():
        pytest.skip(f"{rule}: not in the smoke study (its own workflow test runs it)")
    path = smoke_study / "workflow" / "scripts" / rule_scripts()[rule][1]
    assert rules_after_edit(smoke_study, path) == with_readers({rule})
