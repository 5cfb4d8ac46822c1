"""``stats/stats.json``: the statistics of a study, assembled from its runs.

Is a difference between two variants real, or test-set noise? :func:`study_statistics` turns
the per-run files (read by :mod:`biomedclf.evaluate.run_results`) into evidence with the pure
functions of :mod:`biomedclf.stats.bootstrap`, :mod:`biomedclf.evaluate.calibration`,
:mod:`biomedclf.stats.significance` and :mod:`biomedclf.stats.descriptive`, for two classes or
more:

* per variant (:mod:`biomedclf.stats.variants`), over seeds: mean and standard deviation of
  every test metric (the multi-class metrics, each class's one-vs-rest metrics, and for two
  classes the metrics at threshold 0.5 and at the Youden threshold), of the overfitting gap
  (final-epoch train accuracy minus validation accuracy) and of training time;
* per variant: percentile-bootstrap intervals of test accuracy, balanced accuracy and AUROC
  (macro one-vs-rest for more than two classes), resampling test images, per seed, for the
  mean over seeds and for the seed-ensembled probabilities; the ensemble's metrics;
  every statistic that resamples the test images takes the study's one set of resamples
  per metric group (:mod:`biomedclf.stats.study_draws`), so any two variants pair;
* per variant: calibration (expected calibration error, reliability-diagram data);
* per comparison (:mod:`biomedclf.stats.comparisons`): differences for the recipe (training
  runs and test images: the verdict's) and for these trained models (test images), per seed
  and of the ensembles, McNemar's exact test, a verdict in words, notes and warnings;
* the ranking by the primary metric (:mod:`biomedclf.stats.ranking`), on recipe-level
  intervals.

The result is a :class:`biomedclf.stats.records.StudyStats`, the typed records that
:func:`biomedclf.stats.records.read_stats` reads back; :func:`write_study_statistics` writes it
to ``stats/stats.json`` in the format :data:`biomedclf.stats.records.STATS_FORMAT` that
workflow/CONTRACTS.md documents field by field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.multiclass import prediction_rule
from biomedclf.evaluate.run_results import (
    Predictions,
    group_runs,
    load_metrics,
    load_variant_predictions,
)
from biomedclf.io import write_json
from biomedclf.layout import RunFiles
from biomedclf.stats.bootstrap import BOOTSTRAP_METRICS
from biomedclf.stats.comparisons import comparison_statistics
from biomedclf.stats.ranking import ranking_statistics
from biomedclf.stats.recipe import MIN_RECIPE_SEEDS, POWER
from biomedclf.stats.records import STATS_FORMAT, Settings, StudyStats
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.significance import MIN_SEEDS
from biomedclf.stats.study_draws import study_draws
from biomedclf.stats.typed_json import to_json
from biomedclf.stats.variant_records import VariantStats
from biomedclf.stats.variants import variant_statistics

__all__ = ["study_statistics", "write_study_statistics"]

log = logging.getLogger(__name__)

#: How the intervals are made (``settings.interval``).
INTERVALS = (
    "recipe (verdicts, ranking): two-way bootstrap over training runs and test images, "
    "rescaled to the crossed random-effects standard error with a t on Welch-Satterthwaite "
    "degrees of freedom; trained models, per seed, per variant: percentile bootstrap over "
    "test images"
)

#: What ``auroc`` means in stats.json (``settings.auroc``), by number of classes.
AUROC_MEANING = {
    2: "AUROC of the probability of class 1",
    "k": "macro AUROC: mean over the test split's classes of the one-vs-rest AUROCs",
}


def _settings(settings: StatisticsSettings, n_classes: int) -> Settings:
    """The ``settings`` entry of stats.json."""
    return Settings(
        n_bootstrap=int(settings.n_bootstrap),
        confidence=float(settings.confidence),
        seed=int(settings.seed),
        calibration_bins=int(settings.calibration_bins),
        interval=INTERVALS,
        threshold=0.5,
        min_seeds=MIN_SEEDS,
        min_recipe_seeds=MIN_RECIPE_SEEDS,
        power=POWER,
        metrics=list(BOOTSTRAP_METRICS),
        auroc=AUROC_MEANING[2] if n_classes == 2 else AUROC_MEANING["k"],
    )


def _kappa_weights(runs: list[RunFiles]) -> tuple[bool, str]:
    """``ordinal`` and the kappa weights of the runs' metrics.json; all runs must agree."""
    seen: dict[tuple[bool, str], RunFiles] = {}
    for run in runs:
        m = load_metrics(run.metrics)
        if "ordinal" not in m or "kappa_weights" not in m.get("multiclass", {}):
            raise ValueError(
                f"{run.metrics}: no 'ordinal' or 'multiclass'.'kappa_weights' (written before "
                "multi-class support); rerun the evaluation job"
            )
        key = (bool(m["ordinal"]), str(m["multiclass"]["kappa_weights"]))
        seen.setdefault(key, run)
    if len(seen) > 1:
        (a, ra), (b, rb) = list(seen.items())[:2]
        raise ValueError(
            f"{ra.metrics} (ordinal {a[0]}) and {rb.metrics} (ordinal {b[0]}) were evaluated "
            "with different data.ordinal; rerun the evaluation of the study"
        )
    return next(iter(seen))


