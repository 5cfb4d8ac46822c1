"""The sweep rules' script adapters (workflow/scripts/sweep_*.py) hand their rule's named
inputs, outputs and params to the library: run with a stand-in for Snakemake's object."""

from __future__ import annotations

import csv
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

from sweep_fixtures import specs_of, sweep_params, write_sweep_runs

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
ROLES = ("model", "history", "scores", "info")


class Named(list):
    """Snakemake's input, output or params: the entries in order (lists flattened), each also
    reachable by its name, as an attribute or an index; ``items()`` gives (name, entry)."""

    def __init__(self, **named):
        flat = []
        for value in named.values():
            flat += value if isinstance(value, list) else [value]
        super().__init__(flat)
        self._named = named
        for key, value in named.items():
            setattr(self, key, value)

    def __getitem__(self, key):
        return self._named[key] if isinstance(key, str) else super().__getitem__(key)

    def items(self):
        return self._named.items()


def _run(script: str, log: Path, **smk) -> None:
    smk.setdefault("wildcards", SimpleNamespace())
    smk.setdefault("threads", 1)
    smk["log"] = [str(log)]
    runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": SimpleNamespace(**smk)})


def _strings(paths: list[Path]) -> list[str]:
    return [str(p) for p in paths]


def test_select_selected_and_report_adapters(tmp_path):
    points = {f"s[lr={v}]": {"lr": v} for v in (0.001, 0.01)}
    params = sweep_params("s", points, [0, 1])
    numbers = {"s[lr=0.001]": [(0.8, 0.7, 0.1)] * 2, "s[lr=0.01]": [(0.9, 0.6, 0.0)] * 2}
    runs, files = write_sweep_runs(tmp_path / "runs", params, numbers)
    selection = tmp_path / "sweeps" / "s.json"
    _run(
        "sweep_select.py",
        tmp_path / "select.log",
        input=Named(**{r: _strings(files[r]) for r in ("scores", "history", "info")}),
        output=Named(selection=str(selection)),
        params=Named(
            sweep=params, runs=runs, specs=specs_of(params), primary="accuracy", folds=None
        ),
    )
    assert json.loads(selection.read_text())["selected"] == "s[lr=0.01]"

    seed0 = [i for i, (_, seed, _) in enumerate(runs) if seed == 0]
    outputs = {r: str(tmp_path / "selected" / f"{r}.out") for r in ROLES}
    _run(
        "sweep_selected.py",
        tmp_path / "selected.log",
        wildcards=SimpleNamespace(seed="0", sweep="s"),
        input=Named(
            selection=str(selection), **{r: [str(files[r][i]) for i in seed0] for r in ROLES}
        ),
        output=Named(**outputs),
        params=Named(
            points=[runs[i][0] for i in seed0],
            cache_roles=[],
            fold=None,
            decoding={},
            checkpoint=str(tmp_path / "ckpt.pt"),
        ),
    )
    assert json.loads(Path(outputs["info"]).read_text())["sweep_point"] == "s[lr=0.01]"

    table, figure = tmp_path / "sweeps" / "s.csv", tmp_path / "figures" / "sweep_s.png"
    _run(
        "sweep_report.py",
        tmp_path / "report.log",
        input=Named(selection=str(selection), scores=_strings(files["scores"])),
        output=Named(table=str(table), figure=str(figure)),
        params=Named(runs=runs),
    )
    with table.open(newline="") as fh:
        rows = {r["point"]: r for r in csv.DictReader(fh)}
    assert rows["s[lr=0.01]"]["chosen"] == "yes"
    assert float(rows["s[lr=0.001]"]["test_accuracy_mean"]) == 0.7
    assert figure.read_bytes().startswith(b"\x89PNG")
