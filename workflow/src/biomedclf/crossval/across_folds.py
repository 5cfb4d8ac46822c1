"""Statistics across the folds of a cross-validated study: ``stats/crossval.json``.

Entry point: :func:`write_study_crossval` (the workflow's ``crossval_stats`` rule). It reads every
run's ``crossval.json`` (:mod:`biomedclf.crossval.combine`) and gives per variant the held-out
metrics over folds (mean, SD, the corrected interval), the pooled out-of-fold metrics and the fold
ensemble's test metrics (mean and SD over seeds), and per comparison the *corrected resampled
t-test* of Nadeau and Bengio (2003, "Inference for the Generalization Error", Machine Learning 52)
on the per-fold differences of the primary metric.

Why corrected: the k training sets overlap (each pair shares (k-2)/(k-1) of its images), so
the per-fold differences are positively correlated and the plain paired t-test's variance
``s^2 / k`` is too small. Nadeau and Bengio replace it by ``(1/k + n_test/n_train) s^2``, with
``n_test / n_train`` the held-out to training size ratio (``1/(k-1)`` for k folds). Seeds
reuse the same folds, so they are averaged per fold first: the test has k - 1 degrees of
freedom whatever the number of seeds (seeds that re-drew the folds would be repetitions in
Bouckaert and Frank's sense, these are not).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import read_json, write_json

#: ``statistics.primary`` -> the key of a fold's metrics (biomedclf.crossval.combine.FOLD_METRICS).
FOLD_KEY = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "auroc": "macro_auroc",
}


def corrected_resampled_t(
    differences: Sequence[float], n_train: float, n_test: float, confidence: float
) -> dict[str, Any]:
    """Nadeau and Bengio's corrected resampled t-test of the mean of ``differences`` (one per
    fold) against zero; ``n_train`` / ``n_test``: a fold's training and held-out sizes.

    Returns the mean, the corrected standard error, t, the degrees of freedom (J - 1), the
    two-sided p-value and the corrected ``confidence`` interval of the mean difference.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    j = len(d)
    if j < 2 or n_train <= 0:
        raise ValueError(f"the corrected t-test needs 2 or more folds and n_train > 0, got {j}")
    mean, var = float(d.mean()), float(d.var(ddof=1))
    se = math.sqrt((1.0 / j + n_test / n_train) * var)
    df = j - 1
    if se == 0.0:  # every fold gave the same difference
        t, p = (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    else:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df)) * se
    return {
        "mean_difference": mean,
        "se": se,
        "t": t,
        "df": df,
        "p_value": p,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "confidence": confidence,
        "n_folds": j,
        "n_train": float(n_train),
        "n_test": float(n_test),
    }


def verdict(test: dict[str, Any]) -> str:
    """better / worse / no detectable difference, by the corrected interval."""
    if test["ci_low"] > 0:
        return "better"
    if test["ci_high"] < 0:
        return "worse"
    return "no detectable difference"


def fold_matrix(runs: list[dict[str, Any]], key: str) -> np.ndarray:
    """seeds x folds held-out values of ``key`` (NaN where a fold leaves it undefined)."""
    return np.array(
        [
            [np.nan if f["heldout"][key] is None else f["heldout"][key] for f in r["folds"]]
            for r in runs
        ],
        dtype=np.float64,
    )


def _mean_sd(values: Sequence[float | None]) -> dict[str, float | None]:
    v = [float(x) for x in values if x is not None]
    return {
        "mean": float(np.mean(v)) if v else None,
        "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
    }


