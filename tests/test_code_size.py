"""The library stays small enough to read: functions and modules within the project's limits.

Functions of at most about 60 lines (hard limit here: 80) and modules of at most about 400
(hard limit: 420). Run this file with ``-s`` to see the largest functions and modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

from biomedclf.provenance import PACKAGE_DIR

MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 420


def function_lengths() -> list[tuple[int, str]]:
    """(lines, "module:function") of every function and method of the package."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                found.append((lines, f"{path.relative_to(PACKAGE_DIR)}:{node.name}"))
    return sorted(found, reverse=True)


def module_lengths() -> list[tuple[int, str]]:
    return sorted(
        (
            (len(p.read_text().splitlines()), str(p.relative_to(PACKAGE_DIR)))
            for p in PACKAGE_DIR.rglob("*.py")
        ),
        reverse=True,
    )


def test_no_function_is_too_long() -> None:
    lengths = function_lengths()
    print("largest functions:", lengths[:3])
    too_long = [(n, f) for n, f in lengths if n > MAX_FUNCTION_LINES]
    assert not too_long, f"split these functions (limit {MAX_FUNCTION_LINES} lines): {too_long}"


def test_no_module_is_too_long() -> None:
    lengths = module_lengths()
    print("largest modules:", lengths[:3])
    too_long = [(n, m) for n, m in lengths if n > MAX_MODULE_LINES]
    assert not too_long, f"split these modules (limit {MAX_MODULE_LINES} lines): {too_long}"


def test_the_library_does_not_speak_of_the_course() -> None:
    """The README may say the default study reproduces a course homework; the library
    describes the software itself."""
    hits = [
        f"{p.relative_to(PACKAGE_DIR)}:{i}"
        for p in sorted(PACKAGE_DIR.rglob("*.py"))
        for i, line in enumerate(Path(p).read_text().splitlines(), 1)
        if "homework" in line.lower()
    ]
    assert not hits, hits
