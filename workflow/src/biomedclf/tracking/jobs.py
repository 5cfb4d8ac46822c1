"""What the jobs after training add to MLflow (when ``tracking.mlflow`` is on).

- :func:`start_study`: the workflow, before its first job, creates the experiment and the
  study's parent run (so that parallel jobs find one);
- :func:`log_evaluation`: the evaluation job adds a run's test metrics (metrics.json) to its
  training run;
- :func:`log_crossval`: the crossval job owns a run of its own per variant and seed (the
  out-of-fold, across-fold and fold-ensemble metrics, crossval.json) and adds each fold's
  held-out and test metrics to the fold's training run;
- :func:`attach_to_study`: the statistics, figure and summary jobs attach their files to the
  study's parent run.

Each reads the settings the workflow gave the job unless given ``settings``, does nothing when
MLflow is off, and never fails its job (:mod:`biomedclf.tracking.guard`). The files are read
as JSON: this module imports no stage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.tracking.mlflow_runs import MlflowSession, flat_numbers, job_key
from biomedclf.tracking.settings import TrackingSettings, from_environ

__all__ = ["attach_to_study", "log_crossval", "log_evaluation", "start_study"]

log = logging.getLogger("biomedclf.tracking")

#: Keys of metrics.json that are not metrics.
NOT_METRICS = ("seed",)


def _session(settings: TrackingSettings | None) -> MlflowSession | None:
    settings = settings or from_environ()
    if settings is None or settings.mlflow is None:
        return None
    return MlflowSession(settings)


def _read(path: Path | str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def metric_values(record: dict[str, Any], prefix: str) -> dict[str, float]:
    """The numbers of a metrics.json-like record as metrics ``{prefix}/...`` (lists such as
    confusion matrices and per-class rows left out)."""
    return flat_numbers({k: v for k, v in record.items() if k not in NOT_METRICS}, prefix)


def start_study(settings: TrackingSettings | None = None) -> str | None:
    """Create the study's experiment and parent run when missing; returns the parent run's id
    (None when MLflow is off or unreachable, with one warning)."""
    session = _session(settings)
    if session is None:
        return None
    parent = session.study_run()
    if parent is not None:
        target = session.target
        log.info(
            "MLflow: study run %s in experiment %r at %s", parent, target.experiment, target.uri
        )
    return parent


def log_evaluation(
    variant: str, seed: int, metrics: Path | str, settings: TrackingSettings | None = None
) -> None:
    """Add the test metrics of ``metrics`` (metrics.json) to the run of the training job of
    ``variant`` and ``seed``, as ``test/...`` at step 0."""
    session = _session(settings)
    if session is None:
        return
    key = job_key("train", variant, seed)
    run = session.run(
        key, key.removeprefix("train/"), {"variant": variant, "seed": str(seed)}, False
    )
    if run is not None:
        session.log_metrics(run, metric_values(_read(metrics), "test"), step=0)


def log_crossval(
    variant: str,
    seed: int,
    crossval: Path | str,
    metrics: Path | str,
    settings: TrackingSettings | None = None,
) -> None:
    """The crossval job's run of ``variant`` and ``seed`` (replaced on a rerun): out-of-fold
    metrics (``metrics``, metrics.json), the folds' mean and SD and the fold ensemble's test
    metrics (``crossval``, crossval.json, also kept as an artifact); and each fold's held-out
    and test metrics added to that fold's training run."""
    session = _session(settings)
    if session is None:
        return
    record = _read(crossval)
    tags = {"variant": variant, "seed": str(seed), "fold": "all"}
    key = job_key("crossval", variant, seed)
    run = session.run(key, f"{variant}/seed{seed}/folds", tags, True)
    if run is None:
        return
    values = metric_values(_read(metrics), "out_of_fold")
    for part in ("cv_mean", "cv_sd", "ensemble_test"):
        values.update(metric_values(record[part], part))
    session.log_metrics(run, values, step=0)
    session.log_artifacts(run, [crossval], None)
    session.finish(run)
    for fold in record["folds"]:
        fold_key = job_key("train", variant, seed, fold["fold"])
        fold_tags = {"variant": variant, "seed": str(seed), "fold": str(fold["fold"])}
        fold_run = session.run(fold_key, fold_key.removeprefix("train/"), fold_tags, False)
        if fold_run is not None:
            scores = {
                **metric_values(fold["heldout"], "heldout"),
                **metric_values(fold["test"], "test"),
            }
            session.log_metrics(fold_run, scores, step=0)


def attach_to_study(
    files: Sequence[Path | str], folder: str | None, settings: TrackingSettings | None = None
) -> None:
    """Attach ``files`` to the study's parent run, under ``folder`` (None: at the top);
    a file of the same name is replaced."""
    session = _session(settings)
    if session is None:
        return
    parent = session.study_run()
    if parent is not None:
        session.log_artifacts(parent, files, folder)
