"""Digests of the package modules a job runs, and the versions it ran with.

Snakemake notices an edited ``script:`` file but not the modules that script imports. Each
rule therefore carries, in its ``params``, a digest of the package modules its job runs: an
edit to ``models.py`` reruns training, an edit to ``plots.py`` reruns only the figures.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def code_digest(*modules: str) -> str:
    """SHA-256 (first 16 hex digits) of the named package files, e.g. ``"models.py"``.

    A name that ends in ``/`` stands for every ``.py`` file in that sub-package.
    """
    h = hashlib.sha256()
    for name in modules:
        path = PACKAGE_DIR / name
        files = sorted(path.glob("*.py")) if name.endswith("/") else [path]
        if not files or not all(f.is_file() for f in files):
            raise FileNotFoundError(f"{path}: no such module in the biomedclf package")
        for f in files:
            h.update(f.relative_to(PACKAGE_DIR).as_posix().encode())
            h.update(b"\0")
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def environment() -> dict[str, str]:
    """Versions of Python, the platform and the main libraries, for outputs to record."""
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("biomedclf", "torch", "torchvision", "numpy", "scikit-learn", "snakemake"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = "not installed"
    return info
