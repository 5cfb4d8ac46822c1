"""Known-answer tests of the statistics (bootstrap, McNemar, calibration, verdicts, summaries
over seeds) and of their assembly into stats.json on fake runs."""

from __future__ import annotations

import dataclasses
import json
import statistics as pystats

import numpy as np
import pytest
from aggregate_fixtures import make_study, seed_disagreement_study, statistics_section
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, roc_auc_score

from biomedclf.evaluate import calibration
from biomedclf.stats import bootstrap, descriptive, significance, study
from biomedclf.stats.records import StudyStats, read_stats
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.significance import VERDICTS
from biomedclf.stats.typed_json import to_json

#: The interval level of the tests that call the statistics directly.
LEVEL = 0.95


def study_json(runs, comparisons, evaluated_on="test", **overrides) -> dict:
    """What stats.json holds for ``runs``: the records of study_statistics as JSON."""
    records = study.study_statistics(
        runs, comparisons, statistics_section(**overrides), evaluated_on
    )
    return to_json(records)


# ---- pure functions -------------------------------------------------------------------------


def test_identical_predictions_give_zero_difference_and_mcnemar_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    p = rng.random(100)
    for metric in ("accuracy", "auroc"):
        d = bootstrap.paired_bootstrap_diff(
            y, p, p, metric, confidence=LEVEL, n_bootstrap=300, seed=1
        )
        assert d["difference"] == 0.0
        assert d["low"] == 0.0 and d["high"] == 0.0
    correct = (p >= 0.5) == y
    m = significance.mcnemar_exact(correct, correct)
    assert m["p_value"] == 1.0 and m["discordant"] == 0
    v = significance.verdict(0.0, 0.0, 0.0, confidence=LEVEL)
    assert v["verdict"] == "no detectable difference"


def test_variant_right_where_baseline_wrong_is_significant():
    y = np.array([0, 1] * 50)
    base = np.where(np.arange(100) < 30, 1 - y, y).astype(float)  # 30 errors
    var = y.astype(float)  # right everywhere
    m = significance.mcnemar_exact((base >= 0.5) == y, (var >= 0.5) == y)
    assert m["variant_only"] == 30 and m["baseline_only"] == 0
    assert m["p_value"] < 1e-6
    d = bootstrap.paired_bootstrap_diff(
        y, base, var, "accuracy", confidence=LEVEL, n_bootstrap=500, seed=0
    )
    assert d["difference"] == pytest.approx(0.30)
    assert d["low"] > 0
    assert (
        significance.verdict(d["difference"], d["low"], d["high"], confidence=LEVEL)["verdict"]
        == "better"
    )
    # and the reverse direction is "worse"
    r = bootstrap.paired_bootstrap_diff(
        y, var, base, "accuracy", confidence=LEVEL, n_bootstrap=500, seed=0
    )
    assert (
        significance.verdict(r["difference"], r["low"], r["high"], confidence=LEVEL)["verdict"]
        == "worse"
    )


def test_mcnemar_matches_binomial_by_hand():
    # 2 vs 8 discordant pairs: two-sided exact p = 2 * P(X <= 2 | n=10, 1/2) = 112/1024
    b = np.array([1] * 2 + [0] * 8 + [1] * 5, dtype=bool)
    v = np.array([0] * 2 + [1] * 8 + [1] * 5, dtype=bool)
    m = significance.mcnemar_exact(b, v)
    assert (m["baseline_only"], m["variant_only"]) == (2, 8)
    assert m["p_value"] == pytest.approx(112 / 1024)


def test_weighted_auroc_matches_sklearn_with_ties_and_resampling():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 60)
    s = np.round(rng.random(60), 1)  # many ties
    got_full = bootstrap.weighted_auroc(y, s, np.ones((1, 60)))[0]
    assert got_full == pytest.approx(roc_auc_score(y, s))
    idx = rng.integers(0, 60, size=(5, 60))
    w = np.stack([np.bincount(i, minlength=60) for i in idx])
    got = bootstrap.weighted_auroc(y, s, w)
    want = [roc_auc_score(y[i], s[i]) for i in idx]
    np.testing.assert_allclose(got, want)


def test_bootstrap_weights_are_seeded_and_sum_to_n():
    a = np.concatenate(list(bootstrap.bootstrap_weights(30, 50, seed=7)))
    b = np.concatenate(list(bootstrap.bootstrap_weights(30, 50, seed=7)))
    assert a.shape == (50, 30)
    np.testing.assert_array_equal(a, b)
    assert (a.sum(axis=1) == 30).all()


def test_bootstrap_estimates_match_sklearn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 70)
    p = rng.random((3, 70))  # three seeds
    for scores in (p[0], p):
        rows = np.atleast_2d(scores)
        acc = bootstrap.bootstrap_ci(
            y, scores, "accuracy", confidence=LEVEL, n_bootstrap=50, seed=0
        )
        want_acc = np.mean([accuracy_score(y, r >= 0.5) for r in rows])
        assert acc["estimate"] == pytest.approx(want_acc)
        auc = bootstrap.bootstrap_ci(y, scores, "auroc", confidence=LEVEL, n_bootstrap=50, seed=0)
        assert auc["estimate"] == pytest.approx(np.mean([roc_auc_score(y, r) for r in rows]))
    d = bootstrap.paired_bootstrap_diff(
        y, p[0], p[1], "auroc", confidence=LEVEL, n_bootstrap=50, seed=0
    )
    assert d["difference"] == pytest.approx(roc_auc_score(y, p[1]) - roc_auc_score(y, p[0]))


