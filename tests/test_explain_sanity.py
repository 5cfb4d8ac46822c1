"""The sanity check's numbers: Spearman's rank correlation against scipy, the conventions for
constant maps, and the record sanity.json holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from biomedclf.explain import sanity as es


@pytest.mark.parametrize("seed", range(5))
def test_spearman_matches_scipy_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((12, 12))
    b = a + rng.normal(0, 0.3, a.shape)
    # ties: rounded values and a block of zeros, as Grad-CAM's ReLU leaves them
    c = np.round(np.maximum(b - 0.4, 0), 1)
    for x, y in ((a, b), (a, c), (c, np.round(a, 1))):
        expected = stats.spearmanr(x.ravel(), y.ravel()).statistic
        assert es.spearman(x, y) == pytest.approx(expected, abs=1e-12)


def test_average_ranks_match_scipy():
    x = np.array([3.0, 1.0, 3.0, 0.0, 3.0, 1.0])
    assert np.array_equal(es.average_ranks(x), stats.rankdata(x))


def test_constant_maps_follow_the_documented_conventions():
    trained = np.stack([np.arange(16.0).reshape(4, 4), np.zeros((4, 4)), np.eye(4)])
    randomised = np.stack([np.zeros((4, 4)), np.ones((4, 4)), np.eye(4)])
    rho = es.map_correlations(trained, randomised)
    assert rho[0] == 0.0  # a flat randomised map kept nothing of the trained one
    assert math.isnan(rho[1])  # a flat trained map has nothing to keep: left out
    assert rho[2] == pytest.approx(1.0)
    assert math.isnan(es.spearman(np.zeros(5), np.arange(5.0)))  # as scipy: nan
    assert es.describe(rho) == {"mean": 0.5, "median": 0.5, "min": 0.0, "max": 1.0, "n": 2}


def test_record_flags_maps_at_or_above_the_threshold():
    head = {"variant": "cnn", "seed": 0, "method": "grad_cam", "layer": "features.6", "n_images": 3}
    steps = [["fc2"], ["fc1"], ["features.6", "features.7"]]
    high = [np.array([0.9, 0.8, 0.7])] * 3
    rec = es.sanity_record(head, steps, high)
    assert rec["format"] == es.SANITY_FORMAT and rec["threshold"] == es.SURVIVAL_THRESHOLD
    assert rec["survives"] is True and rec["spearman"]["mean"] == pytest.approx(0.8)
    assert [s["layers"] for s in rec["cascade"]] == steps
    assert [s["step"] for s in rec["cascade"]] == [1, 2, 3]
    assert rec["verdict"].startswith("⚠ survives randomisation")
    low = es.sanity_record(head, steps, [np.array([0.1, -0.2, np.nan])] * 3)
    assert low["survives"] is False and low["spearman"]["n"] == 2
    assert low["verdict"].startswith("passes")
    none = es.sanity_record(head, steps, [np.array([np.nan])] * 3)
    assert none["survives"] is None and none["verdict"].startswith("undetermined")
    assert es.survives(es.SURVIVAL_THRESHOLD) is True
    assert es.survives(es.SURVIVAL_THRESHOLD - 1e-9) is False
