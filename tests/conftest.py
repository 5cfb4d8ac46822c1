"""Fixtures shared by the workflow tests: one finished smoke study for the whole session."""

from __future__ import annotations

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