def test_bootstrap_ci_contains_estimate_and_handles_one_class():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    p = np.clip(y * 0.6 + rng.random(80) * 0.5, 0, 1)
    ci = bootstrap.bootstrap_ci(y, p, "accuracy", confidence=LEVEL, n_bootstrap=400, seed=0)
    assert ci["low"] <= ci["estimate"] <= ci["high"]
    one_class = bootstrap.bootstrap_ci(
        np.ones(10, int), p[:10], "auroc", confidence=LEVEL, n_bootstrap=50, seed=0
    )
    assert one_class["estimate"] is None and one_class["low"] is None
    assert one_class["n_valid"] == 0
    json.dumps(one_class, allow_nan=False)


def test_bootstrap_rejects_bad_arguments():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap.bootstrap_ci([0, 1], [0.2, 0.8], confidence=1.0, n_bootstrap=5, seed=0)
    with pytest.raises(ValueError, match="metric 'f1'"):
        bootstrap.bootstrap_ci([0, 1], [0.2, 0.8], "f1", confidence=LEVEL, n_bootstrap=5, seed=0)
    with pytest.raises(ValueError, match="shape"):
        bootstrap.paired_bootstrap_diff(
            [0, 1], [0.2, 0.8], [[0.2, 0.8]] * 2, confidence=LEVEL, n_bootstrap=5, seed=0
        )


def test_derive_seed_is_stable_and_distinguishes_names():
    a = bootstrap.derive_seed(0, "cnn", 1, "accuracy")
    assert a == bootstrap.derive_seed(0, "cnn", 1, "accuracy")
    assert a != bootstrap.derive_seed(0, "cnn", 2, "accuracy")
    assert a != bootstrap.derive_seed(1, "cnn", 1, "accuracy")


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
        d = bootstrap.paired_bootstrap_diff(
            y, base, var, "accuracy", confidence=LEVEL, n_bootstrap=300, seed=rng
        )
        covered += d["low"] <= true_diff <= d["high"]
    assert 0.85 <= covered / sims <= 0.99


def test_bootstrap_ci_coverage_near_nominal():
    rng = np.random.default_rng(7)
    n, sims, acc = 120, 200, 0.75
    y = np.ones(n, dtype=int)
    covered = 0
    for _ in range(sims):
        p = (rng.random(n) < acc).astype(float)
        ci = bootstrap.bootstrap_ci(y, p, "accuracy", confidence=LEVEL, n_bootstrap=300, seed=rng)
        covered += ci["low"] <= acc <= ci["high"]
    assert 0.85 <= covered / sims <= 0.99


def test_pooled_difference_averages_over_seeds():
    y = np.array([0, 1] * 20)
    base = np.tile(y.astype(float), (2, 1))
    var = base.copy()
    var[0, :4] = 1 - var[0, :4]  # seed 0: 4 more errors; seed 1: identical
    d = bootstrap.paired_bootstrap_diff(y, base, var, confidence=LEVEL, n_bootstrap=200, seed=0)
    assert d["difference"] == pytest.approx(-2 / 40)


def test_ece_calibrated_near_zero_and_miscalibrated_large():
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    assert calibration.expected_calibration_error(y, p, 10) < 0.02
    overconfident = np.where(p >= 0.5, 0.99, 0.01)
    assert calibration.expected_calibration_error(y, overconfident, 10) > 0.2
    bins = calibration.reliability_curve(y, p, 10)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 20000
    for b in bins:
        assert b["lower"] <= b["mean_probability"] <= b["upper"]
        assert abs(b["observed_frequency"] - b["mean_probability"]) < 0.05


def test_reliability_curve_and_ece_match_sklearn_calibration_curve():
    rng = np.random.default_rng(11)
    p = rng.beta(2, 5, 3000)  # continuous: no probability on a bin edge, some bins empty
    y = (rng.random(3000) < p**0.7).astype(int)
    bins = calibration.reliability_curve(y, p, 10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = [b for b in bins if b["count"]]
    np.testing.assert_allclose([b["observed_frequency"] for b in filled], prob_true)
    np.testing.assert_allclose([b["mean_probability"] for b in filled], prob_pred)
    counts, _ = np.histogram(p, bins=np.linspace(0, 1, 11))
    counts = counts[counts > 0]
    want = np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred))
    assert calibration.expected_calibration_error(y, p, 10) == pytest.approx(want)


def test_ece_known_value_and_probability_one_in_last_bin():
    y = np.array([1, 1, 0, 0])
    p = np.array([1.0, 1.0, 0.0, 0.0])
    assert calibration.expected_calibration_error(y, p) == 0.0
    # all predicted 0.8, half positive -> ECE 0.3
    assert calibration.expected_calibration_error(y, np.full(4, 0.8)) == pytest.approx(0.3)
    bins = calibration.reliability_curve(y, p, 4)
    assert [b["count"] for b in bins] == [2, 0, 0, 2]
    assert bins[1]["mean_probability"] is None and bins[1]["observed_frequency"] is None
    with pytest.raises(ValueError, match="bins 0"):
        calibration.reliability_curve(y, p, 0)


