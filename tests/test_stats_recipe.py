"""Recipe-level differences over seeds and test images (biomedclf.stats.recipe*).

The calibration tests simulate studies with known variance components (no training): per
recipe, per-image correctness is Bernoulli with a logit of recipe mean + seed effect + image
effect (+ a variant-only image effect), seeds crossed with images. The true recipe difference is
the expected accuracy over seeds and images, computed by Gauss-Hermite quadrature. 1,000
studies share one matrix of image resamples, so their draws come from one matrix product.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from biomedclf.evaluate.metrics import auroc
from biomedclf.stats.bootstrap import bootstrap_weights, derive_seed, paired_bootstrap_diffs
from biomedclf.stats.recipe import (
    calibrated_draws,
    pigeonhole_draws,
    recipe_difference,
    recipe_difference_metric,
    recipe_difference_scores,
)
from biomedclf.stats.recipe_draws import RunDraws, metric_draws, score_draws
from biomedclf.stats.recipe_variance import (
    VarianceComponents,
    anova_components,
    detection_power,
    moment_components,
    seeds_needed,
)

STUDIES = 1000
IMAGES = 150
RESAMPLES = 1000
SEED_SD, IMAGE_SD, VARIANT_IMAGE_SD = 0.3, 1.5, 0.5  # on the logit scale
SETTINGS = {"n_bootstrap": 300, "confidence": 0.95, "seed": 4}
LEVEL = {"confidence": 0.95, "power": 0.8}


def expected_accuracy(mean: float, sd: float) -> float:
    """E[expit(mean + sd Z)], Z standard normal (Gauss-Hermite, 80 nodes)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float(np.sum(weights * expit(mean + sd * nodes)) / math.sqrt(2 * math.pi))


def simulate(rng, shape: tuple[int, int, int], mean: float, seed_sd: float, images, own_sd: float):
    """Per-image correctness (studies, seeds, images) of one recipe; ``images`` are the image
    effects shared by both recipes, ``own_sd`` the spread of this recipe's own ones."""
    studies, seeds, n = shape
    runs = rng.normal(0, seed_sd, (studies, seeds, 1))
    own = rng.normal(0, own_sd, (studies, 1, n)) if own_sd else 0.0
    p = expit(mean + runs + images + own)
    return (rng.random(p.shape) < p).astype(np.float64)


def simulated_draws(seeds: int, means: tuple[float, float], seed_sd: float, own_sd: float, studies):
    """(baseline, variant) RunDraws of each simulated study; the variant has its own image
    effects of spread ``own_sd``. The studies share one matrix of image resamples."""
    rng = np.random.default_rng(derive_seed(7, "simulation", seeds, *means, seed_sd, own_sd))
    images = rng.normal(0, IMAGE_SD, (studies, 1, IMAGES))
    shape = (studies, seeds, IMAGES)
    tables = [
        simulate(rng, shape, means[0], seed_sd, images, 0.0),
        simulate(rng, shape, means[1], seed_sd, images, own_sd),
    ]
    weights = np.concatenate(list(bootstrap_weights(IMAGES, RESAMPLES, 11))).astype(np.float64)
    # (studies, seeds, resamples), as one matrix product
    draws = [(t.reshape(-1, IMAGES) @ weights.T / IMAGES).reshape(*t.shape[:2], -1) for t in tables]
    for r in range(studies):
        yield tuple(
            RunDraws(t[r].mean(axis=1), d[r], IMAGES, 11, t[r]) for t, d in zip(tables, draws)
        )


def true_difference(means: tuple[float, float], seed_sd: float, own_sd: float) -> float:
    """Expected accuracy of the variant minus the baseline over runs and images."""
    base = expected_accuracy(means[0], math.hypot(seed_sd, IMAGE_SD))
    return expected_accuracy(means[1], math.hypot(seed_sd, IMAGE_SD, own_sd)) - base


