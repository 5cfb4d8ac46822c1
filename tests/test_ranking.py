"""Ranking by the primary metric, best-vs-each recipe-level tests, Holm's correction."""

from __future__ import annotations

import numpy as np
import pytest
from aggregate_fixtures import make_study, seed_disagreement_study, statistics_section
from statsmodels.stats.multitest import multipletests

from biomedclf.stats.ranking import holm
from biomedclf.stats.recipe import two_sided_p_value
from biomedclf.stats.records import StudyStats
from biomedclf.stats.study import study_statistics


def statistics_of(runs, **overrides) -> StudyStats:
    """The statistics of ``runs`` without comparisons; the ``statistics:`` section is the
    schema's defaults with ``overrides``."""
    return study_statistics(runs, {}, statistics_section(**overrides), "test")


@pytest.mark.parametrize("seed", range(5))
def test_holm_matches_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.round(rng.random(7) ** 3, 3)  # small values and ties
    want = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(holm(list(p)), want)


def test_bootstrap_p_value_is_the_doubled_smaller_tail() -> None:
    assert two_sided_p_value(np.array([0.1, 0.2, 0.3, -0.1])) == pytest.approx(0.5)
    assert two_sided_p_value(np.array([0.1, 0.2, 0.3, 0.4])) == 0.0
    assert two_sided_p_value(np.array([0.0, 0.0])) == 1.0
    assert two_sided_p_value(np.array([np.nan])) is None


def test_best_variant_and_whether_its_lead_is_real(tmp_path) -> None:
    """Exact fake runs: 'strong' is right on 70 of 80 images, 'twin' on the same 70, 'weak' on
    40: the lead over 'weak' is real after Holm's correction, over 'twin' it is not."""
    variants = {
        "weak": ("conv", 0.5, 1.0),
        "strong": ("conv", 0.875, 1.0),
        "twin": ("conv", 0.875, 1.0),
    }
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1, 2], n_test=80, comparisons={}, exact=True)
    ranking = statistics_of(runs, n_bootstrap=400, seed=0).ranking
    assert ranking.metric == "accuracy" and ranking.correction == "holm"
    assert [r.variant for r in ranking.order] == ["strong", "twin", "weak"]
    assert ranking.best == "strong"
    versus = {v.variant: v for v in ranking.versus}
    assert versus["twin"].difference == 0 and versus["twin"].p_value == 1.0
    assert not versus["twin"].lead_is_real
    assert versus["weak"].difference == pytest.approx(30 / 80)
    assert versus["weak"].low > 0 and versus["weak"].lead_is_real
    raw = [v.p_value for v in ranking.versus]
    assert raw == [v.recipe.p_value for v in ranking.versus]
    assert [v.p_holm for v in ranking.versus] == holm(raw)
    assert ranking.alpha == pytest.approx(0.05)
    # every seed right on the same images: no training variance, recipe == images-only width
    assert versus["weak"].recipe.components.run_variance.variant == 0
    assert versus["weak"].trained_models.low > 0
    assert [r.n_seeds for r in ranking.order] == [3, 3, 3]


def test_ranking_by_another_metric_and_an_unknown_one(tmp_path) -> None:
    variants = {"a": ("conv", 0.6, 1.0), "b": ("conv", 0.8, 1.0)}
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1], n_test=60, comparisons={})
    result = statistics_of(runs, n_bootstrap=200, primary="auroc")
    ranking = result.ranking
    assert ranking.metric == "auroc"
    order = [r.variant for r in ranking.order]
    means = {v: result.variants[v].bootstrap.seed_mean.auroc.estimate for v in variants}
    assert order == sorted(variants, key=lambda v: -means[v])
    assert [r.estimate for r in ranking.order] == [means[v] for v in order]
    with pytest.raises(ValueError, match="statistics.primary"):
        statistics_of(runs, n_bootstrap=50, primary="f1")


def test_the_ranking_tests_leads_on_the_recipe_intervals(tmp_path) -> None:
    """cnn_dropout is ahead of cnn on every seed and its images-only lead is clear, but the
    seeds' spread leaves the recipe undecided: its lead is not real. The ranking and the
    comparison give the same recipe-level numbers for the pair."""
    runs, study = seed_disagreement_study(tmp_path)
    result = study_statistics(
        runs, study["comparisons"], statistics_section(n_bootstrap=1000, seed=0), "test"
    )
    ranking = result.ranking
    assert ranking.best == "cnn_dropout"
    lead = next(v for v in ranking.versus if v.variant == "cnn")
    assert lead.trained_models.low > 0 and lead.trained_models.p_value < 0.01
    assert lead.low < 0 < lead.high and not lead.lead_is_real
    assert lead.p_value == lead.recipe.p_value > 0.05
    assert lead.recipe.seeds_needed > 3 and lead.recipe.few_seeds
    comparison = result.result("dropout", "cnn_dropout").accuracy.recipe
    assert (lead.difference, lead.low, lead.high, lead.p_value) == (
        comparison.difference,
        comparison.low,
        comparison.high,
        comparison.p_value,
    )
    top = ranking.order[0]
    seed_mean = result.variants["cnn_dropout"].bootstrap.seed_mean.accuracy
    assert (top.trained_models.low, top.trained_models.high) == (seed_mean.low, seed_mean.high)
    assert top.low < seed_mean.low and top.high > seed_mean.high  # the runs' spread counts