def test_verdict_words_and_effect_size():
    v = significance.verdict(0.05, 0.01, 0.09, "accuracy", "cnn", "cnn_dropout", LEVEL)
    assert v["verdict"] == "better"
    assert v["text"] == (
        "cnn_dropout is better than cnn in test accuracy: +5.0 pp (95% CI +1.0 to +9.0)"
    )
    assert significance.verdict(-0.05, -0.09, -0.01, confidence=LEVEL)["verdict"] == "worse"
    assert (
        significance.verdict(0.02, -0.01, 0.05, confidence=LEVEL)["verdict"]
        == "no detectable difference"
    )
    assert (
        "+0.030 (95% CI +0.010 to +0.050)"
        in significance.verdict(0.03, 0.01, 0.05, "auroc", confidence=LEVEL)["text"]
    )
    assert significance.verdict(None, None, None)["verdict"] == "undetermined"


def test_format_difference():
    assert significance.format_difference(-0.0125, -0.05, 0.025, confidence=LEVEL) == (
        "-1.2 pp (95% CI -5.0 to +2.5)"
    )
    assert significance.format_difference(0.02, None, None, "brier") == "+0.020"
    assert significance.format_difference(0.1, 0.0, 0.2, confidence=0.9).endswith(
        "(90% CI +0.0 to +20.0)"
    )
    assert significance.format_difference(None, 0.0, 0.1) == "n/a"
    with pytest.raises(ValueError, match="confidence level"):
        significance.format_difference(0.1, 0.0, 0.2)


def test_describe_matches_the_statistics_module():
    values = [0.71, 0.755, 0.8025]
    d = descriptive.describe(values)
    assert d.mean == pytest.approx(pystats.mean(values))
    assert d.sd == pytest.approx(pystats.stdev(values))
    assert (d.min, d.max, d.n, d.values) == (0.71, 0.8025, 3, values)
    one = descriptive.describe([0.5])
    assert one.sd is None and one.mean == 0.5
    gaps = descriptive.describe([None, float("nan"), 2.0, 4.0])
    assert gaps.values == [None, None, 2.0, 4.0] and gaps.n == 2 and gaps.mean == 3.0
    assert descriptive.describe([None, float("nan")]).mean is None


# ---- study level --------------------------------------------------------------------------

#: Variants right on exactly their first round(accuracy * n) test images: "strong" is right
#: on 28 more images than "base" in every seed, "twin" on the very same images as "base".
KNOWN_VARIANTS = {
    "base": ("conv", 0.6, 1.0),
    "strong": ("conv", 0.95, 2.0),
    "twin": ("conv", 0.6, 1.0),
}
KNOWN_COMPARISONS = {
    "up": {"baseline": "base", "variants": ["strong", "twin"]},
    "down": {"baseline": "strong", "variants": ["base"]},
}


@pytest.fixture(scope="module")
def fake_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    runs, study = make_study(root)
    result = study_json(runs, study["comparisons"], n_bootstrap=300, seed=0)
    return root, runs, study, result


@pytest.fixture(scope="module")
def known_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("known")
    runs, _ = make_study(
        root,
        KNOWN_VARIANTS,
        seeds=[0, 1, 2],
        n_test=80,
        comparisons=KNOWN_COMPARISONS,
        exact=True,
    )
    return runs, study_json(runs, KNOWN_COMPARISONS, n_bootstrap=300, seed=0)


def test_study_statistics_structure_and_json(fake_study):
    _, runs, study, result = fake_study
    text = json.dumps(result, allow_nan=False)  # strict JSON: no NaN
    assert json.loads(text) == result
    assert result["format"] == "biomedclf-stats/5"
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


def test_ensemble_metrics_match_sklearn(fake_study):
    _, runs, _, result = fake_study
    for variant, v in result["variants"].items():
        rows = [
            np.loadtxt(r.predictions, delimiter=",", skiprows=1, usecols=(1, 4))
            for r in runs
            if r.variant == variant
        ]
        y = rows[0][:, 0]
        mean_p = np.mean([r[:, 1] for r in rows], axis=0)
        assert v["ensemble"]["accuracy"] == pytest.approx(accuracy_score(y, mean_p >= 0.5))
        assert v["ensemble"]["auroc"] == pytest.approx(roc_auc_score(y, mean_p))
        estimate = v["bootstrap"]["ensemble"]["auroc"]["estimate"]
        assert estimate == pytest.approx(roc_auc_score(y, mean_p))


