"""Sharded preparation (data.shards): shard jobs decode, one job gathers, the same cache.

The library tests run the shard jobs and the gathering job in-process on a small folder with a
corrupt file, a file that is not an image, a same-label duplicate and a conflicting-label
duplicate whose copies sit in different shards, and byte-compare every output with one job
decoding everything. The workflow test runs the rules (synthesize, three prepare_shard jobs,
prepare) against the same study with one shard.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from config_helpers import data_config, data_files, study_config
from PIL import Image

from biomedclf import layout
from biomedclf.config.specs import data_spec
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.shards import (
    PART_FORMAT,
    prepare_from_parts,
    prepare_shard,
    shard_rows,
    shard_settings,
)

TIMINGS = {"seconds", "decode_seconds"}


def _png(path: Path, seed: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _folder(root: Path, n: int = 16) -> Path:
    """Two classes of ``n`` PNGs, then (sorted last in their class, so in a later shard than
    the originals) a same-label copy, a copy with the other label, an empty PNG and a text
    file."""
    for k, cls in enumerate(("normal", "pneumonia")):
        for i in range(n):
            _png(root / cls / f"{cls}_{i:03d}.png", 1000 * k + i)
    (root / "normal" / "zz_copy.png").write_bytes((root / "normal" / "normal_000.png").read_bytes())
    conflict = (root / "normal" / "normal_001.png").read_bytes()
    (root / "pneumonia" / "zz_conflict.png").write_bytes(conflict)
    (root / "pneumonia" / "zz_empty.png").write_bytes(b"")
    (root / "normal" / "notes.txt").write_text("not an image")
    return root


def _cfg(root: Path, **extra: object) -> dict:
    return data_config(**{"source": "folder", "path": str(root), "image_size": 8, **extra})


def _run_shards(cfg: dict, parts_dir: Path, shards: int, threads: int = 1) -> list[dict]:
    """Every shard job of ``shards``, each writing its part as the rule names it."""
    parts = [layout.shard_files(parts_dir, i) for i in range(shards)]
    for i, files in enumerate(parts):
        prepare_shard(shard_settings(cfg), i, shards, files, threads=threads)
    return parts


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _summary(folder: Path) -> dict:
    summary = json.loads((folder / "summary.json").read_text())
    return {k: v for k, v in summary.items() if k not in TIMINGS}


def _assert_same_outputs(a: Path, b: Path) -> None:
    """Every file byte-identical, summary.json apart from its timings."""
    one, other = _outputs(a), _outputs(b)
    assert sorted(one) == sorted(other)
    for name in one:
        if name != "summary.json":
            assert one[name] == other[name], f"{name} differs"
    assert _summary(a) == _summary(b)


@pytest.mark.parametrize(("shards", "folds"), [(3, None), (3, 3), (40, None)])
def test_sharded_preparation_equals_one_job(tmp_path: Path, shards: int, folds: int | None) -> None:
    root = _folder(tmp_path / "data")
    cfg = _cfg(root, split={"folds": folds, "seed": 2})
    single = tmp_path / "single"
    prepare_dataset(cfg, data_files(single, folds=bool(folds)), threads=1)

    parts = _run_shards(cfg, tmp_path / "study", shards, threads=2)
    gathered = tmp_path / "gathered"
    prepare_from_parts(cfg, data_files(gathered, folds=bool(folds)), parts, threads=1)
    _assert_same_outputs(single, gathered)

    # the copies really were decoded by different shards (40 shards: some have no image)
    where = {}
    for i, files in enumerate(parts):
        records = json.loads(files["records"].read_text())
        assert records["format"] == PART_FORMAT and records["shard"] == i
        where.update({r["path"]: i for r in records["images"]})
    assert where["normal/normal_000.png"] != where["normal/zz_copy.png"]
    assert where["normal/normal_001.png"] != where["pneumonia/zz_conflict.png"]
    summary = _summary(gathered)
    assert summary["duplicates"]["sets"] == 2
    assert summary["duplicates"]["rejected_conflicting_label"] == 2
    rejected = (gathered / "rejected.csv").read_text()
    assert "pneumonia/zz_empty.png,zero bytes" in rejected and "normal/notes.txt" in rejected


def test_no_parts_is_one_job(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=10)
    prepare_dataset(_cfg(root), data_files(tmp_path / "a"))
    prepare_from_parts(_cfg(root), data_files(tmp_path / "b"), parts=[])
    _assert_same_outputs(tmp_path / "a", tmp_path / "b")


def test_on_error_fail_stops_the_gathering_job_as_one_job(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=10)
    cfg = _cfg(root, on_error="fail")
    with pytest.raises(ValueError) as one_job:
        prepare_dataset(cfg, data_files(tmp_path / "a"))
    parts = _run_shards(cfg, tmp_path / "study", 3)  # the shard jobs only record the failure
    with pytest.raises(ValueError) as gathered:
        prepare_from_parts(cfg, data_files(tmp_path / "b"), parts)
    assert str(gathered.value) == str(one_job.value)
    assert "zz_empty.png: zero bytes" in str(gathered.value)
    assert not (tmp_path / "b").exists()


def test_parts_of_another_source_or_setting_are_refused(tmp_path: Path) -> None:
    root = _folder(tmp_path / "data", n=10)
    parts = _run_shards(_cfg(root), tmp_path / "study", 2)
    with pytest.raises(ValueError, match=r"part0\.json: decoded with other data settings"):
        prepare_from_parts(_cfg(root, image_size=16), data_files(tmp_path / "a"), parts)
    _png(root / "normal" / "normal_100.png", 77)  # a file added after the shard jobs ran
    with pytest.raises(ValueError, match=r"part0\.json: written for 23 candidate.*forcerun"):
        prepare_from_parts(_cfg(root), data_files(tmp_path / "b"), parts)
    with pytest.raises(ValueError, match=r"part1\.json: part 1 of 2, not 0 of 2"):
        prepare_from_parts(_cfg(root), data_files(tmp_path / "c"), parts[::-1])


@pytest.mark.parametrize("n", [0, 1, 7, 100, 101])
@pytest.mark.parametrize("shards", [1, 2, 3, 8])
def test_shard_rows_tile_the_candidates_in_order(n: int, shards: int) -> None:
    rows = [shard_rows(n, i, shards) for i in range(shards)]
    assert [i for r in rows for i in r] == list(range(n))
    assert max(map(len, rows)) - min(map(len, rows)) <= 1
    with pytest.raises(ValueError, match="data.shards: shard 8 is not one of"):
        shard_rows(n, 8, shards)


def test_shard_jobs_depend_only_on_what_decides_their_pixels() -> None:
    base = data_spec(study_config(data={"source": "folder", "path": "/d"}))
    assert "shards" not in base  # the prepare job's parameters are those of one job
    sharded = study_config(data={"source": "folder", "path": "/d", "shards": 4})
    assert data_spec(sharded) == base
    other = {
        "split": {"seed": 5, "val": 0.3, "folds": 3},
        "on_error": "fail",
        "positive_class": "b",
    }
    changed = data_spec(study_config(data={"source": "folder", "path": "/d", **other}))
    assert shard_settings(changed) == shard_settings(base)
    for key, value in {"image_size": 64, "classes": ["a", "b"]}.items():
        moved = data_spec(study_config(data={"source": "folder", "path": "/d", key: value}))
        assert shard_settings(moved) != shard_settings(base), key
    grouped = data_spec(
        study_config(data={"source": "folder", "path": "/d", "split": {"group": "patient_id"}})
    )
    assert shard_settings(grouped) != shard_settings(base)


@pytest.mark.workflow
def test_shard_rules_gather_the_same_cache(tmp_path: Path) -> None:
    """The rules: three prepare_shard jobs and the prepare job give the files one prepare job
    gives; the parts are deleted once gathered, and that reruns nothing."""
    from repo_copy import copy_repo
    from workflow_helpers import planned_jobs, snakemake

    repo = copy_repo(tmp_path / "repo")
    root = _folder(tmp_path / "data", n=12)
    base = yaml_config(root)
    runs = {}
    for name, shards in (("one", 1), ("three", 3)):
        config = {**base, "name": name, "data": {**base["data"], "shards": shards}}
        (repo / f"{name}.yaml").write_text(json.dumps(config))
        target = layout.data_file(Path("results") / name, "summary")
        runs[name] = snakemake(repo, str(target), "--cores", "2", "--configfile", f"{name}.yaml")
    assert (runs["three"].stdout + runs["three"].stderr).count("rule prepare_shard:") == 3
    assert "rule prepare_shard" not in runs["one"].stdout + runs["one"].stderr
    data = repo / "results"
    _assert_same_outputs(data / "one" / "data", data / "three" / "data")
    assert not (data / "three" / "data" / layout.SHARDS_DIR).exists() or not any(
        (data / "three" / "data" / layout.SHARDS_DIR).iterdir()
    )
    assert all((repo / "logs" / "three" / f"prepare_shard{i}.log").is_file() for i in range(3))
    planned = planned_jobs(repo, "three.yaml")
    assert not {rule for rule, _ in planned} & {"prepare", "prepare_shard"}


def yaml_config(root: Path) -> dict:
    """A study on the folder at ``root`` (JSON is YAML) with one small variant."""
    return {
        "data": {"source": "folder", "path": str(root), "image_size": 8},
        "training": {"epochs": 1, "seeds": [0], "device": "cpu"},
        "replace_defaults": ["variants", "comparisons"],
        "variants": {"ann": {"model": "linear"}},
        "comparisons": {},
    }


def test_shard_and_gather_jobs_are_cluster_jobs() -> None:
    """Neither rule is a local rule: under SLURM each shard is a cluster job, as prepare."""
    from repo_copy import ROOT

    local: set[str] = set()
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for block in re.findall(
            r"^\s*localrules:\s*\n((?:[ \t]+\w+,?[ \t]*\n)+)", smk.read_text(), re.M
        ):
            local |= set(re.findall(r"\w+", block))
    assert {"synthesize", "evaluate", "summary"} <= local  # the listing was read
    assert not local & {"prepare", "prepare_shard"}, sorted(local)
