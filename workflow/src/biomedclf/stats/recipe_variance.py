"""How much of a recipe difference is training noise and how much test-image noise.

Two training recipes (a baseline and a variant) are each trained on several seeds, and every
run is scored on the same test images: per recipe a crossed (run x image) table. With
cross-validation a run is one seed's out-of-fold predictions, so the fold models' variation is
part of the run-to-run variation. The estimate of the recipe difference is
``D = mean over runs of metric(variant run) - mean over runs of metric(baseline run)``, and over
new training runs and new test images its variance is

    Var(D) = tau2_variant / S_variant + tau2_baseline / S_baseline + image_variance

* ``tau2`` (:attr:`VarianceComponents.run_variance`): the variance over training runs of one
  run's metric on these ``n`` test images, the sample variance of the per-run metrics. It holds
  the pure seed variance (:attr:`VarianceComponents.seed_variance`) and the image-by-run noise
  of ``n`` images (:attr:`VarianceComponents.interaction`: which images a run happens to get
  right), the part that more test images would shrink;
* ``image_variance``: the test-image part, the variance of the difference from drawing these
  ``n`` images out of all the images the recipes could be tested on, net of the image-by-run
  noise that ``tau2`` already counts.

The estimates are the method of moments of the crossed random-effects model
``y[r, s, j] = mu_r + a[r, s] + b[r, j] + e[r, s, j]`` (two-way ANOVA), unbiased for exchangeable
runs and images whatever their distribution, and equal to REML's on a balanced table when
every component is positive. :func:`anova_components` computes them from per-image scores
(the metric is their mean: accuracy); :func:`moment_components` from the bootstrap resamples
of the test images for any metric (balanced accuracy, AUROC). The degrees of freedom of the
estimate are Welch-Satterthwaite's (:meth:`VarianceComponents.df`), and
:func:`seeds_needed` turns the components into the number of runs per recipe that would detect
an observed difference with a given power (noncentral t); :func:`seeds_needed_note` says it in
words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: :func:`seeds_needed` looks no further than this many runs per recipe.
MAX_SEEDS = 1000


@dataclass(frozen=True)
class VarianceComponents:
    """Variance components of a recipe difference; pairs are (baseline, variant).

    ``run_variance``: variance over runs of the per-run metric on the ``n_images`` test
    images; ``interaction``: its image-by-run part (noise of ``n_images`` images);
    ``image_variance``: the test-image term of the difference's variance (the same for any
    number of runs); ``method``: ``"anova"`` or ``"bootstrap moments"``.
    """

    n_seeds: tuple[int, int]
    n_images: int
    run_variance: tuple[float, float]
    interaction: tuple[float, float]
    image_variance: float
    method: str

    @property
    def seed_variance(self) -> tuple[float, float]:
        """Per recipe, the run variance less its image-by-run part (at least 0): what more
        test images would not reduce."""
        b, v = (max(0.0, t - i) for t, i in zip(self.run_variance, self.interaction))
        return b, v

    def variance_and_df(self, n_seeds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The variance of the difference and its Welch-Satterthwaite degrees of freedom
        (infinite when the variance is 0), with ``n_seeds`` runs per recipe (an array: one
        value each) or, by default, the runs the study had."""
        if n_seeds is None:
            seeds = [np.asarray(float(s)) for s in self.n_seeds]
        else:
            seeds = [np.asarray(n_seeds, dtype=np.float64)] * 2
        terms = [t / s for t, s in zip(self.run_variance, seeds)]
        dfs = [s - 1.0 for s in seeds]
        terms.append(np.full_like(seeds[0], self.image_variance))
        dfs.append(np.full_like(seeds[0], self.n_images - 1.0))
        total = sum(terms)
        with np.errstate(divide="ignore", invalid="ignore"):
            denominator = sum(np.where(t > 0, t**2 / d, 0.0) for t, d in zip(terms, dfs))
            df = np.where(denominator > 0, total**2 / denominator, np.inf)
        return total, df

    def variance(self, n_seeds: int | None = None) -> float:
        """Variance of the difference with ``n_seeds`` runs per recipe (default: as run)."""
        return float(self.variance_and_df(None if n_seeds is None else np.asarray(n_seeds))[0])

    def df(self, n_seeds: int | None = None) -> float:
        """Welch-Satterthwaite degrees of freedom of :meth:`variance` (infinite when it is 0)."""
        return float(self.variance_and_df(None if n_seeds is None else np.asarray(n_seeds))[1])


