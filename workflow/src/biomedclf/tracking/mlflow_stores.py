"""The MLflow calls a job makes, through MLflow's REST API or through the ``mlflow`` package.

A job makes a handful of calls: find or create the experiment, search runs by tag, create,
end and delete a run, log a batch of params or metrics, upload a file. Two stores make them:

- :class:`RestStore` for a tracking server (``http://``, ``https://``): MLflow's REST API
  (version 2.0) over the standard library's HTTP client, with the server's proxied artifact
  upload (``mlflow-artifacts:``). Importing the ``mlflow`` package costs a job about 2 s of
  CPU, more than a short training job takes; this store costs nothing to import. It reads
  MLflow's own client settings from the environment: ``MLFLOW_TRACKING_TOKEN`` or
  ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_HTTP_REQUEST_TIMEOUT``,
  ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``. A run whose
  artifacts the server does not proxy (an ``s3://`` location, say) gets its files through
  the ``mlflow`` package.
- :class:`LibraryStore` for every other URI (``sqlite:``, ``file:``, ``databricks``...):
  ``mlflow.tracking.MlflowClient``.

Both raise on any failure; :class:`~biomedclf.tracking.mlflow_runs.MlflowSession` guards
them.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from biomedclf.tracking.guard import missing, quiet_client

__all__ = ["LibraryStore", "RestStore", "open_store"]

#: HTTP statuses worth another try (as MLflow's own client retries them).
RETRY_STATUSES = (429, 500, 502, 503, 504)


def open_store(uri: str) -> RestStore | LibraryStore:
    """The store for a tracking URI: REST for a server, the ``mlflow`` package otherwise."""
    quiet_client()
    scheme = urllib.parse.urlparse(uri).scheme
    return RestStore(uri) if scheme in ("http", "https") else LibraryStore(uri)


class RestError(RuntimeError):
    """An MLflow server's refusal: its HTTP status and error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code = status, code


