"""Pretrained weights end to end on a tiny study (a pretrained torchvision backbone and a
pretrained timm backbone from the weights cache, one from a local file, a linear baseline),
run with every connection refused: a finished study plans nothing,
touching the weights reruns nothing, other weights under the same file name rerun exactly the
jobs of the variant that uses them, an edited local file those of its variant; with an empty
cache and no network the weights job stops at once naming the file and its URL."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml
from repo_copy import copy_repo
from test_backbones import seeded_imagenet_state, weights_normalisation, write_weights
from workflow_helpers import SNAKEMAKE, planned_jobs, snakemake

from biomedclf import layout

pytestmark = pytest.mark.workflow

CONFIG = "pretrained_study.yaml"
MODEL = "torchvision/mobilenet_v3_small"
TIMM_MODEL = "timm/test_resnet"
STUDY = {
    "name": "pretrained_study",
    "replace_defaults": ["variants", "comparisons"],
    "weights_cache": "weights",
    "data": {
        "source": "synthetic",
        "image_size": 32,
        "split": {"val": 0.25, "test": 0.25, "seed": 0},
        "synthetic": {"n_per_class": 12, "difficulty": 0.3, "seed": 0},
    },
    "training": {"epochs": 1, "batch_size": 16, "seeds": [0], "device": "cpu"},
    "variants": {
        "lin": {"model": "linear"},
        "tl": {"model": MODEL, "pretrained": "imagenet"},
        "own": {"model": MODEL, "pretrained": "mine.pth"},
        "tm": {"model": TIMM_MODEL, "pretrained": "imagenet"},
    },
    "comparisons": {"pre": {"baseline": "lin", "variants": ["tl", "own", "tm"]}},
    "statistics": {"n_bootstrap": 100},
    "resources": {"prepare_threads": 1},
}
#: Jobs that read every variant's runs: they rerun whenever any variant's run does.
AGGREGATES = {
    "stats", "study_tables", "comparison_tables", "study_figures", "comparison_figures",
    "explain_figures", "summary", "architecture", "all",
}  # fmt: skip


def cached_file(repo: Path) -> Path:
    from torchvision.models import get_model_weights

    url = get_model_weights(MODEL.split("/")[1]).DEFAULT.url
    return repo / "weights" / layout.TORCH_CHECKPOINTS / url.rsplit("/", 1)[-1]


def record(repo: Path, variant: str) -> Path:
    return layout.pretrained_record(repo / "results" / STUDY["name"], variant)


def other_weights(path: Path, seed: int) -> None:
    """Replace the state dict in ``path`` by one of the same model from another seed."""
    torch.manual_seed(seed)
    state = torch.load(path, weights_only=True)
    torch.save({k: torch.randn_like(v.float()).to(v.dtype) for k, v in state.items()}, path)


def variants_of(jobs) -> dict[str, set[str]]:
    """rule -> the variants of its planned jobs (empty for jobs without one)."""
    found: dict[str, set[str]] = {}
    for rule, wildcards in jobs:
        parts = dict(w.split("=", 1) for w in wildcards.split(", ") if "=" in w)
        found.setdefault(rule, set()).update([parts["variant"]] if "variant" in parts else [])
    return found


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository in which the tiny pretrained study has run from a filled
    cache (the seeded stand-ins of the torchvision and timm ImageNet weights) and a local
    weights file, offline: every connection goes to a proxy that refuses it (this machine
    has no network anyway), huggingface_hub's requests included."""
    repo = copy_repo(tmp_path_factory.mktemp("pretrained") / "repo")
    (repo / CONFIG).write_text(yaml.safe_dump(STUDY, sort_keys=False))
    write_weights(MODEL, repo / "weights")
    write_weights(TIMM_MODEL, repo / "weights")
    torch.save(seeded_imagenet_state(MODEL), repo / "mine.pth")
    with offline():
        snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Every HTTP(S) connection of the processes started meanwhile to a port that refuses
    it."""
    saved = dict(os.environ)
    refused = "http://127.0.0.1:9"
    os.environ.update(https_proxy=refused, http_proxy=refused, HTTPS_PROXY=refused, no_proxy="")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_a_finished_study_plans_nothing_and_records_its_weights(study: Path) -> None:
    assert planned_jobs(study, CONFIG) == {}
    tl = json.loads(record(study, "tl").read_text())
    path = cached_file(study)
    assert tl["file"] == path.relative_to(study / "weights").as_posix()
    assert tl["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    own = json.loads(record(study, "own").read_text())
    assert own["sha256"] == hashlib.sha256((study / "mine.pth").read_bytes()).hexdigest()
    tm = json.loads(record(study, "tm").read_text())
    path = next((study / "weights" / "huggingface" / "hub").glob("models--*/snapshots/*/*"))
    assert tm["file"] == path.relative_to(study / "weights").as_posix()
    assert tm["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert tm["library"] == "timm"
    assert not record(study, "lin").exists()  # no pretrained weights, no record


def test_both_libraries_models_record_their_weights_and_normalisation(study: Path) -> None:
    """model.pt of the torchvision and the timm variant: the backbone, its adapted input
    layer and the weights' own mean and std (averaged for the one-channel images)."""
    for variant, name in (("tl", MODEL), ("tm", TIMM_MODEL)):
        path = study / "results" / STUDY["name"] / "train" / variant / "seed0" / "model.pt"
        saved = torch.load(path, weights_only=True)
        assert saved["backbone"]["model"] == name
        assert saved["backbone"]["input_layer"] == "RGB filters summed into one channel"
        mean, std = weights_normalisation(name)
        assert saved["mean"] == pytest.approx([sum(mean) / 3])
        assert saved["std"] == pytest.approx([sum(std) / 3])


