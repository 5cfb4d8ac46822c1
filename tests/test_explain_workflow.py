"""The explain step in the workflow: outputs of the smoke study, the HTML report, and what
reruns after a change (the plan of a dry run after a single, reverted change)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from repo_copy import ROOT
from workflow_helpers import jobs_after_config_change, planned_jobs, smk, smoke_config

from biomedclf.evaluate.run_results import load_predictions
from biomedclf.explain.files import read_errors, read_maps, read_sanity
from biomedclf.explain.selection import select_images
from biomedclf.layout import RunFiles

pytestmark = pytest.mark.workflow

EXPLAIN = {"explain", "explain_figures"}


def _rules(jobs) -> set[str]:
    return {rule for rule, _ in jobs}


def _explained(jobs) -> set[str]:
    return {w for rule, w in jobs if rule == "explain"}


def test_every_variant_is_explained_and_every_comparison_drawn(smoke_study: Path):
    cfg = smoke_config(smoke_study)
    out = smoke_study / "results" / "smoke"
    for v in cfg["variants"]:
        m = read_maps(out / "explain" / v / "seed0" / "maps.npz")
        rec = read_sanity(out / "explain" / v / "seed0" / "sanity.json")
        err = read_errors(out / "explain" / v / "seed0" / "errors.npz")
        assert m.variant == v and m.seed == 0 and rec["variant"] == v
        assert err.variant == v and err.seeds.tolist() == cfg["training"]["seeds"]
        assert m.maps.shape[1:] == (16, 16) and np.all(m.maps >= 0)
        assert not (out / "explain" / v / "seed1").exists()  # explain.seeds: first
    for name, comp in cfg["comparisons"].items():
        base = comp["baseline"]
        picks = select_images(load_predictions(RunFiles.of(out, base, 0).predictions), 16)
        for v in [base, *comp["variants"]]:
            m = read_maps(out / "explain" / v / "seed0" / "maps.npz")
            assert [str(m.paths[i]) for i in m.rows_for(base)] == [p.path for p in picks]
        for kind in ("saliency", "errors"):
            assert (out / "figures" / f"{kind}_{name}.png").stat().st_size > 5000
    summary = (out / "summary.md").read_text()
    assert "## Saliency maps: sanity check" in summary
    assert "[saliency maps](figures/saliency_dropout.png)" in summary


def test_report_shows_the_maps_in_every_comparison(smoke_study: Path):
    cfg = smoke_config(smoke_study)
    smk(smoke_study, "--report", "results/smoke/explain_report.html")
    html = (smoke_study / "results" / "smoke" / "explain_report.html").read_text()
    categories = json.loads(
        re.search(r"var categories = (\{.*?\});\s*</script>", html, re.S).group(1)
    )
    for comp in cfg["comparisons"]:
        files = {Path(f).name for group in categories[comp].values() for f in group}
        assert {f"saliency_{comp}.png", f"errors_{comp}.png"} <= files, sorted(files)
    for caption in ("saliency.rst", "errors.rst"):
        words = " ".join((ROOT / "workflow" / "report" / caption).read_text().split()[:4])
        assert html.count(words) >= len(cfg["comparisons"]), words


def test_nothing_to_do_after_the_run(smoke_study: Path):
    assert not _rules(planned_jobs(smoke_study)) & EXPLAIN


def test_retraining_a_variant_recomputes_its_maps_only(smoke_study: Path):
    jobs = jobs_after_config_change(
        smoke_study, lambda c: c["variants"]["cnn_dropout"].update(dropout=0.3)
    )
    assert _explained(jobs) == {"variant=cnn_dropout, seed=0"}
    assert "explain_figures" in _rules(jobs)


def test_retraining_a_baseline_recomputes_the_maps_on_its_images(smoke_study: Path):
    """cnn is the baseline of dropout: its predictions choose the images of cnn_dropout too."""
    jobs = jobs_after_config_change(smoke_study, lambda c: c["variants"]["cnn"].update(fc=16))
    assert _explained(jobs) == {"variant=cnn, seed=0", "variant=cnn_dropout, seed=0"}


def test_explain_settings_rerun_only_the_explain_jobs(smoke_study: Path):
    jobs = jobs_after_config_change(smoke_study, lambda c: c.update(explain={"n_images": 8}))
    assert _rules(jobs) == {*EXPLAIN, "summary", "all"}
    assert len(_explained(jobs)) == len(smoke_config(smoke_study)["variants"])
    jobs = jobs_after_config_change(smoke_study, lambda c: c.update(explain={"seeds": "all"}))
    variants = smoke_config(smoke_study)["variants"]
    assert _explained(jobs) == {f"variant={v}, seed=1" for v in variants}
    assert _rules(jobs) == {"explain", "summary", "all"}


def test_a_claim_does_not_redraw_the_maps(smoke_study: Path):
    jobs = jobs_after_config_change(
        smoke_study, lambda c: c["comparisons"]["dropout"].update(claim="Dropout helps.")
    )
    assert not _rules(jobs) & EXPLAIN