def test_study_comparisons(fake_study):
    _, _, _, result = fake_study
    comp = result["comparisons"]["dropout"]
    assert comp["baseline"] == "cnn" and comp["claim"].startswith("Dropout")
    r = comp["results"]["cnn_dropout"]
    assert r["seeds"] == [0, 1, 2]
    assert [e["seed"] for e in r["accuracy"]["per_seed"]] == [0, 1, 2]
    assert [e["seed"] for e in r["mcnemar"]["per_seed"]] == [0, 1, 2]
    trained, recipe = r["accuracy"]["trained_models"], r["accuracy"]["recipe"]
    assert trained["low"] <= trained["difference"] <= trained["high"]
    mean_diff = np.mean(
        result["variants"]["cnn_dropout"]["metrics"]["threshold_0.5"]["accuracy"]["values"]
    ) - np.mean(result["variants"]["cnn"]["metrics"]["threshold_0.5"]["accuracy"]["values"])
    assert trained["difference"] == pytest.approx(mean_diff) == recipe["difference"]
    assert recipe["low"] <= recipe["difference"] <= recipe["high"]
    assert recipe["n_seeds"] == {"baseline": 3, "variant": 3} and recipe["n_images"] == 80
    want = significance.verdict(
        recipe["difference"], recipe["low"], recipe["high"], "accuracy", "cnn", "cnn_dropout", LEVEL
    )
    assert r["verdict"] == want["verdict"] == r["accuracy"]["verdict"]
    assert r["verdict_text"] == want["text"] + " over 3 training runs of each and 80 test images"
    tm = significance.verdict(
        trained["difference"], trained["low"], trained["high"], confidence=LEVEL
    )
    assert r["accuracy"]["trained_models_verdict"] == tm["verdict"]
    assert r["train_seconds"]["ratio"] == pytest.approx(
        r["train_seconds"]["variant"]["mean"] / r["train_seconds"]["baseline"]["mean"]
    )


def test_shared_resamples_give_the_paired_bootstrap_of_each_scope(fake_study):
    """Every variant is drawn once on the study's image resamples (one set per metric
    group): the intervals per seed, of the seed mean, of the ensemble and the differences for
    these trained models equal the direct bootstraps on the same resamples."""
    from biomedclf.evaluate.run_results import load_predictions

    root, runs, _, result = fake_study
    probs = {
        v: np.stack([load_predictions(r.predictions).probs for r in runs if r.variant == v])
        for v in ("cnn", "cnn_dropout")
    }
    y = load_predictions(runs[0].predictions).labels
    seed = bootstrap.derive_seed(0, "images", "accuracy")
    kw = {"n_bootstrap": 300, "confidence": LEVEL, "seed": seed}
    r = result["comparisons"]["dropout"]["results"]["cnn_dropout"]["accuracy"]
    pooled = bootstrap.paired_bootstrap_diffs(y, probs["cnn"], probs["cnn_dropout"], **kw)
    got = r["trained_models"]
    assert (got["low"], got["high"]) == pytest.approx(
        (pooled["accuracy"]["low"], pooled["accuracy"]["high"])
    )
    one = bootstrap.paired_bootstrap_diffs(y, probs["cnn"][1], probs["cnn_dropout"][1], **kw)
    assert r["per_seed"][1]["low"] == pytest.approx(one["accuracy"]["low"])
    ens = bootstrap.paired_bootstrap_diffs(
        y, probs["cnn"].mean(axis=0), probs["cnn_dropout"].mean(axis=0), **kw
    )
    assert r["ensemble"]["high"] == pytest.approx(ens["accuracy"]["high"])
    boot = result["variants"]["cnn"]["bootstrap"]
    seed_mean = bootstrap.bootstrap_intervals(y, probs["cnn"], ["balanced_accuracy"], **kw)
    got = boot["seed_mean"]["balanced_accuracy"]
    assert (got["estimate"], got["low"], got["high"]) == pytest.approx(
        tuple(seed_mean["balanced_accuracy"][k] for k in ("estimate", "low", "high"))
    )
    auroc_seed = bootstrap.derive_seed(0, "images", "auroc")
    per_seed = bootstrap.bootstrap_intervals(
        y, probs["cnn"][2], ["auroc"], **{**kw, "seed": auroc_seed}
    )
    assert boot["per_seed"][2]["auroc"]["low"] == pytest.approx(per_seed["auroc"]["low"])


def test_clearly_better_variant_is_better(known_study):
    _, result = known_study
    r = result["comparisons"]["up"]["results"]["strong"]
    recipe = r["accuracy"]["recipe"]
    assert recipe["difference"] == pytest.approx(28 / 80)
    assert recipe["low"] > 0 and r["accuracy"]["trained_models"]["low"] > 0
    assert r["verdict"] == "better" and r["accuracy"]["verdict"] == "better"
    assert r["verdict_text"].startswith("strong is better than base in test accuracy: +35.0 pp")
    assert all(e["difference"] == pytest.approx(28 / 80) for e in r["accuracy"]["per_seed"])
    mc = r["mcnemar"]["ensemble"]
    assert (mc["baseline_only"], mc["variant_only"]) == (0, 28)
    assert mc["p_value"] == pytest.approx(2 * 0.5**28)
    assert r["train_seconds"]["ratio"] == pytest.approx(2.0)
    assert not any("wider" in w and "test accuracy" in w for w in r["warnings"])


def test_clearly_worse_variant_is_worse(known_study):
    _, result = known_study
    r = result["comparisons"]["down"]["results"]["base"]
    assert r["accuracy"]["recipe"]["difference"] == pytest.approx(-28 / 80)
    assert r["accuracy"]["recipe"]["high"] < 0
    assert r["verdict"] == "worse"


