"""Is the recipe better, or only these trained models? Differences over seeds and test images.

Two training recipes (a baseline and a variant) are each trained on a few seeds and every run
is scored on the same test images. :func:`recipe_difference` answers two questions about
``metric(variant) - metric(baseline)`` (each averaged over its runs):

* ``recipe``: would the variant be better again if both were trained again and tested on new
  images? The interval accounts for both sources of noise, the training runs and the test
  images, which are crossed (every run scores every image). It comes from a two-way
  "pigeonhole" bootstrap (Owen 2007): each replicate resamples each recipe's runs
  independently (runs of two recipes are different trainings, even with the same seed number)
  and the test images once for both (they are shared, so the pairing is kept). Left as it is,
  that bootstrap is miscalibrated here: it counts the image-by-run noise (which images a run
  happens to get right, the largest part of per-image correctness) about three times, and with
  3-5 runs its percentile interval behaves like a normal interval where a t with a few degrees
  of freedom is needed. The draws are therefore rescaled about the estimate so that their
  spread is the unbiased standard error of the crossed random-effects model
  (:mod:`biomedclf.stats.recipe_variance`) times ``t(df) / z`` at the interval's level, with
  Welch-Satterthwaite's degrees of freedom; the percentile interval and the two-sided p-value
  are those of the rescaled draws (so the interval excludes 0 when p < 1 - confidence, up to
  the resolution of the draws).
  The tests check by simulation that the 95% interval covers the true recipe difference in
  93-97% of studies.
* ``trained_models``: would these trained models keep their lead on new test images? The
  images-only paired bootstrap of the run-averaged difference (runs held fixed).

The metric of each run under the image resamples is computed once per recipe
(:class:`biomedclf.stats.recipe_draws.RunDraws`); recipes drawn with the same ``image_seed``
pair with each other. :func:`recipe_difference_scores` and :func:`recipe_difference_metric`
draw both recipes and compare them in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biomedclf.stats.bootstrap import check_confidence, derive_seed
from biomedclf.stats.descriptive import finite_or_none
from biomedclf.stats.recipe_draws import MetricFunction, RunDraws, metric_draws, score_draws
from biomedclf.stats.recipe_variance import (
    VarianceComponents,
    anova_components,
    moment_components,
    seeds_needed,
    seeds_needed_note,
)

#: Fewer runs per recipe than this leave the training variance poorly known (a note says so).
MIN_RECIPE_SEEDS = 5

#: The power at which :func:`recipe_difference` counts the seeds that would tell.
POWER = 0.8


#: The seed of the run resampling: one for both recipes, or one per recipe (baseline, variant).
RunSeed = int | tuple[int, int]


def pigeonhole_draws(baseline: RunDraws, variant: RunDraws, seed: RunSeed) -> np.ndarray:
    """Two-way bootstrap replicates (B,) of the recipe difference (Owen 2007).

    Replicate ``b`` takes image resample ``b`` (shared by both recipes) and resamples each
    recipe's runs with replacement, independently: the difference of the run-multiplicity
    weighted means of the runs' values under that image resample. ``seed``: one seed for
    both recipes' run resampling, or a (baseline, variant) pair, so that a recipe's runs are
    resampled alike in every pair it is part of (and swapping the two negates the draws).
    """
    if isinstance(seed, tuple):
        rngs = [np.random.default_rng(s) for s in seed]
    else:
        rngs = [np.random.default_rng(seed)] * 2
    n_boot = baseline.n_bootstrap
    out = np.zeros(n_boot)
    for rng, sign, draws in zip(rngs, (-1.0, 1.0), (baseline, variant)):
        s = draws.n_seeds
        picks = rng.integers(0, s, size=(n_boot, s)) + (np.arange(n_boot) * s)[:, None]
        counts = np.bincount(picks.ravel(), minlength=n_boot * s).reshape(n_boot, s)
        out += sign * np.einsum("bs,sb->b", counts, draws.draws) / s
    return out


def two_sided_p_value(draws: np.ndarray) -> float | None:
    """``min(1, 2 min(P(d <= 0), P(d >= 0)))`` over the finite draws (as the ranking's)."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return None
    return float(min(1.0, 2.0 * min(np.mean(finite <= 0), np.mean(finite >= 0))))


def calibrated_draws(
    draws: np.ndarray, difference: float, se: float, df: float, confidence: float
) -> np.ndarray:
    """``difference + lam * (draws - difference)``, ``lam = t(df) * se / (z * sd(draws))`` at
    quantile ``(1 + confidence) / 2``: the draws' shape with the spread of a t interval of
    standard error ``se``. All draws collapse onto ``difference`` when ``se`` or their spread
    is 0."""
    from scipy import special

    spread = float(np.std(draws, ddof=1)) if draws.size > 1 else 0.0
    if spread == 0.0 or se == 0.0:
        return np.full(draws.shape, difference)
    q = 0.5 + confidence / 2.0
    scale = special.stdtrit(df, q) * se / (special.ndtri(q) * spread)
    return difference + scale * (draws - difference)


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """The percentile interval of the draws (all finite)."""
    if draws.size == 0:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _recipe_interval(
    baseline: RunDraws,
    variant: RunDraws,
    difference: float,
    components: VarianceComponents | None,
    confidence: float,
    seed: RunSeed,
) -> dict[str, Any]:
    """The ``recipe`` entry: calibrated pigeonhole interval, p-value, standard error, df."""
    out: dict[str, Any] = dict.fromkeys(("low", "high", "p_value", "se", "df", "pigeonhole_se"))
    out["n_valid"] = 0
    if components is None:
        return out
    draws = pigeonhole_draws(baseline, variant, seed)
    draws = draws[np.isfinite(draws)]
    if draws.size < 2:
        return out
    se, df = float(np.sqrt(components.variance())), components.df()
    calibrated = calibrated_draws(draws, difference, se, df, confidence)
    out["low"], out["high"] = _percentiles(calibrated, confidence)
    out.update(
        p_value=two_sided_p_value(calibrated),
        se=se,
        df=finite_or_none(df),
        pigeonhole_se=float(np.std(draws, ddof=1)),
        n_valid=int(draws.size),
    )
    return out


def _images_only(baseline: RunDraws, variant: RunDraws, confidence: float) -> dict[str, Any]:
    """The ``trained_models`` entry: the images-only paired bootstrap of the run averages."""
    draws = variant.draws.mean(axis=0) - baseline.draws.mean(axis=0)
    draws = draws[np.isfinite(draws)]
    low, high = _percentiles(draws, confidence)
    p = two_sided_p_value(draws)
    return {"low": low, "high": high, "p_value": p, "n_valid": int(draws.size)}


def _components(baseline: RunDraws, variant: RunDraws) -> VarianceComponents | None:
    """Exact ANOVA components from per-image tables, else bootstrap moments; ``None`` with
    fewer than 2 runs in a recipe or fewer than 2 resamples where the metric is defined."""
    if min(baseline.n_seeds, variant.n_seeds) < 2:
        return None
    if not (np.all(np.isfinite(baseline.full)) and np.all(np.isfinite(variant.full))):
        return None
    if baseline.table is not None and variant.table is not None:
        return anova_components(baseline.table, variant.table)
    defined = np.all(np.isfinite(baseline.draws), axis=0) & np.all(
        np.isfinite(variant.draws), axis=0
    )
    if defined.sum() < 2:
        return None
    return moment_components(
        baseline.full, variant.full, baseline.draws, variant.draws, baseline.n_images
    )


def _components_json(c: VarianceComponents | None) -> dict[str, Any] | None:
    """The ``components`` entry (pairs as {"baseline", "variant"})."""
    if c is None:
        return None

    def pair(values: tuple[float, float]) -> dict[str, float]:
        """{"baseline", "variant"} of a pair."""
        return {"baseline": values[0], "variant": values[1]}

    return {
        "method": c.method,
        "run_variance": pair(c.run_variance),
        "seed_variance": pair(c.seed_variance),
        "interaction": pair(c.interaction),
        "image_variance": c.image_variance,
    }


def _per_seed(
    baseline: RunDraws,
    variant: RunDraws,
    baseline_seeds: Sequence[int] | None,
    variant_seeds: Sequence[int] | None,
) -> list[dict[str, Any]]:
    """Variant minus baseline on all images for each seed both ran (baseline's order)."""
    b_ids = list(range(baseline.n_seeds)) if baseline_seeds is None else list(baseline_seeds)
    v_ids = list(range(variant.n_seeds)) if variant_seeds is None else list(variant_seeds)
    if len(b_ids) != baseline.n_seeds or len(v_ids) != variant.n_seeds:
        raise ValueError(
            f"seed lists of {len(b_ids)} and {len(v_ids)} for {baseline.n_seeds} and "
            f"{variant.n_seeds} runs: give one seed per run, in the order of the runs"
        )
    return [
        {"seed": s, "difference": finite_or_none(variant.full[v_ids.index(s)] - baseline.full[i])}
        for i, s in enumerate(b_ids)
        if s in v_ids
    ]


def _sign_note(per_seed: list[dict[str, Any]]) -> str | None:
    """A note naming the seeds on either side of zero when they disagree in sign."""
    ahead = [d["seed"] for d in per_seed if d["difference"] is not None and d["difference"] > 0]
    behind = [d["seed"] for d in per_seed if d["difference"] is not None and d["difference"] < 0]
    if not (ahead and behind):
        return None
    return (
        f"the seeds disagree in sign: the variant is ahead on seeds {ahead} and behind on "
        f"seeds {behind}"
    )


def _notes(
    baseline: RunDraws, variant: RunDraws, components: VarianceComponents | None, sign: str | None
) -> list[str]:
    """Notes for the reader: no recipe interval, few runs, seeds disagreeing in sign."""
    notes = []
    runs = min(baseline.n_seeds, variant.n_seeds)
    if components is None and runs < 2:
        notes.append(
            f"{baseline.n_seeds} baseline and {variant.n_seeds} variant runs: the training "
            "variance cannot be estimated, so there is no recipe-level interval (train at "
            "least 2 seeds per recipe)"
        )
    elif components is None:
        notes.append(
            "the metric is undefined on the test images or on almost every resample of them: "
            "there is no recipe-level interval"
        )
    elif runs < MIN_RECIPE_SEEDS:
        notes.append(
            f"{runs} training runs per recipe (fewer than {MIN_RECIPE_SEEDS}): the training "
            f"variance is poorly known, and the recipe-level interval widens for it "
            f"({components.df():.1f} degrees of freedom)"
        )
    return notes + ([sign] if sign else [])


def recipe_difference(
    baseline: RunDraws,
    variant: RunDraws,
    *,
    confidence: float,
    seed: RunSeed,
    baseline_seeds: Sequence[int] | None = None,
    variant_seeds: Sequence[int] | None = None,
    power: float = POWER,
) -> dict[str, Any]:
    """``metric(variant) - metric(baseline)`` for the recipe and for these trained models.

    Both :class:`RunDraws` must come from the same image resamples (``image_seed``,
    ``n_bootstrap``, images); ``seed`` drives the resampling of the runs (one seed, or one per
    recipe: :func:`pigeonhole_draws`); ``*_seeds`` name
    the runs (default 0, 1, ...) to pair them in ``per_seed``. Returns (JSON-ready)
    ``{"difference", "n_seeds": {"baseline", "variant"}, "n_images", "confidence",
    "n_bootstrap", "recipe": {"low", "high", "p_value", "se", "df", "pigeonhole_se",
    "n_valid"}, "trained_models": {"low", "high", "p_value", "n_valid"}, "per_seed":
    [{"seed", "difference"}], "seeds_disagree", "components", "power", "seeds_needed",
    "seeds_needed_note", "few_seeds", "notes"}`` (module docstring and workflow/CONTRACTS.md).
    """
    check_confidence(confidence)
    _check_pair(baseline, variant)
    difference = float(np.mean(variant.full) - np.mean(baseline.full))
    components = _components(baseline, variant)
    needed = None
    if components is not None and np.isfinite(difference):
        needed = seeds_needed(components, difference, confidence=confidence, power=power)
    per_seed = _per_seed(baseline, variant, baseline_seeds, variant_seeds)
    sign = _sign_note(per_seed)
    return {
        "difference": finite_or_none(difference),
        "n_seeds": {"baseline": baseline.n_seeds, "variant": variant.n_seeds},
        "n_images": baseline.n_images,
        "confidence": float(confidence),
        "n_bootstrap": baseline.n_bootstrap,
        "recipe": _recipe_interval(baseline, variant, difference, components, confidence, seed),
        "trained_models": _images_only(baseline, variant, confidence),
        "per_seed": per_seed,
        "seeds_disagree": sign is not None,
        "components": _components_json(components),
        "power": float(power),
        "seeds_needed": needed,
        "seeds_needed_note": seeds_needed_note(needed, difference, components, confidence, power),
        "few_seeds": min(baseline.n_seeds, variant.n_seeds) < MIN_RECIPE_SEEDS,
        "notes": _notes(baseline, variant, components, sign),
    }


def recipe_mean(draws: RunDraws, *, confidence: float, seed: int) -> dict[str, Any]:
    """One recipe's metric, the mean over its runs, for the recipe and for these runs.

    The recipe-level interval of :func:`recipe_difference` against a recipe whose metric is 0
    in every run and resample (``seed`` resamples the runs, as the recipe's seed of a pair in
    :func:`pigeonhole_draws` does): the same calibrated two-way bootstrap and components with the
    baseline's terms 0 (``run_variance / S`` plus the test-image term of the run average).
    Returns ``{"estimate", "low", "high", "se", "df", "n_valid", "trained_models": {"low",
    "high", "n_valid"}}``; the recipe's ends are ``None`` with fewer than 2 runs.
    """
    zero = RunDraws(
        np.zeros_like(draws.full),
        np.zeros_like(draws.draws),
        draws.n_images,
        draws.image_seed,
        None if draws.table is None else np.zeros_like(draws.table),
    )
    r = recipe_difference(zero, draws, confidence=confidence, seed=(seed, seed))
    rec, images = r["recipe"], r["trained_models"]
    return {
        "estimate": r["difference"],
        "low": rec["low"],
        "high": rec["high"],
        "se": rec["se"],
        "df": rec["df"],
        "n_valid": rec["n_valid"],
        "trained_models": {k: images[k] for k in ("low", "high", "n_valid")},
    }


def _check_pair(baseline: RunDraws, variant: RunDraws) -> None:
    """Raise ``ValueError`` unless both recipes were drawn on the same image resamples."""
    b, v = baseline, variant
    if (b.n_images, b.n_bootstrap, b.image_seed) != (v.n_images, v.n_bootstrap, v.image_seed):
        raise ValueError(
            f"the recipes' image resamples differ (images {b.n_images} vs {v.n_images}, "
            f"resamples {b.n_bootstrap} vs {v.n_bootstrap}, image_seed {b.image_seed} vs "
            f"{v.image_seed}): draw both with the same images, n_bootstrap and image_seed"
        )


def recipe_difference_scores(
    baseline_scores: np.ndarray,
    variant_scores: np.ndarray,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
    keys: Sequence[object] = (),
) -> dict[str, Any]:
    """:func:`recipe_difference` of the means of per-image scores (runs, images) of each
    recipe; the image and run resampling seeds derive from ``seed`` and ``keys``."""
    image_seed = derive_seed(seed, *keys, "images")
    scores = [baseline_scores, variant_scores]
    base, var = score_draws(scores, n_bootstrap=n_bootstrap, image_seed=image_seed)
    runs_seed = derive_seed(seed, *keys, "runs")
    return recipe_difference(base, var, confidence=confidence, seed=runs_seed)


def recipe_difference_metric(
    labels: Sequence[int] | np.ndarray,
    baseline_probabilities: np.ndarray,
    variant_probabilities: np.ndarray,
    metric: str | MetricFunction = "accuracy",
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
    keys: Sequence[object] = (),
) -> dict[str, Any]:
    """:func:`recipe_difference` of a metric (:func:`metric_draws`) of class probabilities
    (runs, n, K) of each recipe; resampling seeds derive from ``seed`` and ``keys``."""
    image_seed = derive_seed(seed, *keys, "images")
    probabilities = [baseline_probabilities, variant_probabilities]
    base, var = metric_draws(
        labels, probabilities, metric, n_bootstrap=n_bootstrap, image_seed=image_seed
    )
    runs_seed = derive_seed(seed, *keys, "runs")
    return recipe_difference(base, var, confidence=confidence, seed=runs_seed)
