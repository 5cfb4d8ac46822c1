"""Drawing a generated study of the figure matrix, every figure captured as it is saved.

:func:`draw_study` runs every step after training on the study of a
:class:`figure_matrix_fixtures.Case`, as the rules call them: statistics, the study's and each
comparison's tables and figures, the saliency figures and error galleries, the
cross-validation report, summary.md. :class:`Studies` draws each case once, recording each
PNG's matplotlib figure (saved through ``style.figure_file``) and each mosaic
(:class:`biomedclf.report.figures.mosaic.Mosaic`), for the checks of tests/figure_checks.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aggregate_fixtures import figure_outputs, study_stats, summary_links, table_outputs
from figure_matrix_explain import write_explain
from figure_matrix_fixtures import Case, build_runs

from biomedclf import layout
from biomedclf.crossval.across_folds import write_study_crossval
from biomedclf.report.crossval import write_crossval_report
from biomedclf.report.figures import style
from biomedclf.report.figures.errors import plot_explain_figures
from biomedclf.report.figures.mosaic import Mosaic
from biomedclf.report.figures.plots import plot_comparison, plot_study
from biomedclf.report.summary.document import write_summary
from biomedclf.report.tables.architecture import write_architecture_table
from biomedclf.report.tables.write import write_comparison_tables, write_study_tables


@dataclass
class Drawn:
    """A drawn study: its folder, each PNG's figure and each mosaic (by PNG path)."""

    case: Case
    root: Path
    study: dict[str, Any]
    figures: dict[Path, Any]
    mosaics: dict[Path, Mosaic]


@contextmanager
def capturing(figures: dict[Path, Any], mosaics: dict[Path, Mosaic]) -> Iterator[None]:
    """Record every figure saved through ``style.figure_file`` (in whichever report module
    imported it) and every mosaic saved, by PNG path."""
    original, save = style.figure_file, Mosaic.save

    @contextmanager
    def recorded(path: Path | str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with original(path, *args, **kwargs) as drawn:
            yield drawn
            # saved at DPI anyway; at DPI before saving, the figure keeps the positions it was
            # saved with (legends place their texts in pixels)
            drawn[0].set_dpi(style.DPI)
        figures[Path(path)] = drawn[0]

    def saved(self: Mosaic, path: Path) -> Path:
        mosaics[Path(path)] = self
        return save(self, path)

    modules = [
        m
        for name, m in list(sys.modules.items())
        if name.startswith("biomedclf.report") and getattr(m, "figure_file", None) is original
    ]
    with pytest.MonkeyPatch.context() as mp:
        for module in modules:
            mp.setattr(module, "figure_file", recorded)
        mp.setattr(Mosaic, "save", saved)
        yield


def _crossval_report(root: Path, runs: list, study: dict[str, Any], folds: int) -> Path:
    """stats/crossval.json and the cross-validation tables and figures; returns the former."""
    comps = study["comparisons"]
    path = layout.stats_file(root, "crossval")
    files = {
        (r.variant, r.seed): layout.crossval_files(root, r.variant, r.seed)["crossval"]
        for r in runs
    }
    write_study_crossval(path, files, comps, primary="accuracy", confidence=0.95)
    histories = {
        (v, f): layout.train_files(root, v, 0, f)["history"]
        for v in study["variants"]
        for f in range(folds)
    }
    outputs = {
        **table_outputs(root, layout.CROSSVAL_TABLES),
        **figure_outputs(root, layout.CROSSVAL_FIGURES),
    }
    write_crossval_report(path, histories, comps, 0.95, outputs)
    return path


def draw_study(root: Path, case: Case) -> dict[str, Any]:
    """Every step after training, as the rules call them, on the generated study of
    ``case``: statistics, tables, figures, saliency figures, cross-validation, summary."""
    runs, study = build_runs(root, case)
    comps = study["comparisons"]
    stats = layout.stats_file(root)
    study_stats(runs, comps, stats, "out-of-fold" if case.folds else "test", n_bootstrap=100)
    tables = table_outputs(root, layout.STUDY_TABLES)
    architecture = tables.pop("architecture")
    write_study_tables(runs, stats, tables)
    if case.architecture:
        write_architecture_table(
            study["variants"], case.channels, case.image_size, case.n_classes, architecture
        )
    plot_study(runs, stats, figure_outputs(root, layout.STUDY_FIGURES))
    for name, comp in comps.items():
        outputs = table_outputs(root, layout.COMPARISON_TABLES, name)
        write_comparison_tables(name, comp, runs, stats, outputs)
        plot_comparison(
            name, comp, runs, stats, figure_outputs(root, ("curves", "roc", "confusion"), name)
        )
    explained = layout.study_runs(root, list(study["variants"]), study["seeds"], bool(case.folds))
    maps, errors, sanity = write_explain(root, explained, case)
    pictures = {
        (c, k): layout.figure_file(root, k, c) for c in comps for k in ("saliency", "errors")
    }
    plot_explain_figures(comps, maps, errors, pictures)
    crossval = _crossval_report(root, runs, study, case.folds) if case.folds else None
    links = summary_links(root, comps, list(sanity), folds=bool(case.folds))
    data = layout.data_file(root, "summary")
    write_summary(study, runs, stats, data, sanity, crossval, links, layout.summary_file(root))
    return study


class Studies:
    """Each case's study, drawn on first use (once per test module; a failure to draw is
    raised again by every later test of the case, without drawing again)."""

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp, self.drawn = tmp, {}

    def _draw(self, case: Case) -> Drawn:
        root = self.tmp.mktemp("study")
        figures: dict[Path, Any] = {}
        mosaics: dict[Path, Mosaic] = {}
        with capturing(figures, mosaics):
            study = draw_study(root, case)
        return Drawn(case, root, study, figures, mosaics)

    def __getitem__(self, case: Case) -> Drawn:
        if case.id not in self.drawn:
            try:
                self.drawn[case.id] = self._draw(case)
            except Exception as error:  # kept for the case's other tests
                self.drawn[case.id] = error
                raise
        found = self.drawn[case.id]
        if isinstance(found, Exception):
            raise RuntimeError(f"{case.id}: the study could not be drawn") from found
        return found
