"""Device choice and per-job GPU assignment, tested without GPUs (faked device lists)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from biomedclf.train import devices
from biomedclf.train.devices import claim_gpu, select_device, visible_device_ids

FOUR = ["0", "1", "2", "3"]


@pytest.fixture(autouse=True)
def _no_claim_left() -> None:
    devices.release_gpu()
    yield
    devices.release_gpu()


def test_visible_device_ids() -> None:
    assert visible_device_ids(3, {}) == ["0", "1", "2"]
    assert visible_device_ids(2, {"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert visible_device_ids(1, {"CUDA_VISIBLE_DEVICES": "GPU-ab12"}) == ["GPU-ab12"]
    assert visible_device_ids(2, {"CUDA_VISIBLE_DEVICES": ""}) == ["0", "1"]
    # an entry CUDA could not use: fall back to plain indices
    assert visible_device_ids(2, {"CUDA_VISIBLE_DEVICES": "5"}) == ["0", "1"]


def test_single_visible_device_needs_no_lock(tmp_path: Path) -> None:
    # e.g. SLURM --gres=gpu:1 sets CUDA_VISIBLE_DEVICES to one device
    a = claim_gpu(["GPU-ab12"], tmp_path)
    b = claim_gpu(["GPU-ab12"], tmp_path)
    assert (a.index, b.index) == (0, 0)
    assert a.lock_path is None and not list(tmp_path.iterdir())


def test_threads_get_distinct_devices_and_release_reuses(tmp_path: Path) -> None:
    claims = []
    lock = threading.Lock()

    def take() -> None:
        c = claim_gpu(FOUR, tmp_path)
        with lock:
            claims.append(c)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.index for c in claims) == [0, 1, 2, 3]
    held = {c.index: c for c in claims}
    held[2].release()
    again = claim_gpu(FOUR, tmp_path)
    assert again.index == 2
    for c in [*claims, again]:
        c.release()


def test_all_claimed_shares_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    held = [claim_gpu(["0", "1"], tmp_path) for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger="biomedclf.train.devices"):
        extra = claim_gpu(["0", "1"], tmp_path)
    assert extra.index in (0, 1) and extra.lock_path is None
    assert "all 2 visible GPUs are claimed" in caplog.text
    for c in held:
        c.release()


CLAIMER = """
import sys
from pathlib import Path
from biomedclf.train.devices import claim_gpu
claim = claim_gpu(sys.argv[2].split(","), Path(sys.argv[1]))
print(claim.index, flush=True)
sys.stdin.read()  # hold the device until the parent closes our stdin (or kills us)
"""


def _start_claimer(lock_dir: Path, ids: list[str]) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(lock_dir), ",".join(ids)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # blocks until the claim is made (or the process dies)
    assert line.strip().isdigit(), f"claimer failed: {line!r}"
    return proc, int(line)


def test_processes_get_distinct_devices(tmp_path: Path) -> None:
    procs = []
    try:
        for _ in range(3):
            procs.append(_start_claimer(tmp_path, FOUR))
        indices = [i for _, i in procs]
        assert sorted(indices) == [0, 1, 2]
        # a job killed outright frees its device (the kernel drops the flock)
        victim, freed = procs.pop(1)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        procs.append(_start_claimer(tmp_path, FOUR))
        assert procs[-1][1] == freed
        procs.append(_start_claimer(tmp_path, FOUR))
        assert sorted(i for _, i in procs) == [0, 1, 2, 3]
    finally:
        for proc, _ in procs:
            proc.stdin.close()
            proc.wait(timeout=30)


def test_select_device_cpu_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert select_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"training\.device: 'cuda' was requested"):
        select_device("cuda")
    with pytest.raises(ValueError, match=r"training\.device: 'tpu' is not a device"):
        select_device("tpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match=r"training\.device: 'mps'"):
        select_device("mps")


def test_select_device_auto_prefers_mps_over_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert select_device("auto") == torch.device("mps")


def test_select_device_claims_a_fake_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path))
    others = [claim_gpu(FOUR, tmp_path) for _ in range(2)]  # two other jobs hold cuda:0, cuda:1
    try:
        assert select_device("auto") == torch.device("cuda", 2)
        assert select_device("cuda") == torch.device("cuda", 2)  # same process: same claim
        assert chosen == [2, 2]
        assert (tmp_path / "gpu-2.lock").read_text().strip() == str(os.getpid())
    finally:
        for c in others:
            c.release()


def test_lock_names_use_physical_ids(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # two jobs that see different subsets still agree on the physical GPU
    a = claim_gpu(visible_device_ids(2, {"CUDA_VISIBLE_DEVICES": "2,3"}), tmp_path)
    b = claim_gpu(visible_device_ids(2, {"CUDA_VISIBLE_DEVICES": "3,2"}), tmp_path)
    try:
        assert (a.device_id, a.index) == ("2", 0)
        assert (b.device_id, b.index) == ("3", 0)
        assert {p.name for p in tmp_path.iterdir()} == {"gpu-2.lock", "gpu-3.lock"}
    finally:
        a.release()
        b.release()
