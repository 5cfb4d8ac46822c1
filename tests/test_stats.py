"""Known-answer tests of biomedclf.stats and its study-level assembly on fake runs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from aggregate_fixtures import make_study
from sklearn.metrics import roc_auc_score

from biomedclf import stats

# ---- pure functions -------------------------------------------------------------------------


def test_identical_predictions_give_zero_difference_and_mcnemar_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    p = rng.random(100)
    for metric in ("accuracy", "auroc"):
        d = stats.paired_bootstrap_diff(y, p, p, metric, n_bootstrap=300, seed=1)
        assert d["difference"] == 0.0
        assert d["low"] == 0.0 and d["high"] == 0.0
    correct = (p >= 0.5) == y
    m = stats.mcnemar_exact(correct, correct)
    assert m["p_value"] == 1.0 and m["discordant"] == 0
    v = stats.verdict(0.0, 0.0, 0.0)
    assert v["verdict"] == "no detectable difference"


def test_variant_right_where_baseline_wrong_is_significant():
    y = np.array([0, 1] * 50)
    base = np.where(np.arange(100) < 30, 1 - y, y).astype(float)  # 30 errors
    var = y.astype(float)  # right everywhere
    m = stats.mcnemar_exact((base >= 0.5) == y, (var >= 0.5) == y)
    assert m["variant_only"] == 30 and m["baseline_only"] == 0
    assert m["p_value"] < 1e-6
    d = stats.paired_bootstrap_diff(y, base, var, "accuracy", n_bootstrap=500, seed=0)
    assert d["difference"] == pytest.approx(0.30)
    assert d["low"] > 0
    assert stats.verdict(d["difference"], d["low"], d["high"])["verdict"] == "better"
    # and the reverse direction is "worse"
    r = stats.paired_bootstrap_diff(y, var, base, "accuracy", n_bootstrap=500, seed=0)
    assert stats.verdict(r["difference"], r["low"], r["high"])["verdict"] == "worse"


def test_mcnemar_matches_binomial_by_hand():
    # 2 vs 8 discordant pairs: two-sided exact p = 2 * P(X <= 2 | n=10, 1/2) = 112/1024
    b = np.array([1] * 2 + [0] * 8 + [1] * 5, dtype=bool)
    v = np.array([0] * 2 + [1] * 8 + [1] * 5, dtype=bool)
    m = stats.mcnemar_exact(b, v)
    assert (m["baseline_only"], m["variant_only"]) == (2, 8)
    assert m["p_value"] == pytest.approx(112 / 1024)


def test_weighted_auroc_matches_sklearn_with_ties_and_resampling():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60), 1)  # many ties
    assert stats.weighted_auroc(y, s, np.ones((1, 60)))[0] == pytest.approx(roc_auc_score(y, s))
    idx = rng.integers(0, 60, size=(5, 60))
    w = np.stack([np.bincount(i, minlength=60) for i in idx])
    got = stats.weighted_auroc(y, s, w)
    want = [roc_auc_score(y[i], s[i]) for i in idx]
    np.testing.assert_allclose(got, want)


def test_bootstrap_weights_are_seeded_and_sum_to_n():
    a = np.concatenate(list(stats.bootstrap_weights(30, 50, seed=7)))
    b = np.concatenate(list(stats.bootstrap_weights(30, 50, seed=7)))
    assert a.shape == (50, 30)
    np.testing.assert_array_equal(a, b)
    assert (a.sum(axis=1) == 30).all()


def test_bootstrap_ci_contains_estimate_and_handles_one_class():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    p = np.clip(y * 0.6 + rng.random(80) * 0.5, 0, 1)
    ci = stats.bootstrap_ci(y, p, "accuracy", n_bootstrap=400, seed=0)
    assert ci["low"] <= ci["estimate"] <= ci["high"]
    one_class = stats.bootstrap_ci(np.ones(10, int), p[:10], "auroc", n_bootstrap=50)
    assert one_class["estimate"] is None and one_class["low"] is None
    json.dumps(one_class)


def test_paired_bootstrap_coverage_near_nominal():
    """Seeded simulation: the 95% paired interval covers the true difference ~95% of the time."""
    rng = np.random.default_rng(2024)
    n, sims, true_diff = 150, 200, 0.05
    # joint distribution of (baseline correct, variant correct): P(b only)=0.10, P(v only)=0.15
    probs = np.array([0.60, 0.10, 0.15, 0.15])  # both, base only, var only, neither
    y = np.ones(n, dtype=int)
    covered = 0
    for _ in range(sims):
        cell = rng.choice(4, size=n, p=probs)
        base = np.isin(cell, [0, 1]).astype(float)
        var = np.isin(cell, [0, 2]).astype(float)
        d = stats.paired_bootstrap_diff(y, base, var, "accuracy", n_bootstrap=300, seed=rng)
        covered += d["low"] <= true_diff <= d["high"]
    assert 0.85 <= covered / sims <= 0.99


def test_bootstrap_ci_coverage_near_nominal():
    rng = np.random.default_rng(7)
    n, sims, acc = 120, 200, 0.75
    y = np.ones(n, dtype=int)
    covered = 0
    for _ in range(sims):
        p = (rng.random(n) < acc).astype(float)
        ci = stats.bootstrap_ci(y, p, "accuracy", n_bootstrap=300, seed=rng)
        covered += ci["low"] <= acc <= ci["high"]
    assert 0.85 <= covered / sims <= 0.99


def test_pooled_difference_averages_over_seeds():
    y = np.array([0, 1] * 20)
    base = np.tile(y.astype(float), (2, 1))
    var = base.copy()
    var[0, :4] = 1 - var[0, :4]  # seed 0: 4 more errors; seed 1: identical
    d = stats.paired_bootstrap_diff(y, base, var, n_bootstrap=200, seed=0)
    assert d["difference"] == pytest.approx(-2 / 40)


def test_ece_calibrated_near_zero_and_miscalibrated_large():
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    assert stats.expected_calibration_error(y, p, 10) < 0.02
    overconfident = np.where(p >= 0.5, 0.99, 0.01)
    assert stats.expected_calibration_error(y, overconfident, 10) > 0.2
    bins = stats.reliability_curve(y, p, 10)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 20000
    for b in bins:
        assert b["lower"] <= b["mean_probability"] <= b["upper"]
        assert abs(b["observed_frequency"] - b["mean_probability"]) < 0.05


def test_ece_known_value_and_probability_one_in_last_bin():
    y = np.array([1, 1, 0, 0])
    p = np.array([1.0, 1.0, 0.0, 0.0])
    assert stats.expected_calibration_error(y, p) == 0.0
    # all predicted 0.8, half positive -> ECE 0.3
    assert stats.expected_calibration_error(y, np.full(4, 0.8)) == pytest.approx(0.3)
    assert stats.reliability_curve(y, p, 4)[-1]["count"] == 2


def test_verdict_words_and_effect_size():
    v = stats.verdict(0.05, 0.01, 0.09, "accuracy", "cnn", "cnn_dropout")
    assert v["verdict"] == "better"
    assert "+5.0 pp" in v["text"] and "+1.0 to +9.0" in v["text"]
    assert stats.verdict(-0.05, -0.09, -0.01)["verdict"] == "worse"
    assert stats.verdict(0.02, -0.01, 0.05)["verdict"] == "no detectable difference"
    assert "0.030" in stats.verdict(0.03, 0.01, 0.05, "auroc")["text"]
    assert stats.verdict(None, None, None)["verdict"] == "undetermined"


def test_describe():
    d = stats.describe([1.0, 2.0, 3.0])
    assert d["mean"] == 2.0 and d["sd"] == pytest.approx(1.0) and d["n"] == 3
    one = stats.describe([0.5])
    assert one["sd"] is None
    assert stats.describe([None, float("nan")])["mean"] is None


# ---- study level --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    runs, study = make_study(root)
    result = stats.study_statistics(runs, study["comparisons"], n_bootstrap=300, seed=0)
    return root, runs, study, result


def test_study_statistics_structure_and_json(fake_study):
    _, runs, study, result = fake_study
    text = json.dumps(result, allow_nan=False)  # strict JSON: no NaN
    assert json.loads(text) == result
    assert set(result["variants"]) == set(study["variants"])
    v = result["variants"]["cnn"]
    assert v["seeds"] == [0, 1, 2]
    acc = v["metrics"]["threshold_0.5"]["accuracy"]
    assert len(acc["values"]) == 3 and acc["sd"] is not None
    assert "threshold" in v["metrics"]["threshold_youden"]
    gap = v["overfitting_gap"]["values"]
    assert all(isinstance(g, float) for g in gap)
    assert [e["seed"] for e in v["bootstrap"]["per_seed"]] == [0, 1, 2]
    for scope in ("seed_mean", "ensemble"):
        ci = v["bootstrap"][scope]["accuracy"]
        assert ci["low"] <= ci["estimate"] <= ci["high"]
    cal = v["calibration"]
    assert len(cal["bins"]) == 10 and sum(b["count"] for b in cal["bins"]) == 3 * 80
    assert 0 <= cal["ece"] <= 1
    assert v["train_seconds"]["mean"] > 0 and v["parameters"] == 1_067_000


def test_study_comparisons(fake_study):
    _, _, _, result = fake_study
    comp = result["comparisons"]["dropout"]
    assert comp["baseline"] == "cnn" and comp["claim"].startswith("Dropout")
    r = comp["results"]["cnn_dropout"]
    assert r["seeds"] == [0, 1, 2]
    assert [e["seed"] for e in r["accuracy"]["per_seed"]] == [0, 1, 2]
    assert [e["seed"] for e in r["mcnemar"]["per_seed"]] == [0, 1, 2]
    pooled = r["accuracy"]["pooled"]
    assert pooled["low"] <= pooled["difference"] <= pooled["high"]
    mean_diff = np.mean(
        result["variants"]["cnn_dropout"]["metrics"]["threshold_0.5"]["accuracy"]["values"]
    ) - np.mean(result["variants"]["cnn"]["metrics"]["threshold_0.5"]["accuracy"]["values"])
    assert pooled["difference"] == pytest.approx(mean_diff)
    assert r["verdict"] in ("better", "worse", "no detectable difference")
    assert r["verdict_text"]
    assert 0 <= r["mcnemar"]["ensemble"]["p_value"] <= 1
    assert r["train_seconds"]["ratio"] > 0


def test_study_statistics_is_deterministic(fake_study):
    _, runs, study, result = fake_study
    again = stats.study_statistics(runs, study["comparisons"], n_bootstrap=300, seed=0)
    assert again == result


def test_warnings_for_few_seeds_and_wide_interval(tmp_path):
    variants = {"a": ("conv", 0.75, 1.0), "b": ("conv", 0.76, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0], n_test=40, comparisons=comps)
    result = stats.study_statistics(runs, comps, n_bootstrap=200)
    warnings = result["comparisons"]["ab"]["results"]["b"]["warnings"]
    assert any("1 seed" in w for w in warnings)
    assert any("wider" in w for w in warnings)
    assert result["variants"]["a"]["metrics"]["threshold_0.5"]["accuracy"]["sd"] is None


def test_no_wide_interval_warning_for_a_clear_difference(tmp_path):
    variants = {"a": ("conv", 0.6, 1.0), "b": ("conv", 0.95, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1, 2], n_test=200, comparisons=comps)
    result = stats.study_statistics(runs, comps, n_bootstrap=300)
    entry = result["comparisons"]["ab"]["results"]["b"]
    assert entry["verdict"] == "better"
    assert not any("wider" in w and "accuracy" in w for w in entry["warnings"])


def test_pairs_by_path_and_names_files_when_test_sets_differ(tmp_path):
    variants = {"a": ("conv", 0.75, 1.0), "b": ("conv", 0.8, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1], n_test=30, comparisons=comps)
    before = stats.study_statistics(runs, comps, n_bootstrap=100)
    # reversing the row order of one file changes nothing: rows pair by path
    f = runs[-1].predictions
    lines = f.read_text().splitlines()
    f.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    after = stats.study_statistics(runs, comps, n_bootstrap=100)
    assert after["comparisons"] == before["comparisons"]
    # a different image set is an error naming both files
    lines = f.read_text().splitlines()
    lines[1] = lines[1].replace("img", "other", 1)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        stats.study_statistics(runs, comps, n_bootstrap=100)
    assert str(f) in str(err.value) and str(runs[0].predictions) in str(err.value)


def test_missing_file_and_unknown_variant_are_named(tmp_path):
    variants = {"a": ("conv", 0.75, 1.0)}
    runs, _ = make_study(tmp_path, variants, seeds=[0], n_test=20, comparisons={})
    with pytest.raises(ValueError, match="comparisons.x"):
        stats.study_statistics(runs, {"x": {"baseline": "a", "variants": ["zzz"]}}, 50)
    shutil.rmtree(runs[0].train_dir)
    with pytest.raises(FileNotFoundError, match="history.csv|train.json"):
        stats.study_statistics(runs, {}, 50)
