"""Pretrained weights fetched once and recorded (biomedclf.train.weights): the record of a
filled cache (SHA-256 checked against hashlib), the offline error (file, URL, where to copy;
no hang), and a record rewritten only when its file's contents change."""

from __future__ import annotations

import hashlib
import json
import os
import time
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
from test_backbones import seeded_imagenet_state, write_weights

from biomedclf.train.weights import (
    WeightsUnavailable,
    fetch_weights,
    refresh_record,
    weights_source,
    write_record,
)

TV = "torchvision/mobilenet_v3_small"
TIMM = "timm/test_resnet"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", [TV, TIMM])
def test_the_record_of_a_filled_cache(name, tmp_path: Path, no_network: list):
    cache = tmp_path / "cache"
    write_weights(name, cache)
    source = weights_source(name, "imagenet")
    record = write_record(tmp_path / "rec" / "v.json", source, cache)
    assert json.loads((tmp_path / "rec" / "v.json").read_text()) == record
    path = cache / record["file"]
    assert path.is_file() and record["sha256"] == sha256(path)
    assert record["size"] == path.stat().st_size
    library = name.split("/")[0]
    assert record["library"] == library and record["version"] == version(library)
    assert record["url"] == source["url"] and record["url"].startswith("https://")
    if library == "torchvision":  # the file torch hub names after its URL
        assert record["file"] == f"hub/checkpoints/{source['url'].rsplit('/', 1)[-1]}"
        assert record["weights"] == "MobileNet_V3_Small_Weights.IMAGENET1K_V1"
    else:  # the snapshot timm reads from the Hugging Face cache
        assert record["file"].startswith("huggingface/hub/models--timm--test_resnet.")
    assert no_network == []  # a filled cache: no connection tried


@pytest.mark.parametrize(
    "name, url",
    [
        (TV, "https://download.pytorch.org/models/mobilenet_v3_small-"),
        (TIMM, "https://huggingface.co/timm/test_resnet.r160_in1k/"),
    ],
)
def test_offline_the_fetch_stops_at_once_naming_file_url_and_where_to_copy(
    name, url, tmp_path: Path, no_network: list
):
    cache = tmp_path / "cache"
    source = weights_source(name, "imagenet")
    start = time.perf_counter()
    with pytest.raises(WeightsUnavailable) as err:
        write_record(tmp_path / "v.json", source, cache)
    seconds = time.perf_counter() - start
    message = str(err.value)
    assert url in message and "copy" in message
    assert str(cache / ("huggingface/hub/models--timm--" if "timm" in name else "hub/")) in message
    assert len(no_network) == 1  # it tried once
    assert seconds < 30  # a guard against a hang only: it takes milliseconds
    assert not (tmp_path / "v.json").exists()
    assert not [p for p in cache.rglob("*") if p.is_file()]  # no partial download left


def test_a_local_weights_file_is_recorded_and_must_exist(tmp_path: Path):
    path = tmp_path / "mine.pth"
    torch.save(seeded_imagenet_state(TV), path)
    source = weights_source(TV, str(path))
    record = write_record(tmp_path / "v.json", source, tmp_path / "unused")
    assert record["file"] == str(path) and record["sha256"] == sha256(path)
    assert record["library"] == "file" and record["url"] is None
    with pytest.raises(ValueError, match=f"pretrained: {tmp_path / 'gone.pth'} does not exist"):
        weights_source(TV, str(tmp_path / "gone.pth"))


def test_the_record_is_rewritten_only_when_the_contents_change(tmp_path: Path):
    cache, rec = tmp_path / "cache", tmp_path / "v.json"
    write_weights(TV, cache)
    source = weights_source(TV, "imagenet")
    first = write_record(rec, source, cache)
    path, before = cache / first["file"], rec.stat().st_mtime_ns
    assert refresh_record(rec, source, cache) == "unchanged"
    # the file touched (newer than the record), same contents: the record stays as it is
    later = before + 10**9
    os.utime(path, ns=(later, later))
    assert refresh_record(rec, source, cache) == "unchanged"
    assert rec.stat().st_mtime_ns == before and json.loads(rec.read_text()) == first
    # other weights under the same name: a new record with their SHA-256
    torch.manual_seed(7)
    torch.save({k: torch.randn_like(v.float()) for k, v in torch.load(path).items()}, path)
    assert refresh_record(rec, source, cache) == "rewritten"
    assert json.loads(rec.read_text())["sha256"] == sha256(path) != first["sha256"]
    assert refresh_record(rec, source, cache) == "unchanged"
    # a missing file keeps the record (a job that needs the file stops naming it)
    path.unlink()
    assert refresh_record(rec, source, cache) == "missing weights" and rec.is_file()
    assert refresh_record(tmp_path / "none.json", source, cache) == "missing record"


def test_a_found_file_is_not_downloaded_again(tmp_path: Path, no_network: list):
    cache = tmp_path / "cache"
    write_weights(TV, cache)
    source = weights_source(TV, "imagenet")
    assert fetch_weights(source, cache) == cache / source["file"]
    assert no_network == []


def test_loading_pretrained_weights_keeps_the_process_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list
):
    """A training job that loads pretrained weights sets HF_HUB_OFFLINE=1 and TORCH_HOME to
    the weights cache (for anything a library might try on its own)."""
    from biomedclf.layout import WEIGHTS_CACHE_ENV
    from biomedclf.train.models import build_model

    cache = tmp_path / "cache"
    write_weights(TV, cache)
    monkeypatch.setenv(WEIGHTS_CACHE_ENV, str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # restored after the test
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "elsewhere"))
    build_model(TV, {"pretrained": "imagenet"}, 1, 32, n_classes=2)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TORCH_HOME"] == str(cache)
    assert no_network == []
