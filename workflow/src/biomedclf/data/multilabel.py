"""Multi-label tables: which findings each image has, read from a manifest's rows.

Two layouts are read (rows as ``csv.DictReader`` gives them, the header on line 1):

* joined, NIH ChestX-ray14 style (:func:`parse_joined`): one column (``labels``; NIH's
  ``Finding Labels``) of ``|``-separated names such as ``Effusion|Infiltration``; the
  no-finding name (NIH's ``No Finding``) stands alone and makes every label negative;
* one column per label, CheXpert style (:func:`parse_columns`): ``1`` positive, ``0``
  negative, ``-1`` uncertain, blank unknown (``1.0``, ``0.0``, ``-1.0`` are read alike).

Both give a :class:`LabelTable`: the label names in a stable order (as configured, else sorted)
and a code per image and label (:data:`POSITIVE`, :data:`NEGATIVE`, :data:`UNCERTAIN`,
:data:`UNKNOWN`). :meth:`LabelTable.resolve` applies the policies for uncertain and blank
entries (``zeros``, ``ones`` or ``ignore``: CheXpert's U-Zeros, U-Ones and U-Ignore) and
returns the targets (N x L int8, 1 or 0) and the mask (N x L bool, False where an entry is
ignored by the loss and the metrics). :func:`label_counts` counts each label's codes per
split for ``summary.json``; :func:`counts_markdown` writes them as a table for ``summary.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

POSITIVE, NEGATIVE, UNCERTAIN, UNKNOWN = 1, 0, -1, -2
#: What an uncertain or blank entry becomes (``data.multilabel.uncertain``, ``.blank``).
POLICIES = ("zeros", "ones", "ignore")
#: The counts per label, in this order, and the code each counts.
COUNT_KEYS = {"positive": POSITIVE, "negative": NEGATIVE, "uncertain": UNCERTAIN}
COUNT_KEYS_ALL = (*COUNT_KEYS, "unknown")
_VALUES = {1.0: POSITIVE, 0.0: NEGATIVE, -1.0: UNCERTAIN}

Rows = Sequence[Mapping[str, str | None]]


class LabelError(ValueError):
    """A label table cannot be read; the message names the file, column, line and the fix."""


def _shown(items: Sequence[str], limit: int = 5) -> str:
    """The first ``limit`` items joined by semicolons, and how many more there are."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


@dataclass(frozen=True)
class LabelTable:
    """Label names (output order) and one code per image and label (N x L int8)."""

    names: tuple[str, ...]
    codes: np.ndarray

    def resolve(self, uncertain: str, blank: str) -> tuple[np.ndarray, np.ndarray]:
        """Targets (N x L int8, 1 or 0) and mask (N x L bool, False = ignored) after mapping
        uncertain entries by ``uncertain`` and blank ones by ``blank`` (each one of
        :data:`POLICIES`); ignored entries hold target 0."""
        return resolve_codes(self.codes, uncertain, blank)


