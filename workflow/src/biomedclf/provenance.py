"""Digests of the code a job runs, and the versions it ran with.

Snakemake notices an edited ``script:`` file (by its modification time) but not the package
modules that script imports. Each rule therefore carries, in its ``params``, the digest of its
script (:func:`script_digest`): the script's own text and every package module it imports,
transitively, found by reading the import statements. Nothing is listed by hand, so an edit
to ``models.py`` reruns training, an edit to ``plots.py`` reruns only the figures, and an edit
to the script itself reruns its rule even when its modification time says otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def module_closure(*modules: str) -> list[Path]:
    """The named package files and every package module they import, transitively.

    ``modules`` are paths inside the package such as ``"train.py"`` or ``"data/cache.py"``.
    Imports are read from the source (``import biomedclf.x``, ``from biomedclf.x import y``,
    relative imports), including those inside functions; the ``__init__.py`` of each package
    on the way is part of the closure, since importing a module runs it.
    """
    seen: set[Path] = set()
    todo = [_package_file(m) for m in modules]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for parent in path.relative_to(PACKAGE_DIR).parents:
            init = PACKAGE_DIR / parent / "__init__.py"
            if init.is_file() and init not in seen:
                todo.append(init)
        todo.extend(_imported_files(path))
    return sorted(seen)


def code_digest(*modules: str) -> str:
    """SHA-256 (first 16 hex digits) of the named package files and all they import."""
    return _digest(module_closure(*modules))


def script_closure(script: Path | str) -> list[Path]:
    """The package modules a script outside the package imports, transitively."""
    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"{script}: no such script")
    direct = [p.relative_to(PACKAGE_DIR).as_posix() for p in _imported_files(script.resolve())]
    return module_closure(*direct) if direct else []


def script_digest(script: Path | str) -> str:
    """SHA-256 (first 16 hex digits) of a script's text and of every package module it runs."""
    script = Path(script)
    h = hashlib.sha256(script.read_bytes())
    h.update(b"\0")
    h.update(_digest(script_closure(script)).encode())
    return h.hexdigest()[:16]


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _package_file(name: str) -> Path:
    path = PACKAGE_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such module in the biomedclf package")
    return path


def _resolve(dotted: str) -> Path | None:
    """File of ``biomedclf.a.b`` (a module or a package's ``__init__.py``), if it exists."""
    parts = dotted.split(".")
    if parts[0] != "biomedclf":
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_files(path: Path) -> list[Path]:
    """Package files ``path`` imports (parsed once per version of the file: a workflow
    computes a digest per kind of job, and the closures share most of their modules)."""
    st = path.stat()
    return list(_imported_files_cached(path, st.st_mtime_ns, st.st_size))


#: an import statement at the start of a line: ``from X import a, b`` (names possibly in
#: parentheses over several lines) or ``import X, Y as Z``
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)"
    r"|import[ \t]+([^\n]*))",
    re.MULTILINE,
)


def _names(text: str) -> list[str]:
    """``a, b as c  # note`` or ``(a,\n b)`` -> ``["a", "b"]``."""
    text = re.sub(r"#[^\n]*", "", text).strip().strip("()")
    return [part.split()[0] for part in text.split(",") if part.strip()]


@functools.lru_cache(maxsize=256)
def _imported_files_cached(path: Path, _mtime_ns: int, _size: int) -> tuple[Path, ...]:
    """Import statements are found with a regular expression rather than by parsing: every
    snakemake call computes the digests, and parsing the package took about 0.25 s of it. An
    import-like line inside a string can only add a module (a needless rerun, never a missed
    one); the tests check the result against an AST walk of the package."""
    inside = path.is_relative_to(PACKAGE_DIR)
    package = ["biomedclf", *path.relative_to(PACKAGE_DIR).parent.parts] if inside else []
    found = []
    for match in _IMPORT.finditer(path.read_text()):
        source, imported, plain = match.groups()
        names: list[str] = []
        if plain is not None:
            names = _names(plain)
        else:
            level = len(source) - len(source.lstrip("."))
            module = source[level:]
            if level and not inside:
                continue  # a relative import outside the package names no package module
            if level:
                anchor = package[: len(package) - level + 1]
                module = ".".join(anchor + ([module] if module else []))
            names = [module] + [f"{module}.{name}" for name in _names(imported)]
        for name in names:
            resolved = _resolve(name)
            if resolved is not None:
                found.append(resolved)
    return tuple(found)


def environment() -> dict[str, str]:
    """Versions of Python, the platform and the main libraries, for outputs to record."""
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("biomedclf", "torch", "torchvision", "numpy", "scikit-learn", "snakemake"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = "not installed"
    return info
