"""The workflow on a real SLURM cluster, through Snakemake's SLURM executor plugin.

Needs a running SLURM (tests/cluster/start_slurm.sh starts a one-node cluster on localhost)
and snakemake-executor-plugin-slurm; skipped with the reason otherwise.

- The smoke study, with a pretrained torchvision and a pretrained timm variant added (their
  ImageNet weights are seeded stand-ins the test writes into a weights cache: nothing is
  downloaded), runs with `--profile workflow/profiles/slurm` (plus a small overlay that names
  the local partition, as a user edits it, and the status command this cluster supports);
  every job must have gone through `sbatch` (SLURM's own job records) but the local rules',
  the weights rule among them (it runs on the submitting host), and the results must equal
  those of a local run of the same config.
- Preemption: a training job cancelled mid-run (`scancel`) is retried by `--retries 1` and
  resumes from its checkpoint; a job that SLURM requeues (`scontrol requeue`, what preemption
  with requeue does) restarts under the same job id and resumes too. Both end with the same
  training history as an uninterrupted local run.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from repo_copy import ROOT, copy_repo

from biomedclf import layout

pytestmark = pytest.mark.cluster

SMOKE = "configs/smoke.yaml"
#: Added to the smoke study: pretrained variants whose weights come from the weights cache.
PRETRAINED_FILE = "slurm_pretrained.yaml"
PRETRAINED = {
    "weights_cache": "weights",
    "variants": {
        "tv_imagenet": {"model": "torchvision/mobilenet_v3_small", "pretrained": "imagenet"},
        "timm_imagenet": {"model": "timm/test_resnet", "pretrained": "imagenet"},
    },
}
RUN_TIMEOUT = 1800  # seconds for one snakemake run (the smoke study takes a few minutes)
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def sh(*cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@dataclass
class Cluster:
    partition: str
    status_command: str  # what the plugin should poll with here: sacct or squeue
    jobcomp_log: Path | None  # SLURM's job completion records (jobcomp/filetxt), if kept


@functools.cache
def find_cluster() -> Cluster | str:
    """The running cluster, or why the tests cannot run."""
    how = "start one with `sudo bash tests/cluster/start_slurm.sh`"
    if shutil.which("sbatch") is None:
        return f"SLURM is not installed (no `sbatch` on PATH); {how}"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed: pip install -e '.[slurm]'"
    try:
        ping = sh("scontrol", "ping", timeout=30)
        if ping.returncode != 0 or "UP" not in ping.stdout:
            first = (ping.stdout + ping.stderr).strip().splitlines()[:1]
            return f"the SLURM controller is not up (scontrol ping: {' '.join(first)}); {how}"
        sinfo = sh("sinfo", "--noheader", "--format=%P|%t", timeout=30)
        config = sh("scontrol", "show", "config", timeout=30)
    except subprocess.TimeoutExpired as exc:
        return f"SLURM does not answer ({' '.join(exc.cmd)} timed out); {how}"
    rows = [line.split("|") for line in sinfo.stdout.split()]
    default = [p.rstrip("*") for p, _ in rows if p.endswith("*")]
    up = [p.rstrip("*") for p, state in rows if state.rstrip("*~#") in {"idle", "mix", "alloc"}]
    if not default or default[0] not in up:
        state = sinfo.stdout.strip()
        return f"no default SLURM partition with a usable node (sinfo: {state!r}); {how}"
    settings = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition("=") for line in config.stdout.splitlines())
    )
    no_db = settings.get("AccountingStorageType", "") in {"", "accounting_storage/none"}
    if no_db and int(settings.get("MinJobAge", "0 sec").split()[0]) < 120:
        return (
            "SLURM has no accounting database and MinJobAge < 120 s: the plugin cannot poll "
            "job states"
        )
    jobcomp = None
    if settings.get("JobCompType") == "jobcomp/filetxt" and settings.get("JobCompLoc"):
        jobcomp = Path(settings["JobCompLoc"])
    return Cluster(
        partition=default[0], status_command="squeue" if no_db else "sacct", jobcomp_log=jobcomp
    )


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    found = find_cluster()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def write_overlay_profile(work: Path, cluster: Cluster) -> Path:
    """The repository's profile as a user edits it (partition), plus test-speed settings.

    Passed as a second --profile, whose keys replace the first's: default-resources is the
    shipped one with only the partition filled in.
    """
    shipped = yaml.safe_load(
        (work / "workflow" / "profiles" / "slurm" / "profile.yaml").read_text()
    )
    resources = dict(shipped["default-resources"])
    resources["slurm_partition"] = cluster.partition
    overlay = {
        "default-resources": resources,
        "jobs": max(2, os.cpu_count() or 2),
        "slurm-status-command": cluster.status_command,
        "slurm-init-seconds-before-status-checks": 2,  # jobs here last seconds, not hours
        "slurm-keep-successful-logs": True,
        "latency-wait": 5,
    }
    folder = work / ".test-profile"
    folder.mkdir(exist_ok=True)
    (folder / "profile.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return folder


def merged_study() -> dict:
    """The smoke study with the pretrained variants added (as Snakemake merges the files)."""
    smoke = yaml.safe_load((ROOT / SMOKE).read_text())
    return {**smoke, "variants": {**smoke["variants"], **PRETRAINED["variants"]}}


def add_pretrained(work: Path) -> None:
    """The config file with the pretrained variants, and their weights in the cache it
    names (seeded stand-ins where torchvision and timm look for them)."""
    from test_backbones import write_weights

    (work / PRETRAINED_FILE).write_text(yaml.safe_dump(PRETRAINED, sort_keys=False))
    for variant in PRETRAINED["variants"].values():
        write_weights(variant["model"], work / PRETRAINED["weights_cache"])


def snakemake_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args]


def run(cmd: list[str], cwd: Path, log: Path, timeout: float = RUN_TIMEOUT) -> str:
    """Run to the end; fail the test with the output's tail when it fails."""
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, timeout=timeout)
    out = log.read_text()
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-6000:]}"
    return out