def _check_tables(baseline: np.ndarray, variant: np.ndarray) -> None:
    """Raise ``ValueError`` unless both are (runs, images) tables of the same images, with at
    least two runs and two images."""
    if baseline.ndim != 2 or variant.ndim != 2 or baseline.shape[1] != variant.shape[1]:
        raise ValueError(
            f"per-image scores of shapes {baseline.shape} and {variant.shape}: expected "
            "(runs, images) tables scored on the same test images"
        )
    if min(baseline.shape[0], variant.shape[0]) < 2 or baseline.shape[1] < 2:
        raise ValueError(
            f"per-image scores of shapes {baseline.shape} and {variant.shape}: the variance "
            "components need at least 2 training runs per recipe and 2 test images"
        )


def _residual_mean_square(table: np.ndarray) -> float:
    """Two-way ANOVA residual (run x image interaction) mean square of a (runs, images) table."""
    s, n = table.shape
    residual = table - table.mean(axis=1, keepdims=True) - table.mean(axis=0) + table.mean()
    return float(np.sum(residual**2) / ((s - 1) * (n - 1)))


def anova_components(baseline: np.ndarray, variant: np.ndarray) -> VarianceComponents:
    """The components from per-image scores (runs, images) of each recipe, same images.

    For a metric that is the mean of per-image scores (accuracy: correctness 0/1). Per recipe
    ``run_variance`` is the sample variance of the run means and ``interaction`` the residual
    mean square over ``n``; ``image_variance`` is the sample variance over images of the
    difference of the run-averaged scores, less each recipe's interaction over its runs, over
    ``n`` (at least 0).
    """
    baseline = np.asarray(baseline, dtype=np.float64)
    variant = np.asarray(variant, dtype=np.float64)
    _check_tables(baseline, variant)
    n = baseline.shape[1]
    run = (float(baseline.mean(axis=1).var(ddof=1)), float(variant.mean(axis=1).var(ddof=1)))
    inter = (_residual_mean_square(baseline) / n, _residual_mean_square(variant) / n)
    columns = variant.mean(axis=0) - baseline.mean(axis=0)
    net = columns.var(ddof=1) / n - inter[0] / baseline.shape[0] - inter[1] / variant.shape[0]
    return VarianceComponents(
        n_seeds=(baseline.shape[0], variant.shape[0]),
        n_images=n,
        run_variance=run,
        interaction=inter,
        image_variance=max(0.0, float(net)),
        method="anova",
    )


def moment_components(
    baseline_full: np.ndarray,
    variant_full: np.ndarray,
    baseline_draws: np.ndarray,
    variant_draws: np.ndarray,
    n_images: int,
) -> VarianceComponents:
    """The components of any metric, from each run's value on all images (runs,) and under
    the same bootstrap resamples of the images (runs, B).

    ``run_variance`` is the sample variance of the per-run values. Over image resamples, one
    run's metric varies by the image effects plus the image-by-run noise, the run average by
    the image effects plus that noise over S; so ``interaction = (mean over runs of the
    per-run resampling variance - resampling variance of the run average) * S / (S - 1)``,
    and ``image_variance`` is the resampling variance of the difference of run averages less
    each recipe's interaction over its runs (at least 0). Resamples where a value is not
    finite (an AUROC without a class) are left out.
    """
    base_d = np.asarray(baseline_draws, dtype=np.float64)
    var_d = np.asarray(variant_draws, dtype=np.float64)
    if min(base_d.shape[0], var_d.shape[0]) < 2:
        raise ValueError("the variance components need at least 2 training runs per recipe")
    keep = np.all(np.isfinite(base_d), axis=0) & np.all(np.isfinite(var_d), axis=0)
    if keep.sum() < 2:
        raise ValueError("fewer than 2 image resamples where the metric is defined")
    base_d, var_d = base_d[:, keep], var_d[:, keep]

    def interaction(draws: np.ndarray) -> float:
        """Image-by-run noise of one run's metric."""
        s = draws.shape[0]
        spread = draws.var(axis=1, ddof=1).mean() - draws.mean(axis=0).var(ddof=1)
        return max(0.0, float(spread) * s / (s - 1))

    inter = (interaction(base_d), interaction(var_d))
    difference = var_d.mean(axis=0) - base_d.mean(axis=0)
    net = difference.var(ddof=1) - inter[0] / base_d.shape[0] - inter[1] / var_d.shape[0]
    return VarianceComponents(
        n_seeds=(base_d.shape[0], var_d.shape[0]),
        n_images=int(n_images),
        run_variance=(
            float(np.var(baseline_full, ddof=1)),
            float(np.var(variant_full, ddof=1)),
        ),
        interaction=inter,
        image_variance=max(0.0, float(net)),
        method="bootstrap moments",
    )