def simulated_results(seeds: int, means: tuple[float, float], own_sd: float) -> list[dict]:
    """recipe_difference of each of 1,000 simulated studies."""
    pairs = simulated_draws(seeds, means, SEED_SD, own_sd, STUDIES)
    return [recipe_difference(b, v, confidence=0.95, seed=r) for r, (b, v) in enumerate(pairs)]


def covered(results: list[dict], key: str, truth: float) -> float:
    """Share of studies whose ``key`` interval holds ``truth``."""
    return float(np.mean([r[key]["low"] <= truth <= r[key]["high"] for r in results]))


@pytest.mark.parametrize("seeds", [3, 5])
def test_recipe_interval_covers_the_true_recipe_difference_and_images_only_does_not(
    seeds: int,
) -> None:
    """95% recipe intervals hold the true difference in 93-97% of studies; the images-only
    interval (seeds held fixed) falls far short: it ignores the training noise."""
    truth = true_difference((1.4, 1.7), SEED_SD, VARIANT_IMAGE_SD)
    results = simulated_results(seeds, (1.4, 1.7), VARIANT_IMAGE_SD)
    recipe, images_only = (
        covered(results, "recipe", truth),
        covered(results, "trained_models", truth),
    )
    print(f"coverage: recipe {recipe:.3f}, images only {images_only:.3f}")
    assert 0.93 <= recipe <= 0.97
    assert images_only < 0.85


@pytest.mark.parametrize("seeds", [3, 5])
def test_identical_recipes_are_rarely_called_different(seeds: int) -> None:
    """Two identical recipes: the recipe p-value is below 0.05 in at most about 5% of studies
    (when the interval excludes 0, up to
    the draws' resolution); the images-only test, blind to the training
    noise, calls them different far more often."""
    results = simulated_results(seeds, (1.4, 1.4), 0.0)
    p = np.array([r["recipe"]["p_value"] for r in results])
    excludes = np.array([r["recipe"]["low"] > 0 or r["recipe"]["high"] < 0 for r in results])
    images_only = np.mean([r["trained_models"]["p_value"] < 0.05 for r in results])
    print(f"called different: recipe {np.mean(p < 0.05):.3f}, images only {images_only:.3f}")
    assert np.mean(p < 0.05) <= 0.06
    disagree = (p < 0.05) != excludes
    assert np.all(np.abs(p[disagree] - 0.05) <= 2 / RESAMPLES)
    assert images_only > 0.15


@pytest.mark.parametrize(("seeds", "seed_sd"), [(5, 0.0), (3, 0.8)])
def test_the_uncalibrated_pigeonhole_interval_misses_the_level_both_ways(
    seeds: int, seed_sd: float
) -> None:
    """Why the pigeonhole draws are rescaled: as they are, their 95% percentile interval
    over-covers without seed variance (it counts the image-by-run noise about three times) and
    under-covers with strong seed variance and 3 seeds (too few runs for a normal interval);
    the rescaled draws keep the level."""
    means = (1.4, 1.7)
    truth = true_difference(means, seed_sd, VARIANT_IMAGE_SD)
    raw, calibrated = [], []
    for r, (b, v) in enumerate(simulated_draws(seeds, means, seed_sd, VARIANT_IMAGE_SD, STUDIES)):
        low, high = np.quantile(pigeonhole_draws(b, v, r), [0.025, 0.975])
        raw.append(low <= truth <= high)
        result = recipe_difference(b, v, confidence=0.95, seed=r)["recipe"]
        calibrated.append(result["low"] <= truth <= result["high"])
    print(f"coverage: pigeonhole {np.mean(raw):.3f}, calibrated {np.mean(calibrated):.3f}")
    assert (np.mean(raw) > 0.98) if seed_sd == 0 else (np.mean(raw) < 0.9)
    assert 0.93 <= np.mean(calibrated) <= 0.97


