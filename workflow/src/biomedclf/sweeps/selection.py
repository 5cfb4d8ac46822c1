"""The selection job of a sweep: every point's validation numbers, the choice, the record.

:func:`write_selection` reads, for every run of every point (and every fold of it, with
cross-validation), the run's ``scores.csv`` (its validation rows only), ``history.csv`` and
``train.json``: the rule hands no file that holds a test number but ``scores.csv``, whose test
rows are skipped unread (:mod:`biomedclf.sweeps.validation`). It summarises each point over
its runs, chooses one (:mod:`biomedclf.sweeps.select`) and writes ``sweeps/{sweep}.json``
(:mod:`biomedclf.sweeps.record`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.sweeps.record import FORMAT, PointRecord, Selection, write_selection
from biomedclf.sweeps.select import choose, summarise
from biomedclf.sweeps.validation import RunValidation, run_validation

log = logging.getLogger(__name__)


def _sd(values: Sequence[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def point_record(
    name: str, values: dict[str, Any], runs: Sequence[RunValidation]
) -> tuple[PointRecord, str]:
    """One point's record from its runs (any order; per seed the mean over its folds), and
    what its standard error is over (:class:`biomedclf.sweeps.select.Summary`)."""
    seeds = sorted({r.seed for r in runs})
    by_seed = [[r for r in runs if r.seed == s] for s in seeds]
    folds = [sorted(rs, key=lambda r: r.fold or 0) for rs in by_seed]
    summary = summarise([[r.metric for r in rs] for rs in folds])
    gaps = [float(np.mean([r.gap for r in rs])) for rs in folds]
    seconds = [float(np.sum([r.train_seconds for r in rs])) for rs in folds]
    return PointRecord(
        name=name,
        values=values,
        n_runs=len(runs),
        metric_mean=summary.mean,
        metric_sd=summary.sd,
        metric_se=summary.se,
        metric_runs=[float(np.mean([r.metric for r in rs])) for rs in folds],
        gap_mean=float(np.mean(gaps)),
        gap_sd=_sd(gaps),
        seconds_mean=float(np.mean(seconds)),
        seconds_sd=_sd(seconds),
    ), summary.over


def _runs_by_point(
    sweep: Mapping[str, Any],
    runs: Sequence[Sequence[Any]],
    files: Mapping[str, Sequence[Path | str]],
    primary: str,
) -> dict[str, list[RunValidation]]:
    """Every run's validation numbers, by point (in the sweep's point order)."""
    found: dict[str, list[RunValidation]] = {name: [] for name, _ in sweep["points"]}
    for i, (point, seed, fold) in enumerate(runs):
        if point not in found:
            raise ValueError(f"sweep {sweep['name']}: run of {point!r}, not one of its points")
        paths = {role: files[role][i] for role in ("scores", "history", "info")}
        found[point].append(run_validation(point, seed, fold, paths, primary))
    empty = [p for p, rs in found.items() if not rs]
    if empty:
        raise ValueError(f"sweep {sweep['name']}: no runs for {empty[:3]}; the rule lists them")
    return found


def select_point(
    sweep: Mapping[str, Any],
    runs: Sequence[Sequence[Any]],
    files: Mapping[str, Sequence[Path | str]],
    primary: str,
    specs: Mapping[str, dict[str, Any]],
    folds: int | None,
) -> Selection:
    """The :class:`Selection` of ``sweep`` (:meth:`biomedclf.config.sweeps.Sweep.params`) from
    its ``runs`` (``[point, seed, fold]``; fold None without folds) and their ``files`` by role
    (``scores``, ``history``, ``info``: lists in ``runs`` order). ``specs`` holds each point's
    resolved spec; ``folds`` is data.split.folds."""
    by_point = _runs_by_point(sweep, runs, files, primary)
    values = dict(sweep["points"])
    records, overs = zip(*(point_record(p, values[p], rs) for p, rs in by_point.items()))
    choice = choose(
        [r.metric_mean for r in records],
        [r.metric_se for r in records],
        sweep["select"],
        sweep["prefer"],
    )
    chosen = records[choice.selected].name
    spec = copy.deepcopy(specs[chosen])
    spec["name"] = sweep["selected"]
    return Selection(
        format=FORMAT,
        sweep=sweep["name"],
        variant=sweep["selected"],
        base=sweep["base"],
        kind=sweep["kind"],
        settings=list(sweep["settings"]),
        scales=dict(sweep["scales"]),
        metric=primary,
        n_classes=by_point[records[0].name][0].n_classes,
        split="the inner validation parts of the folds" if folds else "the validation split",
        select=sweep["select"],
        prefer=sweep["prefer"],
        se_over=overs[choice.best],
        seeds=list(sweep["seeds"]),
        folds=folds,
        best=records[choice.best].name,
        threshold=choice.threshold,
        selected=chosen,
        spec=spec,
        points=list(records),
    )


def write_sweep_selection(
    out: Path | str,
    sweep: Mapping[str, Any],
    runs: Sequence[Sequence[Any]],
    files: Mapping[str, Sequence[Path | str]],
    primary: str,
    specs: Mapping[str, dict[str, Any]],
    folds: int | None,
) -> Selection:
    """Choose ``sweep``'s point on validation (:func:`select_point`) and write the record to
    ``out`` (``sweeps/{sweep}.json``)."""
    selection = select_point(sweep, runs, files, primary, specs, folds)
    write_selection(out, selection)
    p = selection.point(selection.selected)
    log.info(
        "sweep %s: %s chosen (%s, validation %s %.4f over %d runs); best %s",
        selection.sweep,
        selection.selected,
        selection.select,
        primary,
        p.metric_mean,
        p.n_runs,
        selection.best,
    )
    return selection
