"""``sweeps/{sweep}.json``: a sweep's choice on the validation split, as typed records.

Written by the selection job (:func:`biomedclf.sweeps.selection.write_selection`), read by the
sweep's selected-run job, its table and figure and the summary (:func:`read_selection`). It
holds validation numbers only: each point's validation metric over its runs, its
train-validation gap and training time, the rule and the point it chose. Format:
workflow/CONTRACTS.md ("Sweeps").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedclf.io import read_json, write_json

#: The format of the file; a reader refuses another.
FORMAT = "1"


@dataclass(frozen=True)
class PointRecord:
    """One point: its values and its validation numbers over its runs."""

    name: str
    values: dict[str, Any]
    n_runs: int  # training runs (seeds x folds)
    metric_mean: float  # the validation metric, mean over seeds (of fold means)
    metric_sd: float | None  # over seeds (folds when one seed ran with folds)
    metric_se: float | None  # standard error of the mean
    metric_runs: list[float]  # per seed (mean over its folds), seed order
    gap_mean: float  # training minus validation accuracy at the saved epoch
    gap_sd: float | None
    seconds_mean: float  # training seconds of a run (summed over its folds)
    seconds_sd: float | None


@dataclass(frozen=True)
class Selection:
    """A sweep's points and the one chosen on validation."""

    format: str
    sweep: str
    variant: str  # the study variant that is the chosen point: {sweep}.selected
    base: str
    kind: str  # grid | random
    settings: list[str]
    scales: dict[str, str]  # setting -> log | linear | category
    metric: str  # statistics.primary
    n_classes: int
    split: str  # what the metric was measured on
    select: str  # best | one_se
    prefer: str  # smaller | larger
    se_over: str  # seeds | folds | none
    seeds: list[int]
    folds: int | None
    best: str  # the point with the best mean
    threshold: float  # one_se: best mean minus its standard error; best: the best mean
    selected: str  # the chosen point
    spec: dict[str, Any]  # the chosen point's resolved spec, named as the study variant
    points: list[PointRecord]

    def point(self, name: str) -> PointRecord:
        """The record of point ``name``; KeyError naming the sweep otherwise."""
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"sweep {self.sweep}: no point {name!r}")


def write_selection(path: Path | str, selection: Selection) -> None:
    """Write ``selection`` as JSON, atomically."""
    write_json(path, dataclasses.asdict(selection))


def read_selection(path: Path | str) -> Selection:
    """Read a sweep's selection file; ValueError naming the file when its format differs."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"{path}: not a sweep selection of format {FORMAT}; rerun its "
            "selection job (delete the file)"
        )
    try:
        points = [PointRecord(**p) for p in data["points"]]
        return Selection(**{**data, "points": points})
    except TypeError as err:
        raise ValueError(f"{path}: {err}; rerun its selection job (delete the file)") from None
