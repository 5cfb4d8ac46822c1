"""summary.md: the study, the homework's tables, each claim beside its verdict and warnings."""

from __future__ import annotations

import re

import pytest
from aggregate_fixtures import make_study

from biomedclf import stats as stats_mod
from biomedclf import summary


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("study3")
    runs, study = make_study(root, seeds=[0, 1, 2], n_test=60)
    st = stats_mod.study_statistics(runs, study["comparisons"], n_bootstrap=200)
    out = root / "summary.md"
    summary.write_summary(study, runs, st, out)
    return study, st, out.read_text()


def test_summary_has_title_setup_and_tables(three_seeds):
    study, _, text = three_seeds
    assert text.startswith("# fake")
    assert "## What was run" in text and "synthetic" in text
    for v in study["variants"]:
        assert f"| {v} |" in text
    assert "Test accuracy per variant" in text and "Training time per variant" in text
    assert "torch: 2.4.0" in text
    assert "Warning:** this study ran" not in text


def test_summary_has_each_claim_and_verdict(three_seeds):
    study, st, text = three_seeds
    assert "Dropout raised test accuracy from 72% to 77%." in text
    assert "cnn reaches a higher test accuracy than ann." in text  # default phrase
    for comp_name, comp in study["comparisons"].items():
        assert f"### {comp_name}" in text
        for v in comp["variants"]:
            res = st["comparisons"][comp_name]["results"][v]
            assert f"**{v} vs {comp['baseline']}: {res['verdict']}**" in text
            assert res["verdict_text"] in text
    assert "McNemar exact test: p =" in text


def test_summary_links_are_relative_and_exist_in_layout(three_seeds):
    _, _, text = three_seeds
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert links
    assert all(not link.startswith("/") for link in links)
    assert "figures/curves_dropout.png" in links and "tables/stats_dropout.md" in links
    assert "tables/test_metrics.md" in links and "figures/reliability.png" in links


def test_summary_warns_with_fewer_than_three_seeds(tmp_path):
    runs, study = make_study(tmp_path, seeds=[0, 1], n_test=40)
    st = stats_mod.study_statistics(runs, study["comparisons"], n_bootstrap=100)
    out = tmp_path / "summary.md"
    summary.write_summary(study, runs, st, out)
    text = out.read_text()
    assert "Warning:** this study ran 2 seeds" in text
    assert text.count("rests on 2 seeds") >= len(study["comparisons"])


def test_summary_without_data_summary_or_claims(tmp_path):
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 2.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, study = make_study(tmp_path, variants, seeds=[0, 1, 2], n_test=30, comparisons=comps)
    study.pop("data_summary")
    st = stats_mod.study_statistics(runs, comps, n_bootstrap=50)
    out = tmp_path / "out" / "summary.md"
    summary.write_summary(study, runs, st, out)
    text = out.read_text()
    assert "no data summary" in text and "b reaches a higher test accuracy than a." in text
