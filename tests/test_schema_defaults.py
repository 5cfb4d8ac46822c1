"""The config schema is the only place for defaults: no library module repeats one.

Every default of workflow/schemas/config.schema.yaml is looked for in the package's syntax
trees, as a fallback of ``.get(key, default)``, as the default of a function parameter or as
the default of a dataclass field named like the key. The workflow validates every config
against the schema (filling its defaults) before a job runs, so the library reads the
validated value and a second default could only disagree with the schema one day.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest
import yaml
from repo_copy import ROOT

PACKAGE = ROOT / "workflow" / "src" / "biomedclf"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def schema_defaults(node: dict, path: str = "") -> Iterator[tuple[str, str, object]]:
    """(dotted key, key, default) of every scalar default (not null, not a container)."""
    for key, sub in (node.get("properties") or {}).items():
        where = f"{path}.{key}" if path else key
        default = sub.get("default")
        if default is not None and not isinstance(default, (dict, list)):
            yield where, key, default
        yield from schema_defaults(sub, where)


def _same(value: object, default: object) -> bool:
    """Equal and of the same kind (``True`` is not ``1``)."""
    return (
        type(value) is type(default)
        and value == default
        or (
            isinstance(value, (int, float))
            and isinstance(default, (int, float))
            and not isinstance(value, bool)
            and not isinstance(default, bool)
            and float(value) == float(default)
        )
    )


def _literal(node: ast.AST | None) -> object:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def fallbacks(tree: ast.AST) -> Iterator[tuple[int, str, object]]:
    """(line, name, default) of every ``.get("name", default)``, parameter default and
    dataclass field default in ``tree``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value, _literal(node.args[1])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                yield node.lineno, arg.arg, _literal(default)
        elif isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    yield stmt.lineno, stmt.target.id, _literal(stmt.value)


def repeated_defaults() -> list[str]:
    defaults: dict[str, list[tuple[str, object]]] = {}
    for where, key, default in schema_defaults(yaml.safe_load(SCHEMA.read_text())):
        defaults.setdefault(key, []).append((where, default))
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name, value in fallbacks(ast.parse(path.read_text())):
            for where, default in defaults.get(name, []):
                if value is not None and _same(value, default):
                    rel = path.relative_to(ROOT)
                    found.append(f"{rel}:{line}: {name}={value!r} repeats the default of {where}")
    return found


def test_no_module_repeats_a_schema_default() -> None:
    assert repeated_defaults() == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("cfg.get('source', 'synthetic')", [(1, "source", "synthetic")]),
        ("def f(epochs=10): pass", [(1, "epochs", 10)]),
        ("class S:\n    lr: float = 0.001", [(2, "lr", 0.001)]),
        ("cfg['source']", []),
    ],
)
def test_fallbacks_are_found(source: str, expected: list) -> None:
    assert list(fallbacks(ast.parse(source))) == expected


def test_schema_defaults_are_read() -> None:
    found = {where: d for where, _, d in schema_defaults(yaml.safe_load(SCHEMA.read_text()))}
    assert found["data.source"] == "synthetic"
    assert found["training.epochs"] == 10
    assert found["statistics.confidence"] == 0.95


def test_fallback_matching_ignores_bool_int_confusion() -> None:
    assert _same(0.001, 1.0e-3) and _same(10, 10.0)
    assert not _same(True, 1) and not _same("1", 1)
