"""The tracking settings of a study, as the workflow hands them to its jobs.

The workflow (``common.smk``) turns the validated ``tracking:`` section into a
:class:`TrackingSettings` and puts it, as JSON, into the environment variable :data:`ENV_VAR`
that every job inherits. The settings are not in any job's params on purpose: a job reruns
when its params change, and turning tracking on or off, or pointing it at another server,
must rerun nothing (docs/architecture.md, "What reruns a job"). A job started without the
variable (the library used on its own, a test) tracks nothing.

Nothing heavy is imported here: the Snakefile reads this module when it plans the jobs.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ENV_VAR",
    "MlflowTarget",
    "TrackingSettings",
    "check_installed",
    "from_environ",
    "study_settings",
]

#: The environment variable that carries the settings from the workflow to its jobs.
ENV_VAR = "BIOMEDCLF_TRACKING"

#: The extra that installs the tracking packages, named in every "not installed" message.
EXTRA = "pip install 'biomedclf[tracking]' (or pip install -e '.[tracking]' in a checkout)"


@dataclass(frozen=True)
class MlflowTarget:
    """Where a study's MLflow runs go: the tracking ``uri`` (a server, a ``file:`` store or
    a ``sqlite:`` database), the ``experiment``, and ``artifacts``, the artifact location a
    new experiment gets (the local store's folder; None: MLflow's own choice)."""

    uri: str
    experiment: str
    artifacts: str | None


@dataclass(frozen=True)
class TrackingSettings:
    """The study's name, its MLflow target (None: off), whether TensorBoard event files are
    written, and the study's ``data:`` settings (parameters of every training run)."""

    study: str
    mlflow: MlflowTarget | None
    tensorboard: bool
    data: dict[str, Any]

    @property
    def enabled(self) -> bool:
        return self.mlflow is not None or self.tensorboard

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrackingSettings:
        raw = json.loads(text)
        target = raw["mlflow"] and MlflowTarget(**raw["mlflow"])
        return cls(raw["study"], target or None, bool(raw["tensorboard"]), raw["data"])


def study_settings(config: Mapping[str, Any], local_store: Mapping[str, Path]) -> TrackingSettings:
    """The settings of a validated study config. ``local_store`` holds the ``store`` and
    ``artifacts`` paths of the study's own MLflow store (:func:`biomedclf.layout.mlflow_store`),
    used when ``tracking.mlflow`` is ``true`` or names no ``uri``."""
    tracking = config["tracking"]
    mlflow = tracking["mlflow"]
    target = None
    if mlflow is not False:
        uri, experiment = (None, None) if mlflow is True else (mlflow["uri"], mlflow["experiment"])
        artifacts = None
        if uri is None:
            uri = "sqlite:///" + str(Path(local_store["store"]).resolve())
            artifacts = Path(local_store["artifacts"]).resolve().as_uri()
        target = MlflowTarget(uri, experiment or config["name"], artifacts)
    return TrackingSettings(config["name"], target, bool(tracking["tensorboard"]), config["data"])


def check_installed(settings: TrackingSettings) -> None:
    """Raise ``ImportError`` naming the key and the extra when a backend the settings enable
    is not installed (the workflow checks it once, before any job runs)."""
    wanted = {"tracking.mlflow": "mlflow"} if settings.mlflow else {}
    if settings.tensorboard:
        wanted["tracking.tensorboard"] = "tensorboard"
    for key, package in wanted.items():
        if importlib.util.find_spec(package) is None:
            raise ImportError(f"{key}: the package {package!r} is not installed; {EXTRA}")


def from_environ(environ: Mapping[str, str] | None = None) -> TrackingSettings | None:
    """The settings the workflow gave this job (:data:`ENV_VAR`), or None when it gave none
    or enables nothing."""
    text = (os.environ if environ is None else environ).get(ENV_VAR)
    settings = TrackingSettings.from_json(text) if text else None
    return settings if settings is not None and settings.enabled else None
