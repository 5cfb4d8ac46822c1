"""Running snakemake in a copy of the repository, and reading what a dry run would do.

Shared by the workflow tests (tests/test_workflow.py, test_reruns.py, test_resume.py,
test_readme_commands.py); the copy comes from repo_copy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SMOKE = "configs/smoke.yaml"


def snakemake(
    repo: Path, *args: str, check: bool = True, timeout: int = 900
) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``repo``; raises with the output when it fails and ``check``."""
    proc = subprocess.run(
        [*SNAKEMAKE, *args], cwd=repo, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def smk(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Targets and flags first, then ``--cores 2 --configfile configs/smoke.yaml`` (the
    option takes several values, so nothing may follow it)."""
    return snakemake(repo, *args, "--cores", "2", "--configfile", SMOKE, check=check)


def jobs_of(output: str) -> Counter:
    """(rule, wildcards) of every job in a snakemake log or dry-run listing."""
    jobs: Counter = Counter()
    rule = None
    for line in output.splitlines():
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


def job_inputs(output: str, rule: str) -> list[list[str]]:
    """The input files of every job of ``rule`` in a dry run's listing."""
    jobs, current = [], None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            current = m.group(1)
        elif current == rule and line.strip().startswith("input: "):
            jobs.append(line.strip()[len("input: ") :].split(", "))
    return jobs


def planned_jobs(repo: Path, configfile: str = SMOKE) -> Counter:
    """(rule, wildcards) of every job a dry run would run."""
    proc = snakemake(repo, "--dry-run", "--cores", "2", "--configfile", configfile)
    return jobs_of(proc.stdout + proc.stderr)


def planned_rules(repo: Path, configfile: str = SMOKE) -> set[str]:
    return {rule for rule, _ in planned_jobs(repo, configfile)}


@contextmanager
def edited(path: Path, new_text: str) -> Iterator[str]:
    """Write ``new_text`` into ``path`` for the duration, then restore the text and the
    modification time (Snakemake reruns a rule whose script is newer than its outputs)."""
    original = path.read_text()
    stat = path.stat()
    path.write_text(new_text)
    try:
        yield original
    finally:
        path.write_text(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def edit_yaml(path: Path, change: Callable[[dict], None]) -> str:
    """Apply ``change`` to the YAML file at ``path``; returns the original text."""
    original = path.read_text()
    data = yaml.safe_load(original)
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return original


def jobs_after_config_change(repo: Path, change: Callable[[dict], None]) -> Counter:
    """The dry-run job list with ``change`` applied to the smoke config, then reverted."""
    path = repo / SMOKE
    data = yaml.safe_load(path.read_text())
    change(data)
    with edited(path, yaml.safe_dump(data, sort_keys=False)):
        return planned_jobs(repo)


def smoke_config(repo: Path) -> dict:
    return yaml.safe_load((repo / SMOKE).read_text())