def test_identical_predictions_show_no_detectable_difference(known_study):
    _, result = known_study
    r = result["comparisons"]["up"]["results"]["twin"]
    for key in ("recipe", "trained_models"):
        d = r["accuracy"][key]
        assert (d["difference"], d["low"], d["high"], d["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    assert r["verdict"] == "no detectable difference"
    assert r["accuracy"]["recipe"]["seeds_needed"] is None
    assert r["mcnemar"]["ensemble"]["discordant"] == 0
    assert r["mcnemar"]["ensemble"]["p_value"] == 1.0
    assert all(m["p_value"] == 1.0 for m in r["mcnemar"]["per_seed"])


def test_study_statistics_is_deterministic(fake_study):
    _, runs, study, result = fake_study
    again = study_json(runs, study["comparisons"], n_bootstrap=300, seed=0)
    assert again == result
    other = study_json(runs, study["comparisons"], n_bootstrap=300, seed=1)
    assert other["variants"]["cnn"]["bootstrap"] != result["variants"]["cnn"]["bootstrap"]


def test_warnings_for_few_seeds_and_wide_interval(tmp_path):
    variants = {"a": ("conv", 0.75, 1.0), "b": ("conv", 0.76, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0], n_test=40, comparisons=comps)
    result = study_json(runs, comps, n_bootstrap=200)
    warnings = result["comparisons"]["ab"]["results"]["b"]["warnings"]
    assert any("1 seed" in w for w in warnings)
    assert any("wider" in w for w in warnings)
    assert result["variants"]["a"]["metrics"]["threshold_0.5"]["accuracy"]["sd"] is None
    assert result["warnings"] == [
        "variant a: 1 seed(s); use at least 3",
        "variant b: 1 seed(s); use at least 3",
    ]


def test_unpaired_seeds_are_left_out_with_a_warning(tmp_path):
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1, 2], n_test=30, comparisons=comps)
    runs = [r for r in runs if not (r.variant == "b" and r.seed == 2)]
    result = study_json(runs, comps, n_bootstrap=50)
    entry = result["comparisons"]["ab"]["results"]["b"]
    assert entry["seeds"] == [0, 1]
    assert any("seeds [2] ran for only one of a and b" in w for w in entry["warnings"])


