"""Sharded preparation (``data.shards``) on a real SLURM cluster.

Needs a running SLURM (tests/cluster/start_slurm.sh), like tests/cluster/test_slurm.py, whose
helpers it uses. A folder of PNG files (two classes, with a duplicate whose copies land in
different shards) is prepared with ``data.shards: 3`` through ``--profile
workflow/profiles/slurm``: every shard job and the gathering job must have gone through
``sbatch`` and completed (SLURM's own records), and the cache, manifest, rejections and
summary must be byte-identical to those of one unsharded ``prepare`` job run locally.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from repo_copy import copy_repo
from test_data_shards import _assert_same_outputs, _folder, yaml_config
from test_slurm import (
    Cluster,
    cluster,  # noqa: F401 (the fixture)
    run,
    slurm_records,
    snakemake_cmd,
    submitted_jobs,
    write_overlay_profile,
)

from biomedclf import layout

pytestmark = pytest.mark.cluster

SHARDS = 3


def test_shard_jobs_run_on_the_cluster_and_gather_the_local_cache(
    cluster: Cluster,  # noqa: F811 (the fixture)
    tmp_path: Path,
) -> None:
    work = copy_repo(tmp_path / "repo")
    base = yaml_config(_folder(tmp_path / "data", n=18))
    for name, shards in (("local", 1), ("sharded", SHARDS)):
        config = {**base, "name": name, "data": {**base["data"], "shards": shards}}
        (work / f"{name}.yaml").write_text(json.dumps(config))
    target = lambda name: str(layout.data_file(Path("results") / name, "summary"))  # noqa: E731

    run(
        snakemake_cmd(target("local"), "--cores", "2", "--configfile", "local.yaml"),
        cwd=work,
        log=tmp_path / "local.log",
    )
    overlay = write_overlay_profile(work, cluster)
    output = run(
        snakemake_cmd(
            target("sharded"),
            "--profile",
            "workflow/profiles/slurm",
            "--profile",
            str(overlay),
            "--configfile",
            "sharded.yaml",
        ),
        cwd=work,
        log=tmp_path / "slurm.log",
    )

    jobs = submitted_jobs(output)
    rules = sorted(jobs.values())
    assert rules == ["prepare", *["prepare_shard"] * SHARDS], f"submitted: {rules}"
    assert not re.findall(r"^localrule prepare", output, re.M)
    records = slurm_records(cluster, set(jobs))
    assert set(records) == set(jobs), f"SLURM records of {sorted(records)}, jobs {sorted(jobs)}"
    for jobid, recs in records.items():
        assert recs[-1]["JobState"] == "COMPLETED", f"SLURM job {jobid} ({jobs[jobid]}): {recs}"
    data = work / "results"
    _assert_same_outputs(data / "local" / "data", data / "sharded" / "data")
    logs = work / "logs" / "sharded"
    assert all((logs / f"prepare_shard{i}.log").is_file() for i in range(SHARDS))
