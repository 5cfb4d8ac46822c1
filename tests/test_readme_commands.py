"""Every snakemake command the README shows runs as written, in its shape, on the smoke study.

Each command is read from the README's ``bash`` blocks. Its config file (``my.yaml``,
``configs/chest_xray.yaml``) becomes the smoke config and its study folder ``results/smoke/``;
the order of targets and options is kept as written, so a target placed after
``--configfile`` (which takes several values) fails here as it would for a user. Commands that
would train run as dry runs; report commands build the report of the finished smoke study.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
from repo_copy import ROOT
from workflow_helpers import SMOKE, snakemake

pytestmark = pytest.mark.workflow


def readme_commands() -> list[str]:
    """``snakemake ...`` commands of the README's bash blocks, without trailing comments."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip())
            for part in line.split("&&"):
                if part.strip().startswith("snakemake "):
                    commands.append(part.strip())
    return list(dict.fromkeys(commands))


def on_smoke(command: str) -> list[str]:
    """The command's arguments with the smoke config and study in place of the user's."""
    args = shlex.split(command)[1:]
    if "--configfile" in args:
        args[args.index("--configfile") + 1] = SMOKE
    else:
        args += ["--configfile", SMOKE]
    args = [re.sub(r"^results/[^/]+/", "results/smoke/", a) for a in args]
    if "--report" not in args and "--lint" not in args and "--unlock" not in args:
        args.insert(0, "--dry-run")
    return args


def test_the_readme_shows_the_commands_a_user_needs():
    commands = readme_commands()
    shapes = [" ".join(c.split()[:2]) for c in commands]
    assert "snakemake --cores" in shapes and "snakemake --report" in shapes
    assert any("data/summary.json" in c for c in commands), "the preparation-only command"
    assert any("--unlock" in c for c in commands), "what to do after a killed run"
    assert any("--profile workflow/profiles/slurm" in c for c in commands)


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(command: str, smoke_study: Path) -> None:
    args = on_smoke(command)
    if "slurm" in command and importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("the SLURM executor plugin is not installed (pip install -e '.[slurm]')")
    proc = snakemake(smoke_study, *args, check=False)
    assert proc.returncode == 0, (
        f"{command}\n(as: snakemake {' '.join(args)})\n" + (proc.stdout + proc.stderr)[-3000:]
    )
    if "--report" in args:
        report = smoke_study / args[args.index("--report") + 1]
        assert report.stat().st_size > 10_000
