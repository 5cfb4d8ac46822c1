"""A copy of the working tree to run snakemake in, for the workflow, cluster and benchmark runs.

The copy leaves out environments, outputs and Snakemake's state, so each run starts clean and
never touches the checkout's own ``results/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".venv",
    ".venv-user",
    ".git",
    ".snakemake",
    "results",
    "logs",
    "__pycache__",
    ".pytest_cache",
    "*.egg-info",
    "benchmarks_out",
    ".checkpoints",
)


def copy_repo(dest: Path) -> Path:
    """Copy the working tree to ``dest`` (symlinks kept, e.g. ``profiles``) with an empty
    ``results/``; returns ``dest``."""
    shutil.copytree(ROOT, dest, symlinks=True, ignore=IGNORE)
    (dest / "results").mkdir(exist_ok=True)
    return dest
