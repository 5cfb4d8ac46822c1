"""MLflow runs of a study: its experiment, its parent run, one run per job identity.

MLflow's server makes the run ids, so a job finds its run by two tags: ``study`` and
``biomedclf.job``, the job's identity within the study (:func:`job_key`, e.g.
``train/cnn/seed0`` or ``train/cnn/seed0/fold2``). The job that owns a run (a training job,
a crossval job) deletes the active runs of its identity and creates a new one: a rerun
replaces its run (its metrics, params and artifacts) instead of adding a second one. Deleted
runs leave MLflow's UI and searches; ``mlflow gc`` removes them from the store. A job that
adds to a run (the evaluation) finds it, or creates it when training ran without tracking.

Every run of a study is a child (tag ``mlflow.parentRunId``) of the study's parent run
(``biomedclf.job`` = ``study``), to which the statistics, figure and summary jobs attach
their files. The workflow creates the parent before the first job (``onstart`` in
``common.smk``); a job that finds none creates one, and when two jobs do so at once each then
keeps the oldest run and deletes its own, so all children end under one parent.

The calls go through a store (:mod:`biomedclf.tracking.mlflow_stores`: MLflow's REST API for a
server, the ``mlflow`` package otherwise). Every public method is
:func:`~biomedclf.tracking.guard.guarded`; the server is first reached inside the first call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from biomedclf.tracking.guard import Backend, guarded
from biomedclf.tracking.mlflow_stores import LibraryStore, RestStore, open_store
from biomedclf.tracking.settings import TrackingSettings

__all__ = ["JOB_TAG", "MlflowSession", "flat_numbers", "flat_params", "job_key"]

#: The tag that names a run's job within its study; the parent run's value is STUDY_JOB.
JOB_TAG = "biomedclf.job"
STUDY_JOB = "study"
#: MLflow's tag of a child run.
PARENT_TAG = "mlflow.parentRunId"
#: At most this many params or metrics per request (MLflow's limits).
BATCH = {"params": 100, "metrics": 1000}


def job_key(stage: str, variant: str, seed: int, fold: int | None = None) -> str:
    """The identity of a job's run within its study: ``{stage}/{variant}/seed{seed}``
    (``/fold{fold}`` for a fold's training)."""
    key = f"{stage}/{variant}/seed{seed}"
    return key if fold is None else f"{key}/fold{fold}"


def flat_params(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow params: dotted keys, strings as they are, everything else as
    JSON (``null``, ``true``, ``[32, 32]``)."""
    if isinstance(value, Mapping):
        found: dict[str, str] = {}
        for key, sub in value.items():
            found.update(flat_params(sub, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: value if isinstance(value, str) else json.dumps(value)}


def flat_numbers(value: Any, prefix: str) -> dict[str, float]:
    """The finite numbers of a nested record (not booleans, not inside lists) as MLflow
    metrics named ``{prefix}/{key}/{key}...``."""
    if isinstance(value, Mapping):
        found: dict[str, float] = {}
        for key, sub in value.items():
            found.update(flat_numbers(sub, f"{prefix}/{key}"))
        return found
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return {prefix: float(value)} if number and math.isfinite(value) else {}


def _quoted(value: str) -> str:
    """``value`` as a string of MLflow's search filter (single quotes, or double quotes when
    it holds a single quote)."""
    return f"'{value}'" if "'" not in value else f'"{value}"'


class MlflowSession(Backend):
    """One job's connection to the study's MLflow experiment (``settings.mlflow``)."""

    def __init__(self, settings: TrackingSettings) -> None:
        if settings.mlflow is None:
            raise ValueError("MlflowSession: the settings enable no MLflow target")
        super().__init__(f"MLflow at {settings.mlflow.uri}")
        self.settings, self.target = settings, settings.mlflow
        self._store: RestStore | LibraryStore | None = None
        self._experiment = ""
        self._parent = ""

    def _connect(self) -> RestStore | LibraryStore:
        """The store, with the experiment (created when missing) and the study's parent run."""
        if self._store is None:
            store = open_store(self.target.uri)
            self._experiment = store.experiment_id(self.target.experiment, self.target.artifacts)
            self._store = store
            self._parent = self._study_run()
        return self._store

    def _find(self, key: str) -> list[str]:
        """The ids of the study's active runs of job identity ``key``, oldest first."""
        study, job = _quoted(self.settings.study), _quoted(key)
        where = f"tags.study = {study} and tags.`{JOB_TAG}` = {job}"
        return [run_id for _, run_id in sorted(self._store.search(self._experiment, where))]

    def _study_run(self) -> str:
        """The id of the study's parent run, created when there is none."""
        found = self._find(STUDY_JOB)
        if found:
            return found[0]
        study = self.settings.study
        tags = {"study": study, JOB_TAG: STUDY_JOB}
        mine = self._store.create_run(self._experiment, study, tags)
        self._store.finish(mine, "FINISHED")
        oldest = self._find(STUDY_JOB)[0]
        if oldest != mine:  # another job made one at the same moment: keep the oldest
            self._store.delete_run(mine)
        return oldest

    @guarded
    def study_run(self) -> str:
        """The id of the study's parent run (found or created)."""
        self._connect()
        return self._parent

    @guarded
    def run(self, key: str, name: str, tags: Mapping[str, str], replace: bool) -> str:
        """The id of the run of job identity ``key``, a child of the study's run named
        ``name`` with ``tags``: a new one that replaces the old (``replace``, the job owns the
        run), else the existing one (created when there is none)."""
        store = self._connect()
        old = self._find(key)
        if old and not replace:
            return old[0]
        for run_id in old:
            store.delete_run(run_id)
        tags = {**tags, "study": self.settings.study, JOB_TAG: key, PARENT_TAG: self._parent}
        return store.create_run(self._experiment, name, tags)

    @guarded
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        items = list(params.items())
        for start in range(0, len(items), BATCH["params"]):
            self._connect().log_batch(run_id, dict(items[start : start + BATCH["params"]]), {}, 0)

    @guarded
    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """``metrics`` at ``step`` (an epoch; 0 for a final value), timestamped now."""
        items = [(k, float(v)) for k, v in metrics.items()]
        for start in range(0, len(items), BATCH["metrics"]):
            self._connect().log_batch(
                run_id, {}, dict(items[start : start + BATCH["metrics"]]), step
            )

    @guarded
    def log_artifacts(self, run_id: str, files: Iterable[Path | str], folder: str | None) -> None:
        """Copy ``files`` into the run's artifacts (under ``folder``; a file of the same name
        is replaced)."""
        for path in files:
            self._connect().log_artifact(run_id, path, folder)

    @guarded
    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        """Mark the run ended with ``status`` (FINISHED, FAILED, KILLED)."""
        self._connect().finish(run_id, status)