def crossed_table(rng, seeds: int, images: int, mean: float, image_effects, seed_sd: float):
    """A Gaussian (seeds, images) table: mean + seed + shared image + own image + noise."""
    own = rng.normal(0, 0.4, images)
    return (
        mean
        + rng.normal(0, seed_sd, (seeds, 1))
        + image_effects
        + own
        + rng.normal(0, 0.7, (seeds, images))
    )


def test_anova_components_match_statsmodels_reml_on_a_crossed_design() -> None:
    """On balanced Gaussian tables, REML of the crossed mixed model (statsmodels MixedLM with
    seed-within-recipe, image and image-by-recipe variance components) gives the same seed
    variances, image-by-recipe variance and standard error of the recipe difference."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    rng = np.random.default_rng(3)
    seeds, images = 5, 25
    shared = rng.normal(0, 1.0, images)
    base = crossed_table(rng, seeds, images, 1.0, shared, 0.6)
    var = crossed_table(rng, seeds, images, 1.3, shared, 0.6)
    c = anova_components(base, var)

    y = np.concatenate([base.ravel(), var.ravel()])
    recipe = np.repeat([0.0, 1.0], seeds * images)
    run = np.eye(seeds)[np.tile(np.repeat(np.arange(seeds), images), 2)]
    image = np.eye(images)[np.tile(np.arange(images), 2 * seeds)]
    mats = [run * (recipe == 0)[:, None], run * (recipe == 1)[:, None], image]
    mats.append(np.hstack([image * (recipe == 0)[:, None], image * (recipe == 1)[:, None]]))
    names = ["seed_b", "seed_v", "image", "image_recipe"]
    vcs = VCSpec(names, [["x"]] * 4, [[m] for m in mats])
    exog = np.column_stack([np.ones_like(y), recipe])
    fit = MixedLM(y, exog, groups=np.zeros_like(y), exog_vc=vcs).fit(reml=True)
    seed_b, seed_v, _, image_recipe = fit.vcomp

    assert c.seed_variance == pytest.approx((seed_b, seed_v), rel=0.03)
    assert c.image_variance * images / 2 == pytest.approx(image_recipe, rel=0.01)
    assert math.sqrt(c.variance()) == pytest.approx(fit.bse[1], rel=0.01)
    assert c.run_variance[0] == pytest.approx(base.mean(axis=1).var(ddof=1))


def test_bootstrap_moments_agree_with_anova_for_a_mean() -> None:
    """For per-image correctness, the components from image resamples (any metric) agree with
    the exact ANOVA ones (per-image tables)."""
    rng = np.random.default_rng(5)
    shared = rng.normal(0, 1.5, 120)
    tables = [
        (rng.random((4, 120)) < expit(m + rng.normal(0, 0.3, (4, 1)) + shared)).astype(float)
        for m in (1.0, 1.4)
    ]
    base, var = score_draws(tables, n_bootstrap=20000, image_seed=1)
    exact = anova_components(*tables)
    moments = moment_components(base.full, var.full, base.draws, var.draws, 120)
    assert moments.run_variance == exact.run_variance
    np.testing.assert_allclose(moments.interaction, exact.interaction, rtol=0.05)
    assert moments.variance() == pytest.approx(exact.variance(), rel=0.05)


def test_seeds_needed_is_the_two_sample_t_test_sample_size() -> None:
    """Without test-image noise and with equal run variances, the seeds needed are the sample
    size of the two-sample t test (statsmodels' power solver)."""
    from statsmodels.stats.power import TTestIndPower

    c = VarianceComponents((3, 3), 150, (0.06**2, 0.06**2), (0.0, 0.0), 0.0, "anova")
    solver = TTestIndPower()
    for difference in (0.05, 0.1, -0.03):
        want = solver.solve_power(effect_size=abs(difference) / 0.06, alpha=0.05, power=0.8)
        assert seeds_needed(c, difference, confidence=0.95, power=0.8) == math.ceil(want)
    power = solver.power(effect_size=0.05 / 0.06, nobs1=12, alpha=0.05)
    assert detection_power(c, 0.05, 12, confidence=0.95)[0] == pytest.approx(power, rel=1e-6)


def test_seeds_needed_by_hand_and_when_none_would_tell() -> None:
    """Large run variance: close to the normal approximation ``2 tau2 (z + z_power)^2 / d^2``;
    no difference, or test-image noise larger than the difference allows: None."""
    z = 1.959964 + 0.841621
    c = VarianceComponents((3, 3), 5000, (0.002, 0.002), (0.0, 0.0), 0.0, "anova")
    normal = 2 * 0.002 * z**2 / 0.02**2
    assert normal <= seeds_needed(c, 0.02, **LEVEL) <= normal + 3
    assert seeds_needed(c, 0.0, **LEVEL) is None
    noisy = VarianceComponents((3, 3), 100, (1e-4, 1e-4), (0.0, 0.0), 0.02**2, "anova")
    assert seeds_needed(noisy, 0.05, **LEVEL) is None  # (0.05 / z)^2 < 0.02^2: images hide it
    assert seeds_needed(noisy, 0.2, **LEVEL) == 2


def runs_table(per_seed_correct: list[int], images: int = 100) -> np.ndarray:
    """Correctness of seeds that get the first k images right."""
    return np.array([[1.0] * k + [0.0] * (images - k) for k in per_seed_correct])


def test_per_seed_differences_signs_and_notes() -> None:
    base = runs_table([70, 75, 72])
    var = runs_table([80, 70, 71])
    r = recipe_difference_scores(base, var, **SETTINGS, keys=("c", "b", "v"))
    assert r["difference"] == pytest.approx((221 - 217) / 300)
    assert [d["difference"] for d in r["per_seed"]] == pytest.approx([0.10, -0.05, -0.01])
    assert r["seeds_disagree"] and r["few_seeds"]
    assert any("disagree in sign" in n and "[0]" in n and "[1, 2]" in n for n in r["notes"])
    assert any("3 training runs per recipe" in n for n in r["notes"])
    assert r["n_seeds"] == {"baseline": 3, "variant": 3} and r["n_images"] == 100
    assert r["recipe"]["low"] < r["difference"] < r["recipe"]["high"]
    assert r["components"]["method"] == "anova"
    again = recipe_difference_scores(base, var, **SETTINGS, keys=("c", "b", "v"))
    assert again == r


def test_one_run_has_no_recipe_interval_but_keeps_the_images_only_one() -> None:
    r = recipe_difference_scores(runs_table([70]), runs_table([80, 82]), **SETTINGS)
    assert r["recipe"]["low"] is None and r["components"] is None and r["seeds_needed"] is None
    assert r["trained_models"]["low"] is not None
    assert "cannot be estimated" in r["notes"][0]


def test_identical_recipes_and_mismatched_resamples() -> None:
    base = runs_table([70, 75, 72, 71, 74, 73])
    r = recipe_difference_scores(base, base, **SETTINGS)
    assert r["difference"] == 0 and r["recipe"]["p_value"] == 1.0 and r["seeds_needed"] is None
    assert not r["few_seeds"] and "no difference observed" in r["seeds_needed_note"]
    (a,) = score_draws([base], n_bootstrap=100, image_seed=1)
    (b,) = score_draws([base], n_bootstrap=100, image_seed=2)
    with pytest.raises(ValueError, match="image_seed"):
        recipe_difference(a, b, confidence=0.95, seed=0)
    with pytest.raises(ValueError, match="one seed per run"):
        recipe_difference(a, a, confidence=0.95, seed=0, baseline_seeds=[0, 1])


def test_pigeonhole_with_one_run_each_is_the_images_only_bootstrap() -> None:
    tables = [runs_table([70]), runs_table([80])]
    base, var = score_draws(tables, n_bootstrap=200, image_seed=3)
    np.testing.assert_allclose(pigeonhole_draws(base, var, 0), var.draws[0] - base.draws[0])


def test_calibration_keeps_draws_whose_spread_is_already_right() -> None:
    draws = np.random.default_rng(0).normal(0.1, 0.02, 500)
    sd = draws.std(ddof=1)
    np.testing.assert_allclose(calibrated_draws(draws, 0.1, sd, np.inf, 0.95), draws)
    wider = calibrated_draws(draws, 0.1, sd, 4.0, 0.95)
    assert np.std(wider) / np.std(draws) == pytest.approx(2.776445 / 1.959964, rel=1e-5)


def three_class_runs(rng, runs: int, labels: np.ndarray, signal: float) -> np.ndarray:
    """Probabilities (runs, n, 3) leaning towards the label by ``signal``."""
    logits = rng.normal(0, 1, (runs, labels.size, 3)) + signal * np.eye(3)[labels]
    e = np.exp(logits)
    return e / e.sum(axis=2, keepdims=True)


def test_macro_auroc_recipe_difference_and_its_images_only_interval() -> None:
    """AUROC goes through the bootstrap-moment components; the images-only interval is the
    pooled paired bootstrap of stats.bootstrap on the same resamples."""
    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(3), 40)
    bp, vp = three_class_runs(rng, 3, labels, 1.0), three_class_runs(rng, 3, labels, 1.4)
    r = recipe_difference_metric(labels, bp, vp, "auroc", **SETTINGS, keys=("x",))

    def macro(p: np.ndarray) -> float:
        return float(np.mean([auroc(labels == k, p[:, k]) for k in range(3)]))

    want = np.mean([macro(p) for p in vp]) - np.mean([macro(p) for p in bp])
    assert r["difference"] == pytest.approx(want)
    assert r["components"]["method"] == "bootstrap moments"
    image_seed = derive_seed(SETTINGS["seed"], "x", "images")
    pooled = paired_bootstrap_diffs(
        labels, bp, vp, ["auroc"], n_bootstrap=300, confidence=0.95, seed=image_seed
    )["auroc"]
    assert (r["trained_models"]["low"], r["trained_models"]["high"]) == pytest.approx(
        (pooled["low"], pooled["high"])
    )


