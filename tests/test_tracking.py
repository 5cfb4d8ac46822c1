"""Tracking (biomedclf.tracking): what a training job and the jobs after it report to a real
MLflow server and to TensorBoard, read back with their own readers; that a rerun replaces its
run; and that a server that is down or failing costs one warning and changes no result.

The server (tests/mlflow_server.py) is ``mlflow server`` with a SQLite store in a temporary
folder, started once for the module; runs are read with ``mlflow.tracking.MlflowClient``,
event files with TensorBoard's ``EventAccumulator``.
"""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from config_helpers import cache_files, train_files
from mlflow_server import closed_port, failing_server, mlflow_server
from test_train import cache_decoding, make_spec, write_cache

from biomedclf import layout
from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.tracking import settings as tracking_settings
from biomedclf.tracking.jobs import attach_to_study, log_crossval, log_evaluation, start_study
from biomedclf.tracking.settings import (
    ENV_VAR,
    MlflowTarget,
    TrackingSettings,
    check_installed,
    from_environ,
    study_settings,
)
from biomedclf.tracking.training import TrainingJob, training_callbacks
from biomedclf.train.callbacks import TrainingCallback
from biomedclf.train.loop import run_training

EPOCHS = 3
HISTORY_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> str:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as url:
        yield url


@pytest.fixture(scope="module", params=["server", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tracking URI: the server (MLflow's REST API) or a SQLite file (the mlflow package)."""
    if request.param == "server":
        return request.getfixturevalue("server")
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cache(tmp_path_factory.mktemp("cache"))


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def settings_for(uri: str | None, study: str, tensorboard: bool = True) -> TrackingSettings:
    """Settings for ``study`` (experiment ``exp-{study}``); a SQLite store keeps its
    artifacts beside its database."""
    artifacts = None
    if uri and uri.startswith("sqlite:///"):
        artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    target = MlflowTarget(uri, f"exp-{study}", artifacts) if uri else None
    return TrackingSettings(study, target, tensorboard, {"image_size": 16, "source": "synthetic"})


def train_tracked(
    data: Path, out: Path, settings: TrackingSettings | None, seed: int = 0, fold=None
) -> dict[str, Path]:
    """One training job of variant 'cnn' with its tracking callbacks (as workflow/scripts/
    train.py runs it); returns its files by role plus 'tensorboard'."""
    files = train_files(out / "run")
    tensorboard = layout.tensorboard_dir(out, "cnn", seed, fold)
    job = TrainingJob("cnn", seed, fold, "digest123")
    with training_callbacks(job, tensorboard, [files["model"], files["history"]], settings) as cbs:
        spec = {**make_spec(epochs=EPOCHS), "name": "cnn"}
        decoding = cache_decoding(data)
        run_training(
            spec, seed, cache_files(data), files, out / "ckpt", 1, decoding=decoding, callbacks=cbs
        )
    return {**files, "tensorboard": tensorboard}


def history_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def study_runs(uri: str, study: str) -> list:
    c = client(uri)
    experiment = c.get_experiment_by_name(f"exp-{study}")
    return c.search_runs([experiment.experiment_id], filter_string=f"tags.study = '{study}'")


def by_job(runs: list) -> dict[str, object]:
    found: dict[str, list] = {}
    for run in runs:
        found.setdefault(run.data.tags["biomedclf.job"], []).append(run)
    assert all(len(v) == 1 for v in found.values()), {k: len(v) for k, v in found.items()}
    return {k: v[0] for k, v in found.items()}


def test_the_callbacks_implement_the_loops_interface(tmp_path: Path) -> None:
    with training_callbacks(
        TrainingJob("v", 0, None, "c"), tmp_path, [], settings_for("http://x", "s")
    ) as callbacks:
        assert len(callbacks) == 2
        assert all(isinstance(c, TrainingCallback) for c in callbacks)


def test_a_training_run_is_logged_as_it_happens(store: str, data: Path, tmp_path: Path) -> None:
    files = train_tracked(data, tmp_path, settings_for(store, "train"))
    runs = by_job(study_runs(store, "train"))
    assert set(runs) == {"study", "train/cnn/seed0"}
    run, parent = runs["train/cnn/seed0"], runs["study"]
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert {k: run.data.tags[k] for k in ("study", "variant", "seed")} == {
        "study": "train", "variant": "cnn", "seed": "0"
    }  # fmt: skip
    assert run.info.status == "FINISHED" and run.info.run_name == "cnn/seed0"
    params = run.data.params
    assert params["variant"] == "cnn" and params["model"] == "conv" and params["seed"] == "0"
    assert params["training.epochs"] == str(EPOCHS) and params["training.lr"] == "0.001"
    assert params["study"] == "train" and params["code"] == "digest123"
    assert params["data.image_size"] == "16" and params["fold"] == "null"
    # every epoch's numbers, as history.csv has them
    rows = history_rows(files["history"])
    assert len(rows) == EPOCHS
    c = client(store)
    for key in HISTORY_METRICS:
        logged = sorted((m.step, m.value) for m in c.get_metric_history(run.info.run_id, key))
        assert logged == [(int(r["epoch"]), float(r[key])) for r in rows], key
    speeds = c.get_metric_history(run.info.run_id, "images_per_second")
    assert [m.step for m in sorted(speeds, key=lambda m: m.step)] == [1, 2, 3]
    info = json.loads(files["info"].read_text())
    assert run.data.metrics["train/best_epoch"] == info["best_epoch"]
    # model.pt and history.csv, byte for byte
    names = sorted(a.path for a in c.list_artifacts(run.info.run_id))
    assert names == ["history.csv", "model.pt"]
    for name, role in (("model.pt", "model"), ("history.csv", "history")):
        got = c.download_artifacts(run.info.run_id, name, str(tmp_path / "dl"))
        assert Path(got).read_bytes() == files[role].read_bytes()


class Stopped(RuntimeError):
    """The job was stopped by the test."""


class Recorder:
    """A callback that records what the loop tells it, and can stop the job after an epoch."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.stop_after = stop_after

    def on_fit_start(self, params, history) -> None:
        self.calls.append(("start", (dict(params), [dict(r) for r in history])))

    def on_epoch_end(self, row) -> None:
        self.calls.append(("epoch", dict(row)))
        if row["epoch"] == self.stop_after:
            raise Stopped(f"after epoch {row['epoch']}")

    def on_fit_end(self, info) -> None:
        self.calls.append(("end", dict(info)))


def test_a_killed_job_fails_its_run_and_its_resumption_replays_every_epoch(
    store: str, data: Path, tmp_path: Path
) -> None:
    settings = settings_for(store, "resume")
    files = train_files(tmp_path / "run")
    job = TrainingJob("cnn", 0, None, "digest")
    spec = {**make_spec(epochs=EPOCHS), "name": "cnn"}

    def attempt(recorder: Recorder) -> None:
        with training_callbacks(job, tmp_path / "tb", [files["history"]], settings) as cbs:
            run_training(
                spec, 0, cache_files(data), files, tmp_path / "ckpt", 1,
                decoding=cache_decoding(data), callbacks=[*cbs, recorder],
            )  # fmt: skip

    with pytest.raises(Stopped):
        attempt(Recorder(stop_after=2))  # after epoch 2's checkpoint
    killed = by_job(study_runs(store, "resume"))["train/cnn/seed0"]
    assert killed.info.status == "FAILED"
    recorder = Recorder()
    attempt(recorder)
    kinds = [kind for kind, _ in recorder.calls]
    assert kinds == ["start", "epoch", "end"]  # resumed after epoch 2
    params, replayed = recorder.calls[0][1]
    assert [r["epoch"] for r in replayed] == [1, 2]
    assert params["variant"] == "cnn" and params["seed"] == 0 and params["fold"] is None
    assert recorder.calls[1][1]["epoch"] == 3 and recorder.calls[1][1]["images_per_second"] > 0
    assert recorder.calls[2][1] == json.loads(files["info"].read_text())
    run = by_job(study_runs(store, "resume"))["train/cnn/seed0"]  # the killed run replaced
    assert run.info.status == "FINISHED" and run.info.run_id != killed.info.run_id
    rows = history_rows(files["history"])
    for key in ("val_loss", "train_accuracy"):
        logged = sorted(
            (m.step, m.value) for m in client(store).get_metric_history(run.info.run_id, key)
        )
        assert logged == [(int(r["epoch"]), float(r[key])) for r in rows]


def test_tensorboard_event_files_hold_every_epoch(data: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = train_tracked(data, tmp_path, settings_for(None, "tb"))
    assert files["tensorboard"] == tmp_path / "tensorboard" / "cnn" / "seed0"
    events = EventAccumulator(str(files["tensorboard"]))
    events.Reload()
    rows = history_rows(files["history"])
    for key in HISTORY_METRICS:
        got = [(e.step, e.value) for e in events.Scalars(key)]
        assert got == [(int(r["epoch"]), pytest.approx(float(r[key]), rel=1e-6)) for r in rows]
    assert len(events.Scalars("images_per_second")) == EPOCHS
    assert "params/text_summary" in events.Tags()["tensors"]


def test_a_rerun_replaces_its_run_and_its_curves(store: str, data: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    settings = settings_for(store, "rerun")
    first = train_tracked(data, tmp_path, settings)
    before = by_job(study_runs(store, "rerun"))
    second = train_tracked(data, tmp_path, settings)
    after = by_job(study_runs(store, "rerun"))  # one run per job: none added
    assert set(after) == {"study", "train/cnn/seed0"}
    assert after["study"].info.run_id == before["study"].info.run_id
    assert after["train/cnn/seed0"].info.run_id != before["train/cnn/seed0"].info.run_id
    history = client(store).get_metric_history(after["train/cnn/seed0"].info.run_id, "val_loss")
    assert sorted(m.step for m in history) == [1, 2, 3]
    assert first["tensorboard"] == second["tensorboard"]
    assert len(list(second["tensorboard"].glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(second["tensorboard"]))
    events.Reload()
    assert [e.step for e in events.Scalars("val_loss")] == [1, 2, 3]


def test_evaluation_study_files_and_folds_reach_their_runs(
    store: str, data: Path, tmp_path: Path
) -> None:
    settings = settings_for(store, "later")
    assert start_study(settings) is not None
    files = train_tracked(data, tmp_path, settings)
    metrics = tmp_path / "metrics.json"
    run_evaluation(files["scores"], files["info"], metrics, tmp_path / "pred.csv", ordinal=False)
    log_evaluation("cnn", 0, metrics, settings)
    stats = tmp_path / "stats.json"
    stats.write_text('{"format": "test"}')
    attach_to_study([stats], "stats", settings)
    attach_to_study([metrics], None, settings)
    runs = by_job(study_runs(store, "later"))
    run = runs["train/cnn/seed0"]
    expected = json.loads(metrics.read_text())["multiclass"]["accuracy"]
    assert run.data.metrics["test/multiclass/accuracy"] == pytest.approx(expected)
    assert "test/threshold_youden/auroc" in run.data.metrics
    c = client(store)
    parent = runs["study"].info.run_id
    assert [a.path for a in c.list_artifacts(parent, "stats")] == ["stats/stats.json"]
    assert "metrics.json" in [a.path for a in c.list_artifacts(parent)]
    # the crossval job: a run of its own (replaced on a rerun), the folds' metrics on theirs
    fold_metrics = {"accuracy": 0.5, "macro_auroc": 0.75, "kappa": None}
    record = {
        "folds": [{"fold": f, "heldout": fold_metrics, "test": fold_metrics} for f in (0, 1)],
        "cv_mean": fold_metrics,
        "cv_sd": fold_metrics,
        "ensemble_test": {"multiclass": fold_metrics},
    }
    crossval = tmp_path / "crossval.json"
    crossval.write_text(json.dumps(record))
    for _ in range(2):
        log_crossval("cnn", 0, crossval, metrics, settings)
    runs = by_job(study_runs(store, "later"))
    assert {"crossval/cnn/seed0", "train/cnn/seed0/fold0", "train/cnn/seed0/fold1"} <= set(runs)
    combined = runs["crossval/cnn/seed0"].data
    assert combined.metrics["ensemble_test/multiclass/accuracy"] == 0.5
    assert combined.metrics["out_of_fold/multiclass/accuracy"] == pytest.approx(expected)
    assert "cv_mean/kappa" not in combined.metrics  # a null metric is left out
    assert runs["train/cnn/seed0/fold1"].data.metrics["heldout/macro_auroc"] == 0.75
    assert runs["train/cnn/seed0/fold1"].data.tags["fold"] == "1"
    assert all(r.data.tags["mlflow.parentRunId"] == parent for k, r in runs.items() if k != "study")


def outputs_of(files: dict[str, Path], tmp: Path) -> dict[str, object]:
    """A run's results: history.csv but its seconds, scores.csv, metrics.json, predictions."""
    run_evaluation(files["scores"], files["info"], tmp / "m.json", tmp / "p.csv", ordinal=False)
    rows = [{k: v for k, v in r.items() if k != "seconds"} for r in history_rows(files["history"])]
    return {
        "history": rows,
        "scores": files["scores"].read_bytes(),
        "metrics": (tmp / "m.json").read_bytes(),
        "predictions": (tmp / "p.csv").read_bytes(),
    }


#: Tracking URIs that fail: a server that is down, one that answers HTTP 500, and a SQLite
#: store inside a file, where no folder can be made (through the mlflow package).
FAILURES = ["down", "http 500", "store inside a file"]


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_server_is_one_warning_and_changes_no_result(
    failure: str, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = outputs_of(train_tracked(data, tmp_path / "plain", None), tmp_path / "plain")
    (tmp_path / "a_file").write_text("not a folder")
    with failing_server() as bad:
        uri = {
            "down": closed_port(),
            "http 500": bad,
            "store inside a file": f"sqlite:///{tmp_path / 'a_file' / 'mlflow.db'}",
        }[failure]
        caplog.set_level(logging.INFO)
        start = time.perf_counter()
        files = train_tracked(data, tmp_path / "tracked", settings_for(uri, "fails"))
        metrics = tmp_path / "tracked" / "m.json"
        tracked = outputs_of(files, tmp_path / "tracked")
        log_evaluation("cnn", 0, metrics, settings_for(uri, "fails"))
        seconds = time.perf_counter() - start
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    tracking = [r for r in warnings if r.name.startswith("biomedclf.tracking")]
    # one warning per job (training, then evaluation), nothing else above INFO
    assert len(tracking) == 2 and len(warnings) == 2, [r.getMessage() for r in warnings]
    assert f"MLflow at {uri}" in tracking[0].getMessage()
    assert "goes on without it" in tracking[0].getMessage()
    assert tracked == plain
    assert seconds < 60, f"a failing server cost {seconds:.0f} s"
    # TensorBoard, a separate backend, still wrote every epoch
    assert list(files["tensorboard"].glob("events.out.tfevents.*"))


def test_settings_from_the_config(tmp_path: Path) -> None:
    store = {"store": tmp_path / "mlflow.db", "artifacts": tmp_path / "art"}
    config = {"name": "s", "data": {"image_size": 8}}
    off = study_settings({**config, "tracking": {"mlflow": False, "tensorboard": False}}, store)
    assert off.mlflow is None and not off.enabled
    local = study_settings({**config, "tracking": {"mlflow": True, "tensorboard": False}}, store)
    assert local.mlflow == MlflowTarget(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "s", (tmp_path / "art").as_uri()
    )
    given = {"uri": "http://h:5000", "experiment": None}
    remote = study_settings({**config, "tracking": {"mlflow": given, "tensorboard": True}}, store)
    assert remote.mlflow == MlflowTarget("http://h:5000", "s", None) and remote.tensorboard
    environ = {ENV_VAR: remote.to_json()}
    assert from_environ(environ) == remote
    assert from_environ({ENV_VAR: off.to_json()}) is None
    assert from_environ({}) is None


def test_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracking_settings.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"tracking\.tensorboard: .*biomedclf\[tracking\]"):
        check_installed(settings_for(None, "s"))
    check_installed(settings_for(None, "s", tensorboard=False))  # nothing enabled: no error


def test_nothing_is_tracked_or_imported_when_tracking_is_off(tmp_path: Path) -> None:
    code = f"""
import os, sys
os.environ.pop({ENV_VAR!r}, None)
from biomedclf.tracking.training import TrainingJob, training_callbacks
from biomedclf.tracking.jobs import attach_to_study, log_evaluation
with training_callbacks(TrainingJob("v", 0, None, "c"), {str(tmp_path)!r}, []) as callbacks:
    assert callbacks == []
attach_to_study(["missing.png"], None)
log_evaluation("v", 0, "missing.json")
heavy = [m for m in ("mlflow", "tensorboard", "torch") if m in sys.modules]
assert not heavy, heavy
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not list(tmp_path.iterdir())