def resolve_codes(codes: np.ndarray, uncertain: str, blank: str) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`LabelTable.resolve` on a code matrix."""
    codes = np.asarray(codes)
    targets = (codes == POSITIVE).astype(np.int8)
    mask = np.ones(codes.shape, dtype=bool)
    for key, policy, code in (("uncertain", uncertain, UNCERTAIN), ("blank", blank, UNKNOWN)):
        if policy not in POLICIES:
            raise LabelError(
                f"data.multilabel.{key}: {policy!r}; use one of {', '.join(POLICIES)} (what an "
                f"{'uncertain (-1)' if code == UNCERTAIN else 'unknown (blank)'} label becomes)"
            )
        hit = codes == code
        if policy == "ones":
            targets[hit] = 1
        elif policy == "ignore":
            mask[hit] = False
    return targets, mask


def _check_names(names: Sequence[str] | None, where: str) -> tuple[str, ...] | None:
    """Configured label names as a tuple; raise on duplicates or blanks."""
    if names is None:
        return None
    names = tuple(str(n).strip() for n in names)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names or not names:
        raise LabelError(
            f"data.classes for {where}: {list(names)} must list distinct, non-empty label names"
            f"{' (repeated: ' + ', '.join(dupes) + ')' if dupes else ''}"
        )
    return names


def _missing_column(source: str, columns: Sequence[str], rows: Rows, fix: str) -> None:
    """Raise when a row lacks one of ``columns`` (the header does not name it)."""
    if not rows:
        raise LabelError(f"{source}: no rows; add one row per image")
    header = list(rows[0])
    missing = [c for c in columns if c not in header]
    if missing:
        raise LabelError(
            f"{source}: no column {', '.join(repr(c) for c in missing)} (found: "
            f"{', '.join(header) or 'none'}); {fix}"
        )


def _split_cell(text: str, sep: str) -> list[str]:
    """The names in a joined cell, stripped, empty pieces dropped, each once, in cell order."""
    return list(dict.fromkeys(p.strip() for p in text.split(sep) if p.strip()))


def _joined_problems(
    cells: list[list[str]], names: tuple[str, ...], no_finding: str | None, lines: list[int]
) -> list[str]:
    """Problems of the split cells of :func:`parse_joined` (empty, unknown or mixed names)."""
    known = set(names)
    problems = []
    for line, cell in zip(lines, cells):
        if not cell:
            none = f"{no_finding!r} for an image without finding" if no_finding else "a name"
            problems.append(f"line {line}: empty; write {none}")
        elif no_finding is not None and no_finding in cell and len(cell) > 1:
            problems.append(f"line {line}: {no_finding!r} together with findings {cell}")
        else:
            unknown = [n for n in cell if n != no_finding and n not in known]
            if unknown:
                problems.append(f"line {line}: {', '.join(map(repr, unknown))} not in data.classes")
    return problems


def parse_joined(
    rows: Rows,
    source: str,
    column: str = "labels",
    names: Sequence[str] | None = None,
    *,
    no_finding: str | None,
    sep: str = "|",
    first_line: int = 2,
) -> LabelTable:
    """The table of a joined label column (NIH style), one row per image.

    ``names``: the labels, in output order (a name outside them is an error); None takes every
    name found, sorted, the no-finding name aside. ``no_finding``
    (``data.multilabel.no_finding``; NIH's ``No Finding``) stands alone for an image without
    finding; None: none. ``source`` (e.g. ``data.path: x.csv``) and
    ``first_line`` (the first row's line in the file) make the messages point at the row.
    """
    where = f"{source} (column {column!r})"
    _missing_column(source, [column], rows, "name the label column, or use one column per label")
    configured = _check_names(names, where)
    if configured is not None and no_finding in configured:
        raise LabelError(
            f"{where}: data.classes lists {no_finding!r}, the name that means no finding "
            "(data.multilabel.no_finding); leave it out of data.classes"
        )
    cells = [_split_cell(r.get(column) or "", sep) for r in rows]
    if configured is None:
        found = {n for cell in cells for n in cell if n != no_finding}
        configured = tuple(sorted(found))
    lines = list(range(first_line, first_line + len(rows)))
    problems = _joined_problems(cells, configured, no_finding, lines)
    if problems:
        raise LabelError(
            f"{where}: {_shown(problems)}. Known labels: {', '.join(configured) or 'none'}; "
            f"no finding: {no_finding!r} (data.multilabel.no_finding). Fix the rows, or list "
            "the missing names in data.classes"
        )
    if not configured:
        raise LabelError(f"{where}: no finding names at all; every row says {no_finding!r}")
    index = {n: j for j, n in enumerate(configured)}
    codes = np.zeros((len(rows), len(configured)), dtype=np.int8)
    for i, cell in enumerate(cells):
        codes[i, [index[n] for n in cell if n != no_finding]] = POSITIVE
    return LabelTable(configured, codes)


def _code(text: str | None) -> int | None:
    """The code of a CheXpert-style cell, None when it is not 1, 0, -1 or blank."""
    text = (text or "").strip()
    if not text:
        return UNKNOWN
    try:
        return _VALUES.get(float(text))
    except ValueError:
        return None


def parse_columns(rows: Rows, source: str, names: Sequence[str], first_line: int = 2) -> LabelTable:
    """The table of one column per label (CheXpert style): ``names`` are the columns, in output
    order; each cell is ``1``, ``0``, ``-1`` (uncertain) or blank (unknown)."""
    configured = _check_names(names, source)
    if configured is None:
        raise LabelError(f"{source}: one column per label needs data.classes, the label columns")
    _missing_column(source, configured, rows, "list the label columns in data.classes")
    codes = np.zeros((len(rows), len(configured)), dtype=np.int8)
    problems = []
    for i, row in enumerate(rows):
        for j, name in enumerate(configured):
            code = _code(row.get(name))
            if code is None:
                problems.append(f"line {first_line + i}, column {name!r}: {row.get(name)!r}")
            else:
                codes[i, j] = code
    if problems:
        raise LabelError(
            f"{source}: {len(problems)} label value(s) not 1, 0, -1 or blank: {_shown(problems)}."
            " Write 1 (positive), 0 (negative), -1 (uncertain) or leave the cell blank (unknown)"
        )
    return LabelTable(configured, codes)


def label_counts(
    codes: np.ndarray,
    names: Sequence[str],
    splits: Sequence[str] | np.ndarray | None = None,
    parts: Sequence[str] = ("train", "val", "test"),
) -> dict[str, dict[str, dict[str, int]]]:
    """Per split (``parts``, then ``all``) and label: images ``positive``, ``negative``,
    ``uncertain`` and ``unknown`` (the codes before any policy). ``splits`` None: ``all`` only."""
    codes = np.asarray(codes)
    where: dict[str, np.ndarray] = {}
    if splits is not None:
        splits = np.asarray(splits)
        where = {p: splits == p for p in parts}
    where["all"] = np.ones(len(codes), dtype=bool)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for part, rows in where.items():
        sub = codes[rows]
        out[part] = {
            name: {
                **{key: int((sub[:, j] == code).sum()) for key, code in COUNT_KEYS.items()},
                "unknown": int((sub[:, j] == UNKNOWN).sum()),
            }
            for j, name in enumerate(names)
        }
    return out


def counts_markdown(counts: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """:func:`label_counts` as a Markdown table: a row per label, per split the counts as
    ``positive / negative / uncertain / unknown``."""
    parts = list(counts)
    names = list(next(iter(counts.values()))) if counts else []
    head = "| label | " + " | ".join(parts) + " |"
    rule = "|---|" + "---:|" * len(parts)
    rows = [
        f"| {name} | "
        + " | ".join(" / ".join(str(counts[p][name][k]) for k in COUNT_KEYS_ALL) for p in parts)
        + " |"
        for name in names
    ]
    note = "Per split: positive / negative / uncertain / unknown images."
    return "\n".join([note, "", head, rule, *rows]) + "\n"