def test_a_metric_function_gives_the_vectorised_metric() -> None:
    """A plain function of (labels, probabilities) is resampled like the vectorised metric."""
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 3, 60)
    probs = three_class_runs(rng, 2, labels, 1.0)

    def balanced_accuracy(y: np.ndarray, p: np.ndarray) -> float:
        called = p.argmax(axis=1)
        return float(np.mean([np.mean(called[y == k] == k) for k in np.unique(y)]))

    (fn,) = metric_draws(labels, [probs], balanced_accuracy, n_bootstrap=40, image_seed=5)
    (vec,) = metric_draws(labels, [probs], "balanced_accuracy", n_bootstrap=40, image_seed=5)
    np.testing.assert_allclose(fn.full, vec.full)
    np.testing.assert_allclose(fn.draws, vec.draws)


def test_different_seed_sets_pair_only_the_shared_seeds() -> None:
    """Seed 1 of the variant is its first run; seeds 0 and 3-5 ran for one recipe only."""
    base = runs_table([70, 75, 72])
    var = runs_table([80, 70, 71, 79, 78])
    pair = score_draws([base, var], n_bootstrap=200, image_seed=6)
    r = recipe_difference(
        *pair, confidence=0.9, seed=1, baseline_seeds=[0, 1, 2], variant_seeds=[1, 2, 3, 4, 5]
    )
    assert [d["seed"] for d in r["per_seed"]] == [1, 2]
    assert [d["difference"] for d in r["per_seed"]] == pytest.approx([0.05, -0.02])
    assert r["n_seeds"] == {"baseline": 3, "variant": 5} and r["seeds_disagree"]
    assert r["difference"] == pytest.approx((378 / 5 - 217 / 3) / 100)
