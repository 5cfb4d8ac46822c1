"""Tracking never fails a job: the first failure of a backend is one warning, then silence.

Every call a job makes to a tracking backend goes through a :func:`guarded` method of a
:class:`Backend`. When one raises (a server that does not answer, a package that is missing,
a store that refuses a write), the job's log gets one warning that names the backend and the
error, the backend turns itself off for the rest of the job, and the job goes on: its results
never depend on tracking.

MLflow's HTTP client retries for minutes by default (7 retries with a backoff factor of 2, a
120 s timeout per request). :data:`CLIENT_ENV` sets a few quick retries and a short timeout
instead, unless the job's environment already sets them.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("biomedclf.tracking")

#: MLflow's HTTP client settings for the jobs (environment variables MLflow reads), used
#: where the environment does not set them: an unreachable server costs a job about 2 s.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
}

#: Loggers whose retry messages would repeat the one warning: quiet below ERROR.
NOISY_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")

F = TypeVar("F", bound=Callable[..., Any])


class Backend:
    """A tracking backend of one job: ``what`` names it in the warning (e.g. ``MLflow at
    http://host:5000``); ``off`` becomes true at its first failure."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.off = False

    def fail(self, err: BaseException) -> None:
        """Log the one warning of this backend and turn it off."""
        self.off = True
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        log.warning(
            "tracking: %s failed (%s%s); this job goes on without it, its results unchanged",
            self.what,
            type(err).__name__,
            f": {message[:300]}" if message else "",
        )


def guarded(method: F) -> F:
    """Make a :class:`Backend` method safe: it does nothing once the backend is off, and its
    first exception (not a KeyboardInterrupt or SystemExit) turns the backend off with one
    warning. Returns the method's value, or None."""

    @functools.wraps(method)
    def call(self: Backend, *args: Any, **kwargs: Any) -> Any:
        if self.off:
            return None
        try:
            return method(self, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 (tracking never fails a job)
            self.fail(err)
            return None

    return call  # type: ignore[return-value]


def quiet_client() -> None:
    """Short HTTP retries and timeouts for MLflow (:data:`CLIENT_ENV`, where unset) and no
    retry messages from urllib3 below ERROR."""
    for name, value in CLIENT_ENV.items():
        os.environ.setdefault(name, value)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def missing(package: str, err: ImportError) -> ImportError:
    """The error for a tracking package that is not installed, naming the extra."""
    from biomedclf.tracking.settings import EXTRA

    return ImportError(f"the package {package!r} is not installed ({err}); {EXTRA}")
