"""Fixtures shared by the tests: one finished smoke study for the whole session, and a
network that refuses every connection and name lookup (and records the attempts)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from repo_copy import copy_repo
from workflow_helpers import smk


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository in which the smoke study (configs/smoke.yaml) has run."""
    repo = copy_repo(tmp_path_factory.mktemp("wf") / "repo")
    smk(repo)
    return repo


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every name lookup and socket connect fails at once and is recorded."""
    attempts: list = []

    def refuse(self: socket.socket, *args: object) -> None:
        attempts.append(args)
        raise OSError("this test allows no network connection")

    def unknown(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise socket.gaierror("this test allows no name lookup")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", unknown)
    return attempts
