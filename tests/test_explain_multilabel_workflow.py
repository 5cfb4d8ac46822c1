"""Saliency of a multi-label study in the workflow: a tiny generated multi-label study runs its
explain jobs and figures, summary.md gains the saliency section, and ``explain.label`` is
checked at config time and reruns only the saliency jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import edit_yaml, edited, jobs_of, snakemake

from biomedclf import layout
from biomedclf.explain.files import read_errors, read_maps, read_sanity

pytestmark = pytest.mark.workflow

CONFIG = "configs/multilabel.yaml"
VARIANTS = ("ann", "cnn")


def tiny(config: dict) -> None:
    """The preset at the smallest scale that trains: two variants, one seed, 3 epochs."""
    config["name"] = "mlexplain"
    config["data"]["synthetic"]["n_per_class"] = 60
    config["training"].update(epochs=3, seeds=[0], device="cpu")
    config["variants"] = {"ann": {"model": "linear"}, "cnn": {"model": "conv"}}
    config["comparisons"] = {"ann_vs_cnn": {"baseline": "ann", "variants": ["cnn"]}}
    config["statistics"] = {"n_bootstrap": 100}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("mlx") / "repo")
    edit_yaml(repo / CONFIG, tiny)
    snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo


def _jobs_with(repo: Path, change) -> set[str]:
    """The rules a dry run plans with ``change`` applied to the config, then reverted."""
    path = repo / CONFIG
    data = yaml.safe_load(path.read_text())
    change(data)
    with edited(path, yaml.safe_dump(data, sort_keys=False)):
        proc = snakemake(repo, "-n", "--cores", "2", "--configfile", CONFIG)
    return {rule for rule, _ in jobs_of(proc.stdout + proc.stderr)}


def test_every_variant_is_explained_and_the_figures_drawn(study: Path) -> None:
    out = study / "results" / "mlexplain"
    for v in VARIANTS:
        files = layout.explain_files(out, v, 0)
        m, err = read_maps(files["maps"]), read_errors(files["errors"])
        rec = read_sanity(files["sanity"])
        assert (
            m.multilabel and m.labels.shape[1] == 4 and m.target == "most probable positive label"
        )
        assert np.all(m.maps >= 0) and m.maps.shape[1:] == (32, 32)
        assert all(m.labels[r, k] == 1 for r, k in m.label_for("ann").items())
        assert err.multilabel and err.seeds.tolist() == [0] and rec["variant"] == v
    for kind in ("saliency", "errors"):
        assert layout.figure_file(out, kind, "ann_vs_cnn").stat().st_size > 5000
    summary = (out / "summary.md").read_text()
    assert "## Saliency maps: sanity check" in summary
    assert "[saliency maps](figures/saliency_ann_vs_cnn.png)" in summary
    assert "[maps](explain/cnn/seed0/maps.npz)" in summary
    dry = snakemake(study, "-n", "--cores", "2", "--configfile", CONFIG)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_the_explained_label_reruns_the_saliency_jobs_only(study: Path) -> None:
    rules = _jobs_with(study, lambda c: c.update(explain={"label": "effusion"}))
    assert rules == {"explain", "explain_figures", "multilabel_report", "all"}


def test_an_unknown_label_is_refused_at_config_time(study: Path) -> None:
    path = study / CONFIG
    data = yaml.safe_load(path.read_text())
    data["explain"] = {"label": "pleura"}
    with edited(path, yaml.safe_dump(data, sort_keys=False)):
        proc = snakemake(study, "-n", "--cores", "2", "--configfile", CONFIG, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "explain.label: unknown label 'pleura'" in text and "'effusion'" in text
