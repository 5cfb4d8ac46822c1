"""The ranking table and the summary's "which variant is best" section, from stats.json."""

from __future__ import annotations

import csv
import json

import pytest
from aggregate_fixtures import make_study, study_stats, table_outputs

from biomedclf.report.tables.ranking import ranking_markdown, ranking_rows, ranking_sentence
from biomedclf.report.tables.write import write_study_tables


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """'strong' and its 'twin' right on the same 70 of 80 images, 'weak' on 40."""
    root = tmp_path_factory.mktemp("rank")
    variants = {
        "weak": ("conv", 0.5, 1.0),
        "strong": ("conv", 0.875, 1.0),
        "twin": ("conv", 0.875, 1.0),
    }
    runs, _ = make_study(root, variants, seeds=[0, 1, 2], n_test=80, comparisons={}, exact=True)
    parsed = study_stats(runs, {}, root / "stats.json", n_bootstrap=400, seed=0)
    return root, runs, json.loads(parsed.source.read_text()), parsed


def test_rows_follow_the_statistics(known) -> None:
    _, _, raw, parsed = known
    header, rows = ranking_rows(parsed)
    assert [r[1] for r in rows] == [o["variant"] for o in raw["ranking"]["order"]]
    best = dict(zip(header, rows[0]))
    assert best["n_seeds"] == 3 and best["ci_low"] == raw["ranking"]["order"][0]["low"]
    assert rows[0][9:] == [None] * 10  # the best has no difference to itself
    weak = dict(zip(header, rows[2]))
    want = next(v for v in raw["ranking"]["versus"] if v["variant"] == "weak")
    assert weak["best_minus_variant"] == want["recipe"]["difference"]
    assert (weak["diff_ci_low"], weak["p_value"]) == (
        want["recipe"]["low"],
        want["recipe"]["p_value"],
    )
    assert weak["p_holm"] == want["p_holm"] and weak["lead_is_real"] is True
    assert weak["seeds_needed"] == want["recipe"]["seeds_needed"]
    assert weak["trained_models_diff_ci_low"] == want["trained_models"]["low"]


def test_markdown_and_sentence_say_which_lead_is_real(known) -> None:
    _, _, raw, parsed = known
    text = ranking_sentence(parsed)
    assert text.startswith("**strong** has the highest test accuracy: 87.5 %")
    assert "over twin +0.0 pp (not detectable" in text
    assert "over weak +37.5 pp (real, Holm-adjusted p" in text
    assert "recipe-level p-value" in text and "3 training runs of each and 80 test images" in text
    table = ranking_markdown(parsed).splitlines()
    assert "| 95% CI (recipe) | 95% CI (these trained models) |" in table[0]
    assert table[2].startswith("| 1 | strong | 87.5 % |") and "best" in table[2]
    assert table[4].startswith("| 3 | weak | 50.0 % |") and "| < 0.001 | yes |" in table[4]


def test_study_tables_write_the_ranking(known, tmp_path) -> None:
    _, runs, _, parsed = known
    tables = ("test_metrics", "training_time", "per_class", "ranking")
    write_study_tables(runs, parsed.source, table_outputs(tmp_path, tables))
    rows = list(csv.DictReader((tmp_path / "tables" / "ranking.csv").open()))
    assert [r["variant"] for r in rows] == ["strong", "twin", "weak"]
    assert (tmp_path / "tables" / "ranking.md").read_text().startswith("# Which variant is best")
