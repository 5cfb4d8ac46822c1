"""A local snakemake run killed with SIGKILL mid-training resumes after ``snakemake --unlock``
and the same command, and ends identical to a run that was never interrupted."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from repo_copy import copy_repo
from workflow_helpers import SNAKEMAKE, edit_yaml, snakemake

pytestmark = pytest.mark.workflow

CONFIG = "configs/smoke.yaml"
EPOCHS = 40


def slow_study(config: dict) -> None:
    """Two variants with the same model and settings (the name alone differs, and it does not
    enter the numbers): ``reference`` runs undisturbed, ``killed`` is killed mid-training."""
    config["data"]["image_size"] = 32
    config["data"]["synthetic"]["n_per_class"] = 100
    config["training"].update(epochs=EPOCHS, seeds=[0], augment=True)
    same = {"model": "conv", "width": 16, "dropout": 0.3}
    config["variants"] = {"killed": dict(same), "reference": dict(same)}
    config["comparisons"] = {"same": {"baseline": "reference", "variants": ["killed"]}}


def run_dir(variant: str) -> Path:
    """The run's training folder, relative to the repository (a target as a user types it)."""
    return Path("results") / "smoke" / "train" / variant / "seed0"


def checkpoint_epoch(path: Path) -> int:
    if not path.is_file():
        return 0
    try:
        return int(torch.load(path, weights_only=True)["progress"]["epoch"])
    except Exception:  # noqa: BLE001 - being replaced at this instant; poll again
        return 0


def history(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(path.open()))
    for row in rows:
        row.pop("seconds")
    return rows


def kill_mid_training(repo: Path, target: str, checkpoint: Path) -> int:
    """Start snakemake for ``target`` in its own process group and SIGKILL the group (the
    workflow and its job) once the training job has checkpointed an epoch; returns it."""
    proc = subprocess.Popen(
        [*SNAKEMAKE, target, "--cores", "1", "--configfile", CONFIG],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    try:
        while checkpoint_epoch(checkpoint) < 1:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.02)  # polling interval, not a synchronisation
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    return checkpoint_epoch(checkpoint)


def test_killed_run_resumes_after_unlock_and_matches(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    edit_yaml(repo / CONFIG, slow_study)
    reference = run_dir("reference")
    snakemake(repo, str(reference / "model.pt"), "--cores", "1", "--configfile", CONFIG)

    killed = run_dir("killed")
    checkpoint = repo / "results" / "smoke" / ".checkpoints" / "killed" / "seed0" / "checkpoint.pt"
    done = kill_mid_training(repo, str(killed / "model.pt"), checkpoint)
    assert 1 <= done < EPOCHS, done
    assert not (repo / killed / "model.pt").exists()

    # As the README says: unlock, then the same command.
    locked = snakemake(
        repo, str(killed / "model.pt"), "--cores", "1", "--configfile", CONFIG, check=False
    )
    assert locked.returncode != 0 and "lock" in (locked.stdout + locked.stderr).lower()
    snakemake(repo, "--unlock", "--cores", "1", "--configfile", CONFIG)
    snakemake(repo, str(killed / "model.pt"), "--cores", "1", "--configfile", CONFIG)

    log = (repo / "logs" / "smoke" / "train" / "killed" / "seed0.log").read_text()
    assert f"resumed from {checkpoint.relative_to(repo)} after epoch" in log, log
    assert not checkpoint.exists()
    assert history(repo / killed / "history.csv") == history(repo / reference / "history.csv")
    a, b = (torch.load(repo / d / "model.pt", weights_only=True) for d in (killed, reference))
    assert a["best_epoch"] == b["best_epoch"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