def test_touching_the_weights_reruns_nothing(study: Path) -> None:
    path, rec = cached_file(study), record(study, "tl")
    before = rec.stat().st_mtime_ns
    now = time.time_ns()
    os.utime(path, ns=(now, now))
    os.utime(study / "mine.pth", ns=(now, now))
    assert planned_jobs(study, CONFIG) == {}
    assert rec.stat().st_mtime_ns == before


def test_other_weights_rerun_exactly_the_jobs_that_use_them(study: Path) -> None:
    other_weights(cached_file(study), seed=5)
    jobs = variants_of(planned_jobs(study, CONFIG))
    assert {r: v for r, v in jobs.items() if v} == {
        "train": {"tl"},
        "evaluate": {"tl"},
        "explain": {"tl"},
    }
    assert set(jobs) - {"train", "evaluate", "explain"} <= AGGREGATES
    assert "weights" not in jobs and "prepare" not in jobs
    # an edited local weights file: its variant's jobs too, the baseline's still not
    other_weights(study / "mine.pth", seed=6)
    jobs = variants_of(planned_jobs(study, CONFIG))
    assert jobs["train"] == jobs["evaluate"] == {"tl", "own"}
    assert "lin" not in set().union(*jobs.values())


def test_an_empty_cache_offline_stops_the_weights_job_at_once(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    config = {**STUDY, "name": "offline", "weights_cache": str(tmp_path / "empty")}
    (repo / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    torch.save(seeded_imagenet_state(MODEL), repo / "mine.pth")
    target = layout.pretrained_record(Path("results") / "offline", "tl")
    # no network here; where there is some, the unreachable proxy refuses every connection
    env = {**os.environ, "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}
    start = time.perf_counter()
    args = [str(target), "--cores", "1", "--configfile", CONFIG]
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = (repo / "logs" / "offline" / "weights" / "tl.log").read_text()
    url = "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth"
    assert proc.returncode != 0 and not (repo / target).exists()
    assert url in log and str(tmp_path / "empty" / "hub" / "checkpoints") in log
    assert "copy" in log
    assert seconds < 120  # a guard against a hang only (most of it is planning)