def detection_power(
    components: VarianceComponents,
    difference: float,
    n_seeds: int | np.ndarray,
    *,
    confidence: float,
) -> np.ndarray:
    """Power of the two-sided t test at level ``1 - confidence`` to detect ``difference``
    with ``n_seeds`` runs per recipe (scalar or array; returns an array), on the
    Welch-Satterthwaite degrees of freedom: ``P(|T| > t_crit)`` for ``T`` noncentral t with
    noncentrality ``|difference| / sqrt(variance)``."""
    from scipy import special

    seeds = np.atleast_1d(np.asarray(n_seeds, dtype=np.float64))
    variance, df = components.variance_and_df(seeds)
    with np.errstate(divide="ignore"):
        shift = np.where(variance > 0, abs(difference) / np.sqrt(variance), np.inf)
    finite = np.isfinite(shift)
    df, shift = np.where(finite, df, 1.0), np.where(finite, shift, 0.0)
    critical = special.stdtrit(df, 0.5 + confidence / 2.0)
    # the lower tail P(T < -t_crit) as 1 - P(T' <= t_crit), T' of noncentrality -shift: scipy's
    # CDF gives NaN far in the lower tail
    power = 2.0 - special.nctdtr(df, shift, critical) - special.nctdtr(df, -shift, critical)
    return np.where(finite, power, float(difference != 0))


def seeds_needed(
    components: VarianceComponents,
    difference: float,
    *,
    confidence: float,
    power: float,
    max_seeds: int = MAX_SEEDS,
) -> int | None:
    """The fewest runs per recipe (at least 2) whose two-sided test at level
    ``1 - confidence`` detects ``difference`` with probability ``power``
    (:func:`detection_power`, which grows with the runs).

    ``None`` when no number up to ``max_seeds`` does: the difference is 0, or the test
    images' own noise (``image_variance``) alone hides it. The search starts at the normal
    approximation's answer, which never exceeds the t test's.
    """
    from scipy import special

    if difference == 0 or not np.isfinite(difference):
        return None
    z = special.ndtri(0.5 + confidence / 2.0) + special.ndtri(power)
    room = (difference / z) ** 2 - components.image_variance
    if room <= 0:
        return None
    start = sum(components.run_variance) / room
    if start > max_seeds:
        return None
    first = max(2, int(np.floor(start)))
    for lo in range(first, max_seeds + 1, 32):
        seeds = np.arange(lo, min(lo + 32, max_seeds + 1))
        reached = np.flatnonzero(
            detection_power(components, difference, seeds, confidence=confidence) >= power
        )
        if reached.size:
            return int(seeds[reached[0]])
    return None


def seeds_needed_note(
    needed: int | None,
    difference: float,
    components: VarianceComponents | None,
    confidence: float,
    power: float,
) -> str:
    """The number of seeds per recipe that would tell, in words (or why there is none)."""
    level = f"{power:.0%} power at the {1 - confidence:.0%} level"
    if components is None or not np.isfinite(difference):
        return "the seeds needed are unknown: the training variance could not be estimated"
    if difference == 0:
        return "no difference observed: no number of seeds would detect one"
    if needed is not None:
        return f"about {needed} seeds per recipe would detect a difference this large ({level})"
    text = f"more than {MAX_SEEDS} seeds per recipe would be needed ({level})"
    if detection_power(components, difference, 10**9, confidence=confidence)[0] < power:
        text += "; the test images' own noise hides a difference this small: use more images"
    return text