def _class_fields(reference: Predictions) -> dict[str, Any]:
    """The top-level fields about the classes of the test split."""
    k = len(reference.class_names)
    return {
        "n_test": int(reference.labels.size),
        "n_classes": k,
        "class_names": list(reference.class_names),
        "class_counts": np.bincount(reference.labels, minlength=k).tolist(),
        "n_positive": int(reference.labels.sum()) if k == 2 else None,
    }


def _seed_warnings(variants: dict[str, VariantStats]) -> list[str]:
    """The study's warnings: variants with fewer than :data:`MIN_SEEDS` seeds."""
    return [
        f"variant {name}: {v.n_seeds} seed(s); use at least {MIN_SEEDS}"
        for name, v in variants.items()
        if v.n_seeds < MIN_SEEDS
    ]


def study_statistics(
    runs: list[RunFiles],
    comparisons: Mapping[str, dict[str, Any]],
    statistics: Mapping[str, Any],
    evaluated_on: str,
) -> StudyStats:
    """All statistics of a study, as the typed records of stats.json.

    ``runs`` are the study's runs, ``comparisons`` the config's ``comparisons:`` mapping
    (``{name: {"baseline", "variants", "claim"?}}``), ``statistics`` its validated
    ``statistics:`` section (every key present: :class:`StatisticsSettings`). Every run must
    have been evaluated on the same test images and classes (paired by path; a mismatch
    raises ``ValueError`` naming the two files). ``evaluated_on`` says what the runs'
    predictions are of (``test``, or ``out-of-fold`` with cross-validation). Undefined values
    (an SD of one seed, an AUROC without both classes) are ``None``.
    """
    settings = StatisticsSettings.from_config(statistics)
    reference, data = load_variant_predictions(group_runs(runs))
    ordinal, kappa_weights = _kappa_weights(runs)
    classes = _class_fields(reference)
    k = classes["n_classes"]
    log.info(
        "statistics: %d variants, %d runs, %d test images, %d classes, %d resamples",
        len(data),
        len(runs),
        classes["n_test"],
        k,
        settings.n_bootstrap,
    )
    draws = study_draws(data, n_bootstrap=settings.n_bootstrap, seed=settings.seed)
    variants = {
        name: variant_statistics(d, draws[name], settings, ordinal) for name, d in data.items()
    }
    comps = {
        name: comparison_statistics(name, comp, data, draws, variants, settings, evaluated_on)
        for name, comp in comparisons.items()
    }
    return StudyStats(
        format=STATS_FORMAT,
        settings=_settings(settings, k),
        evaluated_on=evaluated_on,
        **classes,
        ordinal=ordinal,
        kappa_weights=kappa_weights,
        prediction=prediction_rule(k),
        warnings=_seed_warnings(variants),
        variants=variants,
        comparisons=comps,
        ranking=ranking_statistics(draws, settings),
    )


def write_study_statistics(
    path: Path | str,
    runs: list[RunFiles],
    comparisons: Mapping[str, dict[str, Any]],
    statistics: Mapping[str, Any],
    evaluated_on: str,
) -> None:
    """Write the statistics of ``runs`` (:func:`study_statistics`) to stats.json at ``path``."""
    write_json(path, to_json(study_statistics(runs, comparisons, statistics, evaluated_on)))
