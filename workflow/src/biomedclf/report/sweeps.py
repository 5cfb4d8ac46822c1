"""A sweep's table and figure (the ``sweep_report`` rule): ``sweeps/{sweep}.csv`` and
``figures/sweep_{sweep}.png``, from the sweep's selection file and each point's runs'
``scores.csv`` (:mod:`biomedclf.report.tables.sweeps`, :mod:`biomedclf.report.figures.sweeps`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from biomedclf.report.figures.sweeps import plot_sweep
from biomedclf.report.tables.sweeps import SweepRow, sweep_rows, write_sweep_table
from biomedclf.sweeps.record import read_selection

log = logging.getLogger(__name__)


def write_sweep_report(
    selection: Path | str,
    test_files: Mapping[tuple[str, int], Sequence[Path | str]],
    table: Path | str,
    figure: Path | str,
) -> list[SweepRow]:
    """Write the sweep's ``table`` (CSV) and ``figure`` (PNG). ``selection`` is its
    ``sweeps/{sweep}.json``; ``test_files`` maps (point, seed) to that run's scores.csv (with
    folds, ``data.split.folds``, the scores.csv of each of its folds)."""
    chosen = read_selection(selection)
    rows = sweep_rows(chosen, test_files)
    write_sweep_table(table, chosen, rows)
    plot_sweep(figure, chosen, rows)
    log.info("wrote %s and %s", table, figure)
    return rows
