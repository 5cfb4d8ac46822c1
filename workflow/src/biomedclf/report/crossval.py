"""The cross-validation report: its tables and figures, from ``stats/crossval.json`` and the
first seed's fold histories (the ``crossval_report`` rule of ``workflow/rules/report.smk``).

The tables are built by :mod:`biomedclf.report.tables.crossval`, the figures drawn by
:mod:`biomedclf.report.figures.crossval`; the interval level is ``statistics.confidence``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biomedclf.io import read_json
from biomedclf.report.figures.crossval import plot_fold_curves, plot_folds
from biomedclf.report.rendering import write_csv, write_text
from biomedclf.report.tables.crossval import (
    TEST_HEADER,
    VARIANT_HEADER,
    test_markdown,
    test_rows,
    variant_markdown,
    variant_rows,
)

log = logging.getLogger(__name__)


def write_crossval_report(
    stats: Path | str,
    histories: Mapping[tuple[str, int], Path | str],
    comparisons: dict[str, dict[str, Any]],
    confidence: float,
    outputs: Mapping[str, Sequence[Path | str] | Path | str],
) -> list[Path]:
    """Write the cross-validation tables and figures; returns the paths written.

    ``stats`` is ``stats/crossval.json``; ``histories`` maps (variant, fold) to the first
    seed's fold ``history.csv``; ``comparisons`` holds each comparison's ``baseline`` and
    ``variants``; ``confidence`` is the level of the corrected intervals. ``outputs`` maps
    ``crossval`` and ``crossval_tests`` to their [CSV, Markdown] files and ``folds`` and
    ``fold_curves`` to their PNG files.
    """
    cv = read_json(Path(stats))
    table, tests = (list(map(Path, outputs[name])) for name in ("crossval", "crossval_tests"))
    paths = [
        write_csv(table[0], VARIANT_HEADER, variant_rows(cv)),
        write_text(table[1], variant_markdown(cv, confidence)),
        write_csv(tests[0], TEST_HEADER, test_rows(cv, comparisons)),
        write_text(tests[1], test_markdown(cv, comparisons, confidence)),
        plot_folds(cv, confidence, Path(outputs["folds"])),
        plot_fold_curves(dict(histories), Path(outputs["fold_curves"])),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths[:4]))
    return paths