def test_no_wide_interval_warning_for_a_clear_difference(tmp_path):
    variants = {"a": ("conv", 0.6, 1.0), "b": ("conv", 0.95, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(
        tmp_path, variants, seeds=[0, 1, 2], n_test=200, comparisons=comps, exact=True
    )
    result = study_json(runs, comps, n_bootstrap=300)
    entry = result["comparisons"]["ab"]["results"]["b"]
    assert entry["verdict"] == "better"
    assert not any("wider" in w and "accuracy" in w for w in entry["warnings"])


def test_pairs_by_path_and_names_files_when_test_sets_differ(tmp_path):
    variants = {"a": ("conv", 0.75, 1.0), "b": ("conv", 0.8, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1], n_test=30, comparisons=comps)
    before = study_json(runs, comps, n_bootstrap=100)
    # reversing the row order of one file changes nothing: rows pair by path
    f = runs[-1].predictions
    lines = f.read_text().splitlines()
    f.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    after = study_json(runs, comps, n_bootstrap=100)
    assert after["comparisons"] == before["comparisons"]
    # a different image set is an error naming both files
    lines = f.read_text().splitlines()
    lines[1] = lines[1].replace("img", "other", 1)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        study_json(runs, comps, n_bootstrap=100)
    assert str(f) in str(err.value) and str(runs[0].predictions) in str(err.value)


def test_missing_file_and_unknown_variant_are_named(tmp_path):
    variants = {"a": ("conv", 0.75, 1.0)}
    runs, _ = make_study(tmp_path, variants, seeds=[0], n_test=20, comparisons={})
    with pytest.raises(ValueError, match="comparisons.x"):
        study_json(runs, {"x": {"baseline": "a", "variants": ["zzz"]}}, n_bootstrap=50)
    with pytest.raises(ValueError, match="statistics.n_bootstrap 0"):
        study_json(runs, {}, n_bootstrap=0)
    runs[0].history.unlink()
    with pytest.raises(FileNotFoundError, match="history.csv"):
        study_json(runs, {}, n_bootstrap=50)


@pytest.mark.parametrize(
    "section, problem",
    [
        ({"primary": None}, "missing statistics.primary"),
        ({"n_bootstraps": 100}, "unknown statistics.n_bootstraps"),
        ({"confidence": 1.0}, "statistics.confidence: confidence 1.0"),
        ({"calibration_bins": 0}, "statistics.calibration_bins 0"),
        ({"primary": "f1"}, "statistics.primary: 'f1'"),
    ],
)
def test_the_statistics_section_is_taken_as_validated(section, problem):
    """No defaults of its own: a key missing from the section (or unknown, or unusable) is
    an error naming it."""
    config = {k: v for k, v in statistics_section(**section).items() if v is not None}
    with pytest.raises(ValueError, match=problem):
        StatisticsSettings.from_config(config)


def test_write_study_statistics_writes_the_records_the_reader_reads(fake_study, tmp_path):
    _, runs, study_, result = fake_study
    settings = statistics_section(n_bootstrap=300, seed=0)
    records = study.study_statistics(runs, study_["comparisons"], settings, "test")
    assert isinstance(records, StudyStats) and to_json(records) == result
    path = tmp_path / "out" / "stats.json"
    study.write_study_statistics(path, runs, study_["comparisons"], settings, "test")
    assert json.loads(path.read_text()) == result
    assert dataclasses.replace(read_stats(path), source=None) == records


# ---- more than two classes ------------------------------------------------------------------


def _class_probs(seed: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and tied class probabilities (rounded to 1-2 decimals)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits)
    return y, np.round(p / p.sum(axis=1, keepdims=True), 1 + seed % 2)


def _resampled_sklearn(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """accuracy, balanced accuracy and (macro) AUROC by scikit-learn on the resampled images."""
    from sklearn.metrics import balanced_accuracy_score

    from biomedclf.evaluate.multiclass import predict_classes

    idx = np.repeat(np.arange(y.size), w)
    yr, pr = y[idx], p[idx]
    pred = predict_classes(pr)
    k = p.shape[1]
    if k == 2:
        auroc = roc_auc_score(yr, pr[:, 1]) if np.unique(yr).size == 2 else np.nan
    else:
        present = [c for c in range(k) if 0 < np.sum(y == c) < y.size]
        drawn = all(0 < np.sum(yr == c) < yr.size for c in present)
        auroc = np.mean([roc_auc_score(yr == c, pr[:, c]) for c in present]) if drawn else np.nan
    return {
        "accuracy": accuracy_score(yr, pred),
        "balanced_accuracy": balanced_accuracy_score(yr, pred),
        "auroc": auroc,
    }


@pytest.mark.parametrize("k", [2, 3, 9])
def test_resampled_metrics_match_sklearn_on_the_resampled_images(k):
    """Every resample's accuracy, balanced accuracy and (macro one-vs-rest) AUROC equal
    scikit-learn's on the images that resample draws, ties in the scores included."""
    from biomedclf.stats.resampled import ResampledScores

    y, p = _class_probs(k, k, 20 * k)
    weights = next(iter(bootstrap.bootstrap_weights(y.size, 40, seed=k)))
    scores = ResampledScores(y, p)
    got = {m: scores.statistic(m, weights) for m in ("accuracy", "balanced_accuracy", "auroc")}
    for b, w in enumerate(weights):
        want = _resampled_sklearn(y, p, w)
        for m, value in want.items():
            if np.isnan(value):
                assert np.isnan(got[m][0, b]), (m, b)
            else:
                assert got[m][0, b] == pytest.approx(value, rel=1e-12, abs=1e-12), (m, b)


def test_macro_auroc_is_undefined_in_a_resample_without_a_class():
    from biomedclf.stats.resampled import ResampledScores

    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.eye(3)[y] * 0.7 + 0.1
    w = np.array([[2, 2, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])  # resample 0 lacks class 2
    auc = ResampledScores(y, p).statistic("auroc", w)[0]
    assert np.isnan(auc[0]) and auc[1] == 1.0
    ci = bootstrap.bootstrap_intervals(y, p, ["auroc"], confidence=LEVEL, n_bootstrap=200, seed=0)[
        "auroc"
    ]
    assert 0 < ci["n_valid"] < 200 and ci["estimate"] == 1.0


def test_bootstrap_intervals_estimates_are_the_metrics_json_values():
    from biomedclf.evaluate.multiclass import multiclass_metrics

    y, p = _class_probs(4, 5, 150)
    rows = np.stack([p, np.roll(p, 1, axis=1)])
    cis = bootstrap.bootstrap_intervals(y, rows, confidence=LEVEL, n_bootstrap=100, seed=3)
    per_seed = [multiclass_metrics(y, r, None, False) for r in rows]
    for key, m in (
        ("accuracy", "accuracy"),
        ("balanced_accuracy", "balanced_accuracy"),
        ("auroc", "macro_auroc"),
    ):
        assert cis[key]["estimate"] == pytest.approx(np.mean([s[m] for s in per_seed]))
        assert cis[key]["low"] <= cis[key]["high"]
    d = bootstrap.paired_bootstrap_diffs(
        y, rows[0], rows[1], confidence=LEVEL, n_bootstrap=100, seed=3
    )
    assert d["accuracy"]["difference"] == pytest.approx(
        per_seed[1]["accuracy"] - per_seed[0]["accuracy"]
    )
    same = bootstrap.paired_bootstrap_diffs(
        y, rows[0], rows[0], confidence=LEVEL, n_bootstrap=50, seed=3
    )
    assert all((v["difference"], v["low"], v["high"]) == (0.0, 0.0, 0.0) for v in same.values())


@pytest.fixture(scope="module", params=[3, 11])
def k_study(request, tmp_path_factory):
    k = request.param
    root = tmp_path_factory.mktemp(f"k{k}")
    variants = {**KNOWN_VARIANTS, "noisy": ("linear", 0.7, 0.5)}
    comps = {**KNOWN_COMPARISONS, "noise": {"baseline": "noisy", "variants": ["base"]}}
    runs, study = make_study(
        root,
        variants,
        seeds=[0, 1, 2],
        n_test=10 * k,
        comparisons=comps,
        exact=True,
        n_classes=k,
        ordinal=k == 3,
    )
    return k, runs, study, study_json(runs, comps, n_bootstrap=200, seed=0)


def test_k_class_study_structure(k_study):
    from biomedclf.evaluate.multiclass import MULTICLASS_KEYS, multiclass_metrics
    from biomedclf.evaluate.run_results import load_predictions

    k, runs, study, result = k_study
    json.dumps(result, allow_nan=False)
    names = study["data_summary"]["class_names"]
    assert (result["n_classes"], result["class_names"]) == (k, names)
    assert result["class_counts"] == [10] * k and result["n_positive"] is None
    assert result["ordinal"] is (k == 3)
    assert result["kappa_weights"] == ("quadratic" if k == 3 else "none")
    assert result["settings"]["auroc"].startswith("macro AUROC")
    v = result["variants"]["noisy"]
    assert set(v["metrics"]) == {"multiclass"} and v["ensemble"] is None
    assert set(v["metrics"]["multiclass"]) == set(MULTICLASS_KEYS)
    assert [c["class"] for c in v["per_class"]] == names
    assert all(c["support"] == 10 for c in v["per_class"])
    preds = [load_predictions(r.predictions) for r in runs if r.variant == "noisy"]
    mean_p = np.mean([p.probs for p in preds], axis=0)
    want = multiclass_metrics(preds[0].labels, mean_p, names, k == 3)
    assert v["ensemble_multiclass"] == want
    assert v["bootstrap"]["ensemble"]["auroc"]["estimate"] == pytest.approx(want["macro_auroc"])
    accs = [multiclass_metrics(p.labels, p.probs, None, False)["accuracy"] for p in preds]
    assert v["metrics"]["multiclass"]["accuracy"]["values"] == accs
    assert v["bootstrap"]["seed_mean"]["accuracy"]["estimate"] == pytest.approx(np.mean(accs))
    cal = v["calibration"]
    assert cal["kind"] == "top-label confidence"
    assert sum(b["count"] for b in cal["bins"]) == 3 * 10 * k
    assert cal["ece_per_seed"]["values"] == pytest.approx(
        [multiclass_metrics(p.labels, p.probs, None, False)["ece"] for p in preds]
    )


def test_k_class_verdicts_and_mcnemar_on_the_predicted_class(k_study):
    k, _, _, result = k_study
    n = 10 * k
    r = result["comparisons"]["up"]["results"]["strong"]
    assert r["accuracy"]["recipe"]["difference"] == pytest.approx(round(0.95 * n) / n - 0.6)
    assert r["verdict"] == "better" and r["accuracy"]["recipe"]["low"] > 0
    assert r["auroc"]["recipe"]["components"]["method"] == "bootstrap moments"
    assert r["accuracy"]["recipe"]["components"]["method"] == "anova"
    assert r["balanced_accuracy"]["verdict"] in VERDICTS
    assert "macro AUROC" in r["auroc"]["verdict_text"]
    mc = r["mcnemar"]["ensemble"]
    assert (mc["baseline_only"], mc["variant_only"]) == (0, round(0.95 * n) - round(0.6 * n))
    twin = result["comparisons"]["up"]["results"]["twin"]
    assert twin["verdict"] == "no detectable difference"
    assert twin["mcnemar"]["ensemble"]["discordant"] == 0
    assert result["comparisons"]["down"]["results"]["base"]["verdict"] == "worse"


def test_runs_evaluated_with_another_ordinal_setting_are_refused(tmp_path):
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 1.0)}
    runs, _ = make_study(tmp_path, variants, seeds=[0], n_test=30, comparisons={}, n_classes=3)
    m = json.loads(runs[1].metrics.read_text())
    m["ordinal"] = True
    runs[1].metrics.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="different data.ordinal"):
        study_json(runs, {}, n_bootstrap=20)


def test_predictions_of_the_old_format_are_refused(tmp_path):
    runs, _ = make_study(tmp_path, {"a": ("conv", 0.7, 1.0)}, seeds=[0], n_test=10, comparisons={})
    runs[0].predictions.write_text("path,label,probability\na.png,1,0.7\n")
    with pytest.raises(ValueError, match=r"predictions\.csv: columns .*rerun the evaluation"):
        study_json(runs, {}, n_bootstrap=20)


def test_out_of_fold_statistics_say_so_in_their_verdicts_and_warnings(fake_study):
    _, runs, study, test_result = fake_study
    result = study_json(
        runs, study["comparisons"], n_bootstrap=300, seed=0, evaluated_on="out-of-fold"
    )
    assert result["evaluated_on"] == "out-of-fold" and test_result["evaluated_on"] == "test"
    for name, comp in result["comparisons"].items():
        for v, res in comp["results"].items():
            before = test_result["comparisons"][name]["results"][v]
            texts = [res["verdict_text"], res["accuracy"]["verdict_text"], *res["warnings"]]
            assert not any("test accuracy" in t or "the test images" in t for t in texts)
            for key in ("recipe", "trained_models"):  # same numbers
                assert res["accuracy"][key] == before["accuracy"][key]
            if "test accuracy" in before["verdict_text"]:
                assert "out-of-fold accuracy" in res["verdict_text"]


# ---- recipe-level verdicts: training runs and test images ------------------------------------


@pytest.fixture(scope="module")
def disagreeing(tmp_path_factory):
    """The seed-disagreement study of issue 27 (147 test images, 3 seeds), as records."""
    root = tmp_path_factory.mktemp("disagree")
    runs, spec = seed_disagreement_study(root)
    settings = statistics_section(n_bootstrap=1000, seed=0)
    return study.study_statistics(runs, spec["comparisons"], settings, "test")


def first_k(counts: list[int], n: int = 147) -> np.ndarray:
    """Per-image correctness (runs, images) of runs right on their first ``k`` images."""
    return (np.arange(n)[None] < np.array(counts)[:, None]).astype(float)


def test_a_verdict_follows_the_recipe_interval_when_the_seeds_disagree(disagreeing):
    """cnn_l2 is behind cnn on seeds 0 and 2 and ahead on seed 1: for these trained models
    the images-only interval lies below zero (worse), but the recipe-level interval, which
    counts the seeds' spread, holds zero: no detectable difference."""
    r = disagreeing.result("l2", "cnn_l2")
    acc = r.accuracy
    assert [e.difference for e in acc.per_seed] == pytest.approx([-9 / 147, 10 / 147, -8 / 147])
    assert acc.recipe.difference == pytest.approx(-7 / 441) == acc.trained_models.difference
    assert acc.trained_models.high < 0 and acc.trained_models_verdict == "worse"
    assert acc.recipe.low < 0 < acc.recipe.high and acc.recipe.p_value > 0.05
    assert r.verdict == acc.verdict == "no detectable difference"
    assert r.verdict_text.endswith("over 3 training runs of each and 147 test images")
    assert acc.recipe.seeds_disagree and acc.recipe.few_seeds
    assert r.notes == [
        "3 training runs of each (fewer than 5): the training variance is poorly known, so the "
        f"recipe-level interval is wide (a t on {acc.recipe.df:.1f} degrees of freedom)",
        "the seeds disagree in sign: cnn_l2 is ahead of cnn on seed 1 (+6.8 pp) and behind on "
        "seeds 0 (-6.1 pp) and 2 (-5.4 pp)",
        "the per-seed McNemar tests are significant in opposite directions: cnn_l2 is better "
        "on seed 1 (p = 0.00195), cnn on seeds 0 (p = 0.00391) and 2 (p = 0.00781)",
    ]


def test_every_seed_ahead_is_not_yet_a_better_recipe(disagreeing):
    """cnn_dropout is ahead of cnn on all three seeds (+4.8, +15.0, +0.7 pp): these trained
    models are better, the recipe is undecided, and the seeds do not disagree in sign."""
    r = disagreeing.result("dropout", "cnn_dropout")
    acc = r.accuracy
    assert acc.trained_models.low > 0 and acc.trained_models_verdict == "better"
    assert acc.recipe.low < 0 < acc.recipe.high and r.verdict == "no detectable difference"
    assert not acc.recipe.seeds_disagree and len(r.notes) == 1 and "poorly known" in r.notes[0]


def test_recipe_components_and_seeds_needed_are_those_of_the_runs(disagreeing):
    """The accuracy's variance components are the exact ANOVA ones of the runs' per-image
    correctness, the standard error follows from them, and the seeds needed are the power
    calculation's on them."""
    from biomedclf.stats.recipe_variance import anova_components, seeds_needed

    recipe = disagreeing.result("l2", "cnn_l2").accuracy.recipe
    c = anova_components(first_k([106, 97, 109]), first_k([97, 107, 101]))
    assert recipe.components.method == "anova"
    assert recipe.components.run_variance.baseline == pytest.approx(c.run_variance[0])
    assert recipe.components.image_variance == pytest.approx(c.image_variance)
    assert recipe.se == pytest.approx(np.sqrt(c.variance()))
    want = seeds_needed(c, recipe.difference, confidence=0.95, power=0.8)
    assert recipe.seeds_needed == want and want > 3
    assert recipe.seeds_needed_note.startswith(f"about {want} seeds per recipe would detect")


def test_five_seeds_leave_no_few_seeds_note_and_one_seed_no_recipe_verdict(tmp_path):
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 1.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, _ = make_study(tmp_path, variants, seeds=[0, 1, 2, 3, 4], n_test=40, comparisons=comps)
    five = study_json(runs, comps, n_bootstrap=200)["comparisons"]["ab"]["results"]["b"]
    assert five["accuracy"]["recipe"]["few_seeds"] is False
    assert not any("poorly known" in n for n in five["notes"])
    assert five["accuracy"]["recipe"]["n_seeds"] == {"baseline": 5, "variant": 5}
    one = study_json([r for r in runs if r.seed == 0], comps, n_bootstrap=200)
    res = one["comparisons"]["ab"]["results"]["b"]
    assert res["verdict"] == "undetermined" and res["accuracy"]["recipe"]["low"] is None
    assert "no recipe-level verdict on test accuracy" in res["verdict_text"]
    assert res["accuracy"]["trained_models"]["low"] is not None
    assert one["ranking"]["versus"][0]["p_holm"] is None
    assert not one["ranking"]["versus"][0]["lead_is_real"]
