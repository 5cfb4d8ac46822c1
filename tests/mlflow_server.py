"""A real MLflow tracking server on localhost for the tracking tests, and ways to fail one.

:func:`mlflow_server` starts ``mlflow server`` with a SQLite backend and an artifact folder in a
temporary folder, waits on its ``/health`` endpoint (polling, no fixed sleep) and stops it
after. :func:`closed_port` gives a port nothing listens on; :func:`failing_server` answers
every request with HTTP 500.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: How long the server may take to start (it creates its database first; ~20 s on 2 cores).
START_TIMEOUT = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> str:
    """The URI of a port on localhost where nothing listens (a server that is down)."""
    return f"http://127.0.0.1:{free_port()}"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """``mlflow server`` on a free port of 127.0.0.1, its store in ``folder``; yields its URI.
    Fails with the server's log when it exits or is not healthy within START_TIMEOUT."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = shutil.which("mlflow", path=os.path.dirname(sys.executable)) or "mlflow"
    command = [
        mlflow, "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mlflow server did not start:\n{(folder / 'server.log').read_text()}"
                )
            time.sleep(0.2)  # the poll interval
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class _Fails(http.server.BaseHTTPRequestHandler):
    def _fail(self) -> None:
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"internal error")

    do_GET = do_POST = _fail  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def failing_server() -> Iterator[str]:
    """A server on localhost that answers every request with HTTP 500; yields its URI."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Fails)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