class RestStore:
    """MLflow's REST API at ``uri`` (a tracking server)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.artifact_uris: dict[str, str] = {}

    def _headers(self) -> dict[str, str]:
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if token:
            return {"Authorization": f"Bearer {token}"}
        if user:
            pair = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _send(self, method: str, url: str, data: bytes | None, kind: str) -> bytes:
        """One request, retried on connection errors and RETRY_STATUSES."""
        retries = int(os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"])
        backoff = float(os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
        timeout = float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
        headers = {"Content-Type": kind, **self._headers()}
        for attempt in range(retries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as err:
                body = err.read().decode(errors="replace")
                if err.code not in RETRY_STATUSES or attempt == retries:
                    raise _refusal(err.code, body) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                if attempt == retries:
                    raise
            time.sleep(backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _call(self, endpoint: str, body: dict[str, Any] | None = None, **query: str) -> dict:
        url = f"{self.uri}/api/2.0/mlflow/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        raw = self._send("GET" if body is None else "POST", url, data, "application/json")
        return json.loads(raw or b"{}")

    def experiment_id(self, name: str, artifacts: str | None) -> str:
        try:
            found = self._call("experiments/get-by-name", experiment_name=name)["experiment"]
        except RestError as err:
            if err.code != "RESOURCE_DOES_NOT_EXIST":
                raise
            body = {"name": name, **({"artifact_location": artifacts} if artifacts else {})}
            try:
                return self._call("experiments/create", body)["experiment_id"]
            except RestError as again:  # another job created it meanwhile
                if again.code != "RESOURCE_ALREADY_EXISTS":
                    raise
                found = self._call("experiments/get-by-name", experiment_name=name)["experiment"]
        if found.get("lifecycle_stage") == "deleted":
            self._call("experiments/restore", {"experiment_id": found["experiment_id"]})
        return found["experiment_id"]

    def search(self, experiment: str, where: str) -> list[tuple[int, str]]:
        """(start time, run id) of the active runs that match the filter ``where``."""
        body = {"experiment_ids": [experiment], "filter": where, "max_results": 1000}
        runs = self._call("runs/search", body).get("runs", [])
        for run in runs:
            self.artifact_uris[run["info"]["run_id"]] = run["info"]["artifact_uri"]
        return [(int(r["info"]["start_time"]), r["info"]["run_id"]) for r in runs]

    def create_run(self, experiment: str, name: str, tags: dict[str, str]) -> str:
        body = {
            "experiment_id": experiment,
            "run_name": name,
            "start_time": int(time.time() * 1000),
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        info = self._call("runs/create", body)["run"]["info"]
        self.artifact_uris[info["run_id"]] = info["artifact_uri"]
        return info["run_id"]

    def delete_run(self, run_id: str) -> None:
        self._call("runs/delete", {"run_id": run_id})

    def finish(self, run_id: str, status: str) -> None:
        body = {"run_id": run_id, "status": status, "end_time": int(time.time() * 1000)}
        self._call("runs/update", body)

    def log_batch(
        self, run_id: str, params: dict[str, str], metrics: dict[str, float], step: int
    ) -> None:
        now = int(time.time() * 1000)
        body = {
            "run_id": run_id,
            "params": [{"key": k, "value": v} for k, v in params.items()],
            "metrics": [
                {"key": k, "value": v, "timestamp": now, "step": step} for k, v in metrics.items()
            ],
        }
        self._call("runs/log-batch", body)

    def log_artifact(self, run_id: str, path: Path | str, folder: str | None) -> None:
        """Upload ``path`` through the server's artifact proxy, or with the ``mlflow``
        package when the run's artifacts are stored elsewhere."""
        if run_id not in self.artifact_uris:
            info = self._call("runs/get", run_id=run_id)["run"]["info"]
            self.artifact_uris[run_id] = info["artifact_uri"]
        where = urllib.parse.urlparse(self.artifact_uris[run_id])
        if where.scheme != "mlflow-artifacts":
            LibraryStore(self.uri).log_artifact(run_id, path, folder)
            return
        parts = [where.path.strip("/"), *([folder] if folder else []), Path(path).name]
        url = f"{self.uri}/api/2.0/mlflow-artifacts/artifacts/" + urllib.parse.quote(
            "/".join(parts)
        )
        self._send("PUT", url, Path(path).read_bytes(), "application/octet-stream")


def _refusal(status: int, body: str) -> RestError:
    try:
        error = json.loads(body)
        return RestError(status, error.get("error_code", ""), error.get("message", body))
    except (ValueError, AttributeError):
        return RestError(status, "", body[:200])


class LibraryStore:
    """``mlflow.tracking.MlflowClient`` at ``uri`` (imported here: about 2 s)."""

    def __init__(self, uri: str) -> None:
        if uri.startswith("file:"):  # MLflow 3 asks to opt in to its file store
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as err:
            raise missing("mlflow", err) from err
        self.client = MlflowClient(tracking_uri=uri)

    def experiment_id(self, name: str, artifacts: str | None) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            try:
                return self.client.create_experiment(name, artifact_location=artifacts)
            except Exception:  # another job created it meanwhile
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            self.client.restore_experiment(found.experiment_id)
        return found.experiment_id

    def search(self, experiment: str, where: str) -> list[tuple[int, str]]:
        runs = self.client.search_runs([experiment], filter_string=where, max_results=1000)
        return [(r.info.start_time, r.info.run_id) for r in runs]

    def create_run(self, experiment: str, name: str, tags: dict[str, str]) -> str:
        return self.client.create_run(experiment, run_name=name, tags=tags).info.run_id

    def delete_run(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def finish(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status=status)

    def log_batch(
        self, run_id: str, params: dict[str, str], metrics: dict[str, float], step: int
    ) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, step) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )

    def log_artifact(self, run_id: str, path: Path | str, folder: str | None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path=folder)