def fold_sizes(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """A fold's mean training size (its training and inner validation parts: what the
    model learnt from) and held-out size, over the runs' folds."""
    folds = [f for r in runs for f in r["folds"]]
    n_train = float(np.mean([f["n_train"] + f["n_val"] for f in folds]))
    return n_train, float(np.mean([f["n_heldout"] for f in folds]))


def variant_summary(runs: list[dict[str, Any]], key: str, confidence: float) -> dict[str, Any]:
    """One variant's cross-validation numbers from its seeds' crossval.json dicts."""
    per_fold = np.nanmean(fold_matrix(runs, key), axis=0)  # seed mean per fold
    n_train, n_test = fold_sizes(runs)
    spread = corrected_resampled_t(per_fold, n_train, n_test, confidence)
    return {
        "seeds": [r["seed"] for r in runs],
        "folds": fold_matrix(runs, key).tolist(),
        "cv_mean": float(np.mean(per_fold)),
        "cv_sd": float(np.std(per_fold, ddof=1)),
        "cv_ci": [spread["ci_low"], spread["ci_high"]],
        "out_of_fold": _mean_sd([r["out_of_fold"][key] for r in runs]),
        "ensemble_test": _mean_sd([r["ensemble_test"]["multiclass"][key] for r in runs]),
        "ensemble_test_accuracy": _mean_sd(
            [r["ensemble_test"]["multiclass"]["accuracy"] for r in runs]
        ),
        "n_test": int(runs[0]["ensemble_test"]["n_test"]),
        "n_train": n_train,
        "n_heldout": n_test,
    }


def compare(
    base: list[dict[str, Any]], other: list[dict[str, Any]], key: str, confidence: float
) -> dict[str, Any]:
    """The corrected resampled t-test of ``other`` minus ``base`` (seeds paired, then averaged
    per fold)."""
    pairs = {r["seed"]: r for r in base}
    shared = [r for r in other if r["seed"] in pairs]
    if not shared:
        raise ValueError("no seed in common between the two variants")
    diff = fold_matrix(shared, key) - fold_matrix([pairs[r["seed"]] for r in shared], key)
    per_fold = np.nanmean(diff, axis=0)
    test = corrected_resampled_t(per_fold, *fold_sizes(shared), confidence)
    return {**test, "per_fold": per_fold.tolist(), "verdict": verdict(test)}


def runs_by_variant(
    files: Mapping[tuple[str, int], Path | str],
) -> dict[str, list[dict[str, Any]]]:
    """Each variant's crossval.json dicts, in the order of ``files`` ((variant, seed) -> that
    run's crossval.json, variant-major); ValueError naming a file written for another run."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for (variant, seed), path in files.items():
        run = read_json(Path(path))
        if (run.get("variant"), run.get("seed")) != (variant, int(seed)):
            raise ValueError(
                f"{path}: the crossval.json of {run.get('variant')} seed {run.get('seed')}, "
                f"listed as {variant} seed {seed}; rerun the crossval job of that run"
            )
        runs.setdefault(variant, []).append(run)
    return runs


def study_crossval(
    files: Mapping[tuple[str, int], Path | str],
    comparisons: Mapping[str, Mapping[str, Any]],
    primary: str,
    confidence: float,
) -> dict[str, Any]:
    """``stats/crossval.json`` from every run's crossval.json (``files``: (variant, seed) ->
    path, variant-major), the ``comparisons`` (name -> baseline and variants), the
    ``statistics.primary`` metric and the ``statistics.confidence`` level."""
    key = FOLD_KEY[primary]
    runs = runs_by_variant(files)
    ks = {r["k"] for rs in runs.values() for r in rs}
    if len(ks) != 1:
        raise ValueError(f"the runs were cross-validated with different fold counts {sorted(ks)}")
    out: dict[str, Any] = {
        "format": "biomedclf-crossval/1",
        "k": ks.pop(),
        "metric": key,
        "test": "Nadeau-Bengio corrected resampled t-test, seeds averaged per fold",
        "variants": {v: variant_summary(rs, key, confidence) for v, rs in runs.items()},
        "comparisons": {},
    }
    for name, comp in comparisons.items():
        out["comparisons"][name] = {
            v: compare(runs[comp["baseline"]], runs[v], key, confidence) for v in comp["variants"]
        }
    return out


def write_study_crossval(
    path: Path | str,
    files: Mapping[tuple[str, int], Path | str],
    comparisons: Mapping[str, Mapping[str, Any]],
    primary: str,
    confidence: float,
) -> dict[str, Any]:
    """Compute :func:`study_crossval` and write it to ``path`` (``stats/crossval.json``)."""
    result = study_crossval(files, comparisons, primary, confidence)
    write_json(Path(path), result)
    return result