def submitted_jobs(output: str) -> dict[str, str]:
    """SLURM job id -> rule, from the plugin's 'submitted with SLURM jobid' lines."""
    jobs = {}
    for jobid, logfile in SUBMITTED.findall(output):
        rule = next((p[len("rule_") :] for p in Path(logfile).parts if p.startswith("rule_")), "?")
        jobs[jobid] = rule
    return jobs


def job_stats(output: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table (rule -> job count) from the start of a run's output."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+(\d+)\s*$", table, re.M)}


def slurm_records(cluster: Cluster, jobids: set[str]) -> dict[str, list[dict[str, str]]]:
    """SLURM's own records of the given jobs: job id -> its records (one per run, in order)."""
    records: dict[str, list[dict[str, str]]] = {}
    if cluster.jobcomp_log and cluster.jobcomp_log.is_file():
        for line in cluster.jobcomp_log.read_text().splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            if fields.get("JobId") in jobids:
                records.setdefault(fields["JobId"], []).append(fields)
        return records
    # No completion log: ask the accounting database, or the controller (MinJobAge).
    ids = ",".join(sorted(jobids))
    if cluster.status_command == "sacct":
        out = sh("sacct", "-X", "-n", "-P", "-o", "JobIdRaw,State,WorkDir", "-j", ids).stdout
    else:
        out = sh("squeue", "-h", "--states=all", "-o", "%i|%T|%Z", "-j", ids).stdout
    for line in out.splitlines():
        jobid, state, workdir = line.split("|")[:3]
        records.setdefault(jobid, []).append(
            {"JobId": jobid, "JobState": state.split()[0], "WorkDir": workdir}
        )
    return records


# ---------------------------------------------------------------------------------------------
# The smoke study: SLURM vs local


@pytest.fixture(scope="module")
def smoke_runs(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("slurm")
    on_slurm = copy_repo(base / "on_slurm")
    local = copy_repo(base / "local")
    for work in (on_slurm, local):
        add_pretrained(work)
    overlay = write_overlay_profile(on_slurm, cluster)

    # The local reference runs meanwhile (the SLURM run mostly waits between status checks),
    # and only for the per-run outputs compared below (targets before --configfile).
    smoke = merged_study()
    targets = [
        f"results/{smoke['name']}/eval/{v}/seed{s}/metrics.json"
        for v in smoke["variants"]
        for s in smoke["training"]["seeds"]
    ]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        local_run = pool.submit(
            run,
            snakemake_cmd(*targets, "--cores", "1", "--configfile", SMOKE, PRETRAINED_FILE),
            cwd=local,
            log=base / "local.log",
        )
        slurm_out = run(
            snakemake_cmd(
                "--profile",
                "workflow/profiles/slurm",
                "--profile",
                str(overlay),
                "--configfile",
                SMOKE,
                PRETRAINED_FILE,
            ),
            cwd=on_slurm,
            log=base / "slurm.log",
        )
        t1 = time.perf_counter()
        local_run.result()
    print(
        f"smoke study: {t1 - t0:.0f} s through SLURM,"
        f" {time.perf_counter() - t0:.0f} s for both runs"
    )
    return {"on_slurm": on_slurm, "local": local, "output": slurm_out}


def test_jobs_went_through_sbatch(smoke_runs: dict, cluster: Cluster) -> None:
    jobs = submitted_jobs(smoke_runs["output"])
    assert jobs, "the plugin reported no sbatch submission:\n" + smoke_runs["output"][-3000:]
    rules = set(jobs.values())
    assert {"prepare", "train"} <= rules, f"rules submitted: {sorted(rules)}"
    # evaluation (a sub-second job on the training job's scores) runs where Snakemake runs
    assert "evaluate" not in rules, f"rules submitted: {sorted(rules)}"
    smoke = merged_study()
    n_runs = len(smoke["variants"]) * len(smoke["training"]["seeds"])
    assert list(jobs.values()).count("train") == n_runs
    local = re.findall(r"^localrule (\w+):", smoke_runs["output"], re.M)
    assert local.count("evaluate") == n_runs
    # the weights rule: once per pretrained variant, on the submitting host (login node)
    assert "weights" not in rules, f"rules submitted: {sorted(rules)}"
    assert local.count("weights") == len(PRETRAINED["variants"])
    # Every job Snakemake planned went to SLURM, but those of local rules (the aggregates).
    planned = job_stats(smoke_runs["output"])
    for rule in set(re.findall(r"^localrule (\w+):", smoke_runs["output"], re.M)):
        planned.pop(rule, None)
    submitted = {rule: list(jobs.values()).count(rule) for rule in set(jobs.values())}
    assert submitted == planned, f"SLURM jobs per rule {submitted}, Snakemake's plan {planned}"

    records = slurm_records(cluster, set(jobs))
    missing = sorted(set(jobs) - set(records), key=int)
    assert not missing, f"SLURM has no record of jobs {missing}"
    workdir = str(smoke_runs["on_slurm"])
    for jobid, recs in records.items():
        last = recs[-1]
        assert last["JobState"] == "COMPLETED", f"SLURM job {jobid} ({jobs[jobid]}): {last}"
        assert last.get("WorkDir", workdir) == workdir, (
            f"SLURM job {jobid} ran in {last.get('WorkDir')}"
        )
    # The plugin's per-job SLURM logs (kept by the overlay profile).
    slurm_logs = smoke_runs["on_slurm"] / ".snakemake" / "slurm_logs"
    assert list(slurm_logs.glob("rule_train/**/*.log")), (
        f"no SLURM logs of training jobs in {slurm_logs}"
    )


def read_history(path: Path) -> list[dict[str, str]]:
    """history.csv without the wall-clock column."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    return [{k: v for k, v in zip(header, line.split(",")) if k != "seconds"} for line in lines[1:]]


def test_pretrained_variants_trained_on_the_cluster_from_the_cache(smoke_runs: dict) -> None:
    """Each pretrained variant's SLURM training jobs loaded the cached file its weights
    record names (never a download: HF_HUB_OFFLINE, TORCH_HOME the cache), and the record's
    SHA-256 is the file's."""
    import hashlib

    work = smoke_runs["on_slurm"]
    name = merged_study()["name"]
    cache = work / PRETRAINED["weights_cache"]
    for variant in PRETRAINED["variants"]:
        record = json.loads(layout.pretrained_record(work / "results" / name, variant).read_text())
        path = cache / record["file"]
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        for seed in merged_study()["training"]["seeds"]:
            log = (work / "logs" / name / "train" / variant / f"seed{seed}.log").read_text()
            assert f"loaded weights from {path.absolute()} " in log, log[-2000:]


def test_results_match_local_run(smoke_runs: dict) -> None:
    smoke = merged_study()
    study = Path("results") / smoke["name"]
    slurm_study, local_study = smoke_runs["on_slurm"] / study, smoke_runs["local"] / study
    for variant in smoke["variants"]:
        for seed in smoke["training"]["seeds"]:
            run_id = f"{variant}/seed{seed}"
            for rel in (f"eval/{run_id}/metrics.json",):
                got = json.loads((slurm_study / rel).read_text())
                want = json.loads((local_study / rel).read_text())
                assert got == want, f"{rel} differs between the SLURM and the local run"
            rel = f"eval/{run_id}/predictions.csv"
            assert (slurm_study / rel).read_text() == (local_study / rel).read_text(), (
                f"{rel} differs"
            )
            rel = f"train/{run_id}/history.csv"
            assert read_history(slurm_study / rel) == read_history(local_study / rel), (
                f"{rel} differs"
            )
    rel = "data/manifest.csv"
    assert (slurm_study / rel).read_text() == (local_study / rel).read_text(), f"{rel} differs"
    # The aggregates are local rules: under the SLURM executor Snakemake runs them itself,
    # without a queue (test_jobs_went_through_sbatch checks that none was submitted). Their
    # numbers follow from the per-run files compared above; here: they were written.
    local = set(re.findall(r"^localrule (\w+):", smoke_runs["output"], re.M))
    assert {"stats", "study_tables", "study_figures", "summary"} <= local, sorted(local)
    for rel in (
        "summary.md",
        "stats/stats.json",
        "tables/test_metrics.csv",
        "figures/test_accuracy.png",
    ):
        assert (slurm_study / rel).is_file(), f"{rel} missing from the SLURM run"


# ---------------------------------------------------------------------------------------------
# Preemption: a training job killed or requeued mid-run resumes from its checkpoint

PREEMPT = "preempt"
PREEMPT_CONFIG = f"configs/{PREEMPT}.yaml"


def preempt_config() -> dict:
    """One study, three variants with the same spec: a reference trained locally and two that
    are interrupted on SLURM. Long enough (20 epochs of ~0.5 s) to be caught mid-run."""
    smoke = yaml.safe_load((ROOT / SMOKE).read_text())
    cfg = {k: v for k, v in smoke.items() if k not in {"variants", "comparisons"}}
    cfg["name"] = PREEMPT
    cfg["data"] = {
        **smoke["data"],
        "image_size": 32,
        "synthetic": {**smoke["data"]["synthetic"], "n_per_class": 300},
    }
    cfg["training"] = {**smoke["training"], "epochs": 20, "seeds": [0]}
    cfg["variants"] = {v: {"model": "conv"} for v in ("reference", "cancelled", "requeued")}
    cfg["comparisons"] = {}
    return cfg


def train_target(variant: str) -> str:
    return f"results/{PREEMPT}/train/{variant}/seed0/train.json"


@pytest.fixture(scope="module")
def preempt_work(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = copy_repo(tmp_path_factory.mktemp("preempt") / "repo")
    (work / PREEMPT_CONFIG).write_text(yaml.safe_dump(preempt_config(), sort_keys=False))
    # The data and the uninterrupted reference training, locally (targets before --configfile,
    # which takes several values).
    run(
        snakemake_cmd(train_target("reference"), "--cores", "2", "--configfile", PREEMPT_CONFIG),
        cwd=work,
        log=work / "reference.log",
    )
    return work


def release_requeued(jobid: str, timeout: float = 60) -> None:
    """SLURM holds a requeued job back for about two minutes (BeginTime): start it sooner.

    The requeue takes effect a moment after `scontrol requeue` returns, so wait for the job
    to be pending again before moving its start time (an earlier update is overwritten).
    Not at once: slurmd revokes the killed run's credential and refuses a new one issued in
    the same second ("Job credential revoked"; the job then fails instead of restarting), so
    the start is moved once the clock has passed the requeue's second. (A start in the future
    would wait for SLURM's periodic scheduling pass; `now` is scheduled at once.)
    """
    requeued_at = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sh(
            "squeue", "--noheader", "--states=all", "-j", jobid, "-o", "%T|%r"
        ).stdout.strip()
        if state.startswith("PENDING"):
            requeued_at = requeued_at or time.time()
            if "BeginTime" in state and time.time() >= int(requeued_at) + 2:
                sh("scontrol", "update", f"JobId={jobid}", "StartTime=now")
        elif requeued_at or state.startswith(("COMPLETED", "FAILED", "CANCELLED")):
            return  # running again (or over)
        time.sleep(0.2)


def interrupt_training(work: Path, cluster: Cluster, variant: str, action: str) -> tuple[str, str]:
    """Train one variant through SLURM and interrupt its job after the first checkpoint.

    action "scancel": cancel the job (Snakemake's --retries 1 submits it again);
    action "requeue": `scontrol requeue` it, as preemption does with requeueing
    (SLURM restarts it under the same job id). Returns (the interrupted job's id, the output).
    """
    overlay = write_overlay_profile(work, cluster)
    target = work / train_target(variant)
    checkpoint = work / "results" / PREEMPT / ".checkpoints" / variant / "seed0" / "checkpoint.pt"
    log = work / f"{variant}.log"
    cmd = snakemake_cmd(
        train_target(variant),
        "--profile",
        "workflow/profiles/slurm",
        "--profile",
        str(overlay),
        "--retries",
        "1",
        "--configfile",
        PREEMPT_CONFIG,
    )
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=work, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        jobid = None
        while time.monotonic() < deadline and proc.poll() is None:
            if jobid is None:
                train_jobs = [
                    j for j, rule in submitted_jobs(log.read_text()).items() if rule == "train"
                ]
                jobid = train_jobs[0] if train_jobs else None
            if jobid and checkpoint.is_file():
                break
            time.sleep(0.2)
        assert proc.poll() is None, (
            f"snakemake ended before a checkpoint appeared:\n{log.read_text()[-4000:]}"
        )
        assert jobid and checkpoint.is_file(), (
            f"no training checkpoint within 600 s:\n{log.read_text()[-4000:]}"
        )
        if action == "scancel":
            sh("scancel", jobid).check_returncode()
        else:
            sh("scontrol", "requeue", jobid).check_returncode()
            release_requeued(jobid)
        interrupted_early = not target.exists()
        proc.wait(timeout=RUN_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = log.read_text()
    assert proc.returncode == 0, (
        f"snakemake failed after the {action} ({proc.returncode}):\n{output[-6000:]}"
    )
    assert interrupted_early, "training had finished before it was interrupted: make it longer"
    return jobid, output


def check_resumed(work: Path, variant: str) -> None:
    train_log = (work / "logs" / PREEMPT / "train" / variant / "seed0.log").read_text()
    assert re.search(r"resumed from \S+ after epoch \d+", train_log), (
        f"the restarted training job did not resume from its checkpoint:\n{train_log[-3000:]}"
    )
    run_dir, ref_dir = (
        work / "results" / PREEMPT / "train" / v / "seed0" for v in (variant, "reference")
    )
    history = read_history(run_dir / "history.csv")
    assert [int(r["epoch"]) for r in history] == list(range(1, len(history) + 1)), history
    assert history == read_history(ref_dir / "history.csv"), (
        "the resumed training's history differs from an uninterrupted run's"
    )
    assert not (
        work / "results" / PREEMPT / ".checkpoints" / variant / "seed0" / "checkpoint.pt"
    ).exists()


def test_cancelled_training_job_is_retried_and_resumes(
    preempt_work: Path, cluster: Cluster
) -> None:
    jobid, output = interrupt_training(preempt_work, cluster, "cancelled", "scancel")
    train_jobs = [j for j, rule in submitted_jobs(output).items() if rule == "train"]
    assert len(train_jobs) == 2 and train_jobs[0] == jobid, f"train submissions: {train_jobs}"
    records = slurm_records(cluster, set(train_jobs))
    assert records[jobid][-1]["JobState"] == "CANCELLED", records.get(jobid)
    assert records[train_jobs[1]][-1]["JobState"] == "COMPLETED", records.get(train_jobs[1])
    check_resumed(preempt_work, "cancelled")


def test_requeued_training_job_resumes(preempt_work: Path, cluster: Cluster) -> None:
    jobid, output = interrupt_training(preempt_work, cluster, "requeued", "requeue")
    train_jobs = [j for j, rule in submitted_jobs(output).items() if rule == "train"]
    assert train_jobs == [jobid], (
        f"SLURM should have restarted job {jobid} itself; submissions: {train_jobs}"
    )
    records = slurm_records(cluster, {jobid}).get(jobid, [])
    assert records and records[-1]["JobState"] == "COMPLETED", records
    if cluster.jobcomp_log:  # jobcomp logs the requeued run as a record of its own
        assert len(records) >= 2, f"no requeue in SLURM's records of job {jobid}: {records}"
    check_resumed(preempt_work, "requeued")
