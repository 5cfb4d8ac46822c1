"""The README's commands in an environment installed exactly as the README says.

`pip install -e .` (no test extra) into a virtual environment of its own; `.ci/run` makes one
and names its ``bin`` folder in ``BIOMEDCLF_USER_VENV``. The smoke study runs there with the
README's command shapes, the HTML report is built (it needs packages the test extra would
otherwise bring in), and every other README command runs as a dry run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from repo_copy import copy_repo
from test_readme_commands import on_smoke, readme_commands

pytestmark = pytest.mark.workflow

BIN = os.environ.get("BIOMEDCLF_USER_VENV")
if not BIN:
    pytest.skip(
        "set BIOMEDCLF_USER_VENV to the bin folder of a venv made with `pip install -e .` "
        "(.ci/run does)",
        allow_module_level=True,
    )


def user_snakemake(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """``snakemake`` of the user's environment, with nothing of the test environment's."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(Path(BIN).resolve()), env.get("PATH", "")])
    return subprocess.run(
        [str(Path(BIN) / "snakemake"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def user_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("user") / "repo")
    proc = user_snakemake(repo, "--cores", "2", "--configfile", "configs/smoke.yaml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return repo


def test_the_environment_has_no_test_extra() -> None:
    pip = subprocess.run(
        [str(Path(BIN) / "python"), "-m", "pip", "list"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert "biomedclf" in pip and "pytest " not in pip and "snakefmt" not in pip


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_in_the_users_environment(user_study: Path, command: str) -> None:
    if "slurm" in command:
        pytest.skip("needs the slurm extra (pip install -e '.[slurm]'); see test_readme_commands")
    args = on_smoke(command)
    proc = user_snakemake(user_study, *args)
    assert proc.returncode == 0, f"{command}\n" + (proc.stdout + proc.stderr)[-3000:]
    if "--report" in args:
        assert (user_study / args[args.index("--report") + 1]).stat().st_size > 10_000


def readme_predict_commands() -> list[str]:
    """``biomedclf predict ...`` lines of the README's bash blocks."""
    import re

    from repo_copy import ROOT

    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [
        re.sub(r"\s+#.*$", "", line.strip())
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith("biomedclf predict")
    ]


def test_readme_predict_command_in_the_users_environment(user_study: Path) -> None:
    """The README's predict command on the smoke study's model and its synthetic images."""
    import csv
    import re
    import shlex

    commands = readme_predict_commands()
    assert commands, "the README shows no `biomedclf predict` command"
    for command in commands:
        args = [re.sub(r"^results/[^/]+/", "results/smoke/", a) for a in shlex.split(command)]
        args = [
            "results/smoke/synthetic/" if a.endswith("/") and not a.startswith("results") else a
            for a in args
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        proc = subprocess.run(
            [str(Path(BIN) / args[0]), *args[1:]],
            cwd=user_study,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        out = user_study / args[args.index("--out") + 1]
        rows = list(csv.DictReader(out.open()))
        n_images = len(list((user_study / "results/smoke/synthetic").rglob("*.png")))
        assert len(rows) == n_images and all(r["predicted_class"] for r in rows)
