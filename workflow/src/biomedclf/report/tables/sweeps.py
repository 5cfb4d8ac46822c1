"""A sweep's table, ``sweeps/{sweep}.csv``: every point's values, its validation and test
metric (mean and SD over seeds), its train-validation gap and its training time.

The validation numbers come from the sweep's selection file (:mod:`biomedclf.sweeps.record`);
the test metric is computed after the choice from the test rows of each run's ``scores.csv``
(with folds, of the fold ensemble: the folds' probabilities averaged, as the crossval job
scores it), so a sweep's points need no evaluation jobs. It shows the shape of the curve; only
the chosen point's test result is an estimate (the summary's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.multiclass import multiclass_metrics
from biomedclf.report.rendering import write_csv
from biomedclf.sweeps.record import Selection
from biomedclf.sweeps.validation import METRIC_KEYS
from biomedclf.train.scores import read_scores


@dataclass(frozen=True)
class SweepRow:
    """One point of a sweep with its validation and test numbers."""

    point: str
    values: dict[str, Any]
    n_runs: int
    val_mean: float
    val_sd: float | None
    val_se: float | None
    test_mean: float | None
    test_sd: float | None
    gap_mean: float
    gap_sd: float | None
    seconds_mean: float
    seconds_sd: float | None
    chosen: bool
    best: bool


def value_label(value: Any) -> str:
    """A setting's value in a figure or the summary: ``0.001``, ``1e-05``, ``true``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "_".join(value_label(v) for v in value)
    return str(value)


def run_test_metric(scores: Sequence[Path | str], metric: str) -> float | None:
    """``metric`` (statistics.primary) of one run on the test split, from its ``scores.csv``
    (with folds the folds' files: the fold ensemble, their probabilities averaged)."""
    splits = [read_scores(f)["test"] for f in scores]
    for other, f in zip(splits[1:], scores[1:], strict=True):
        if other.paths != splits[0].paths:
            raise ValueError(f"{f}: other test images than {scores[0]}; rerun the training jobs")
    probs = np.mean([s.probabilities for s in splits], axis=0)
    return multiclass_metrics(splits[0].labels, probs, None, ordinal=False)[METRIC_KEYS[metric]]


def _mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None, None
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
    return float(np.mean(finite)), sd


def sweep_rows(
    selection: Selection, test_files: Mapping[tuple[str, int], Sequence[Path | str]]
) -> list[SweepRow]:
    """The rows of the sweep's table, in the sweep's point order; ``test_files`` maps
    (point, seed) to that run's scores.csv (with folds, of each fold)."""
    rows = []
    for p in selection.points:
        files = [f for (point, _), f in test_files.items() if point == p.name]
        if not files:
            raise ValueError(
                f"sweep {selection.sweep}: no test metrics of {p.name}; the rule "
                "hands every point's"
            )
        test_mean, test_sd = _mean_sd([run_test_metric(f, selection.metric) for f in files])
        rows.append(
            SweepRow(
                point=p.name,
                values=p.values,
                n_runs=p.n_runs,
                val_mean=p.metric_mean,
                val_sd=p.metric_sd,
                val_se=p.metric_se,
                test_mean=test_mean,
                test_sd=test_sd,
                gap_mean=p.gap_mean,
                gap_sd=p.gap_sd,
                seconds_mean=p.seconds_mean,
                seconds_sd=p.seconds_sd,
                chosen=p.name == selection.selected,
                best=p.name == selection.best,
            )
        )
    return rows


def table_header(selection: Selection) -> list[str]:
    """The CSV's columns: the point, each swept setting, then the numbers."""
    m = selection.metric
    return [
        "point",
        *selection.settings,
        "runs",
        f"validation_{m}_mean",
        f"validation_{m}_sd",
        f"validation_{m}_se",
        f"test_{m}_mean",
        f"test_{m}_sd",
        "gap_mean",
        "gap_sd",
        "train_seconds_mean",
        "train_seconds_sd",
        "chosen",
        "best_on_validation",
    ]


def _cell(value: Any) -> Any:
    """A setting's value in the CSV: lists joined with spaces."""
    return " ".join(map(str, value)) if isinstance(value, list) else value


def write_sweep_table(path: Path | str, selection: Selection, rows: Sequence[SweepRow]) -> Path:
    """Write ``sweeps/{sweep}.csv`` (fractions as fractions, rounded to 6 decimals)."""
    body = [
        [
            r.point,
            *(_cell(r.values[k]) for k in selection.settings),
            r.n_runs,
            r.val_mean,
            r.val_sd,
            r.val_se,
            r.test_mean,
            r.test_sd,
            r.gap_mean,
            r.gap_sd,
            r.seconds_mean,
            r.seconds_sd,
            "yes" if r.chosen else "no",
            "yes" if r.best else "no",
        ]
        for r in rows
    ]
    return write_csv(Path(path), table_header(selection), body)
