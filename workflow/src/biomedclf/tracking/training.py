"""A training job's tracking: the MLflow and TensorBoard callbacks of the training loop.

Both implement the loop's callback interface (``on_fit_start``, ``on_epoch_end``,
``on_fit_end``; :mod:`biomedclf.train.callbacks`) and are built by :func:`training_callbacks`
for the settings the workflow gave the job (:mod:`biomedclf.tracking.settings`). At the start
of fitting each replaces what an earlier run of the same job left (the MLflow run of the same
identity, the event files in its folder) and writes the epochs a resumed job already has, so
that a rerun or a resumed job shows each epoch once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedclf.tracking.guard import Backend, guarded, missing
from biomedclf.tracking.mlflow_runs import MlflowSession, flat_numbers, flat_params, job_key
from biomedclf.tracking.settings import TrackingSettings, from_environ

__all__ = ["MlflowCallback", "TensorBoardCallback", "TrainingJob", "training_callbacks"]

#: train.json's numbers logged as final metrics of a training run.
FINAL = ("train_seconds", "best_epoch", "epochs_run", "parameters", "peak_memory_mb")


@dataclass(frozen=True)
class TrainingJob:
    """Who a training job is: its variant, seed, fold (None without folds) and code digest
    (the rule's ``code`` param)."""

    variant: str
    seed: int
    fold: int | None
    code: str

    @property
    def key(self) -> str:
        return job_key("train", self.variant, self.seed, self.fold)

    @property
    def name(self) -> str:
        """The run's name: ``{variant}/seed{seed}[/fold{fold}]``."""
        return self.key.removeprefix("train/")

    def tags(self) -> dict[str, str]:
        tags = {"variant": self.variant, "seed": str(self.seed)}
        return tags if self.fold is None else {**tags, "fold": str(self.fold)}


def epoch_metrics(row: Mapping[str, float]) -> dict[str, float]:
    """An epoch's numbers but its number: history.csv's columns and ``images_per_second``."""
    return {k: float(v) for k, v in row.items() if k != "epoch" and v is not None}


class MlflowCallback(MlflowSession):
    """Logs a training job to its own run: params at the start, each epoch's metrics as it
    ends, train.json's numbers, ``model.pt`` and ``history.csv`` at the end."""

    def __init__(self, settings: TrackingSettings, job: TrainingJob, artifacts: Sequence[str]):
        super().__init__(settings)
        self.job, self.artifacts = job, [str(a) for a in artifacts]
        self.run_id: str | None = None
        self.ended = False

    @guarded
    def on_fit_start(self, params: Mapping[str, Any], history: Sequence[Mapping]) -> None:
        self.run_id = self.run(self.job.key, self.job.name, self.job.tags(), replace=True)
        if self.run_id is None:
            return
        study = {"study": self.settings.study, "code": self.job.code}
        self.log_params(self.run_id, flat_params({**params, **study, "data": self.settings.data}))
        for row in history:
            self.on_epoch_end(row)

    @guarded
    def on_epoch_end(self, row: Mapping[str, float]) -> None:
        if self.run_id is not None:
            self.log_metrics(self.run_id, epoch_metrics(row), step=int(row["epoch"]))

    @guarded
    def on_fit_end(self, info: Mapping[str, Any]) -> None:
        if self.run_id is None:
            return
        final = {k: info[k] for k in FINAL if k in info}
        self.log_metrics(self.run_id, flat_numbers(final, "train"), step=0)
        self.log_artifacts(self.run_id, self.artifacts, None)
        self.finish(self.run_id)
        self.ended = True

    @guarded
    def close(self, failed: bool) -> None:
        """Mark a run that did not reach the end FAILED (or KILLED when no error ended it)."""
        if self.run_id is not None and not self.ended:
            self.finish(self.run_id, "FAILED" if failed else "KILLED")


class TensorBoardCallback(Backend):
    """Writes a training job's epochs as TensorBoard scalars (history.csv's names, the epoch
    as step) into ``folder``, flushed after every epoch."""

    def __init__(self, folder: Path | str) -> None:
        super().__init__(f"TensorBoard in {folder}")
        self.folder = Path(folder)
        self.writer: Any = None

    @guarded
    def on_fit_start(self, params: Mapping[str, Any], history: Sequence[Mapping]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise missing("tensorboard", err) from err
        for old in self.folder.glob("events.out.tfevents.*"):  # a rerun replaces its curves
            old.unlink()
        self.writer = SummaryWriter(log_dir=str(self.folder))
        self.writer.add_text("params", f"```\n{json.dumps(params, indent=1, sort_keys=True)}\n```")
        for row in history:
            self.on_epoch_end(row)

    @guarded
    def on_epoch_end(self, row: Mapping[str, float]) -> None:
        if self.writer is not None:
            for name, value in epoch_metrics(row).items():
                self.writer.add_scalar(name, value, global_step=int(row["epoch"]))
            self.writer.flush()

    @guarded
    def on_fit_end(self, info: Mapping[str, Any]) -> None:
        if self.writer is not None:
            self.writer.add_scalar("best_epoch", info["best_epoch"], global_step=0)
            self.writer.flush()

    @guarded
    def close(self, failed: bool) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def training_callbacks(
    job: TrainingJob,
    tensorboard: Path | str,
    artifacts: Sequence[Path | str],
    settings: TrackingSettings | None = None,
) -> Iterator[list[MlflowCallback | TensorBoardCallback]]:
    """The callbacks of a training job, for ``settings`` (None: those the workflow gave the
    job, :func:`~biomedclf.tracking.settings.from_environ`): none when tracking is off.
    ``tensorboard`` is the job's event-file folder, ``artifacts`` the files its MLflow run
    keeps (``model.pt``, ``history.csv``). On leaving, each callback is closed; a run left
    unfinished by an error is marked FAILED, and the error propagates."""
    settings = settings or from_environ()
    callbacks: list[MlflowCallback | TensorBoardCallback] = []
    if settings is not None and settings.mlflow is not None:
        callbacks.append(MlflowCallback(settings, job, [str(a) for a in artifacts]))
    if settings is not None and settings.tensorboard:
        callbacks.append(TensorBoardCallback(tensorboard))
    failed = True
    try:
        yield callbacks
        failed = False
    finally:
        for callback in callbacks:
            callback.close(failed)
