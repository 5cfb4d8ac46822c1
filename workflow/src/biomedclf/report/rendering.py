"""Rendering of the report: Markdown tables, number formats, CSV and text files.

Shared by the tables, figures and summary of :mod:`biomedclf.report`. Markdown is rendered
here (:func:`markdown_table`), so pandas' optional ``tabulate`` dependency
is not needed. Fractions stay fractions in CSV files (rounded to 6 decimals) and become
percentages in Markdown. Every file is written atomically.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.io import atomic_path
from biomedclf.stats.records import Difference, Interval, Summary

#: Metrics shown as percentages in Markdown (the others as 3-decimal numbers).
PERCENT_METRICS = {
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "f1",
    "overfitting_gap",
    "final_train_accuracy",
    "final_val_accuracy",
    "recall",
    "macro_f1",
    "weighted_f1",
    "macro_precision",
    "macro_recall",
    "macro_specificity",
}

#: Decimals of quantities that are neither percentages nor 3-decimal metrics.
_DECIMALS = {"train_seconds": 2, "images_per_second": 0, "epochs_run": 1}


def _cell(value: Any) -> str:
    """A Markdown cell: ``None`` empty, pipes and backslashes escaped, one line."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None
) -> str:
    """A GitHub-flavoured Markdown table; ``align`` holds ``l``/``r``/``c`` per column.

    Pipes in cells are escaped, so every row has exactly ``len(header)`` cells.
    """
    ncol = len(header)
    align = list(align or ["l"] * ncol)
    if len(align) != ncol:
        raise ValueError(f"markdown_table: {len(align)} alignments for {ncol} columns")
    for i, row in enumerate(rows):
        if len(row) != ncol:
            raise ValueError(f"markdown_table: row {i} has {len(row)} cells, header has {ncol}")
    sep = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "| " + " | ".join(sep[a] for a in align) + " |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def is_finite(x: Any) -> bool:
    """``x`` is an int or float (not a bool) and finite."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_value(value: Any, metric: str = "", digits: int | None = None) -> str:
    """One number: percentages (1 decimal) for fraction metrics, else 3 decimals.

    Training seconds get 2 decimals, images per second none, epochs one (``.0`` dropped);
    ``n/a`` when ``value`` is not a finite number.
    """
    if not is_finite(value):
        return "n/a"
    if metric in PERCENT_METRICS:
        return f"{100 * value:.{1 if digits is None else digits}f}"
    decimals = _DECIMALS.get(metric, 3) if digits is None else digits
    text = f"{value:.{decimals}f}"
    return text.removesuffix(".0") if metric == "epochs_run" else text


def fmt_mean_sd(desc: Summary | None, metric: str = "") -> str:
    """``mean ± sd`` of a summary over seeds (just the mean with one seed); ``n/a`` without."""
    if desc is None or not is_finite(desc.mean):
        return "n/a"
    text = fmt_value(desc.mean, metric)
    if is_finite(desc.sd):
        text += f" ± {fmt_value(desc.sd, metric)}"
    return text


def fmt_ci(ci: Interval | Difference | None, metric: str = "") -> str:
    """``[low, high]`` of an interval; ``n/a`` when an end is undefined."""
    if ci is None or not is_finite(ci.low) or not is_finite(ci.high):
        return "n/a"
    return f"[{fmt_value(ci.low, metric)}, {fmt_value(ci.high, metric)}]"


def fmt_p(p: Any) -> str:
    """A p-value for a table cell: 3 significant digits, ``< 0.001`` below that."""
    if not is_finite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def p_text(p: Any) -> str:
    """A p-value in a sentence: ``p = 0.0432``, ``p < 0.001``, ``p = n/a``."""
    cell = fmt_p(p)
    return f"p {cell}" if cell.startswith("<") else f"p = {cell}"


def plural(n: int, word: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} {word}{'s' * (n != 1)}"


def level_text(confidence: float) -> str:
    """A confidence level as text: ``0.95`` -> ``95%``."""
    return f"{confidence * 100:g}%"


def fmt_int(value: Any) -> str:
    """An integer with thousands separators (``2,097,184``); text passes through."""
    if isinstance(value, str) or value is None:
        return "n/a" if value is None else value
    return f"{int(value):,}"


def _round(x: Any) -> Any:
    """A CSV value: floats rounded to 6 decimals, non-finite ones ``None``."""
    if isinstance(x, float):
        return round(x, 6) if math.isfinite(x) else None
    return x


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write a CSV atomically (floats rounded to 6 decimals, ``None`` as an empty cell)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else _round(v) for v in row])
    return path


def write_text(path: Path, text: str) -> Path:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
