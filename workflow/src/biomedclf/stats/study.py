"""``stats/stats.json``: the statistics of a study, assembled from its runs.

Is a difference between two variants real, or test-set noise? :func:`study_statistics` turns
the per-run files (read by :mod:`biomedclf.evaluate.run_results`) into evidence with the pure functions
of :mod:`biomedclf.stats.bootstrap`, :mod:`biomedclf.evaluate.calibration`, :mod:`biomedclf.stats.significance` and
:mod:`biomedclf.stats.descriptive`, for two classes or more:

* per variant (:mod:`biomedclf.stats.variants`), over seeds: mean and standard deviation of
  every test metric (the multi-class metrics, each class's one-vs-rest metrics, and for two
  classes the metrics at threshold 0.5 and at the Youden threshold), of the overfitting gap
  (final-epoch train accuracy minus validation accuracy) and of training time;
* per variant: percentile-bootstrap intervals of test accuracy, balanced accuracy and AUROC
  (macro one-vs-rest for more than two classes), resampling test images, per seed, for the
  mean over seeds and for the seed-ensembled probabilities; the ensemble's metrics;
* per variant: calibration (expected calibration error, reliability-diagram data);
* per comparison (:mod:`biomedclf.stats.comparisons`): paired differences with intervals,
  McNemar's exact test, a verdict in words and warnings when the evidence is thin.

The result is the JSON-serialisable dict the workflow writes to ``stats/stats.json``, in the
format :data:`biomedclf.stats.records.STATS_FORMAT` that workflow/CONTRACTS.md documents field by
field; :func:`biomedclf.stats.records.read_stats` reads it back as typed objects.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from biomedclf.evaluate.multiclass import prediction_rule
from biomedclf.evaluate.run_results import (
    Predictions,
    group_runs,
    load_metrics,
    load_variant_predictions,
)
from biomedclf.layout import RunFiles
from biomedclf.stats.bootstrap import BOOTSTRAP_METRICS, check_confidence
from biomedclf.stats.comparisons import comparison_statistics
from biomedclf.stats.ranking import ranking_statistics
from biomedclf.stats.records import STATS_FORMAT
from biomedclf.stats.significance import MIN_SEEDS
from biomedclf.stats.variants import BLOCK_METRICS, METRIC_BLOCKS, variant_statistics

__all__ = ["BLOCK_METRICS", "METRIC_BLOCKS", "study_statistics"]

log = logging.getLogger(__name__)

#: What ``auroc`` means in stats.json (``settings.auroc``), by number of classes.
AUROC_MEANING = {
    2: "AUROC of the probability of class 1",
    "k": "macro AUROC: mean over the test split's classes of the one-vs-rest AUROCs",
}


def _settings(
    n_bootstrap: int, confidence: float, seed: int, calibration_bins: int, n_classes: int
) -> dict[str, Any]:
    """The ``settings`` entry of stats.json."""
    return {
        "n_bootstrap": int(n_bootstrap),
        "confidence": float(confidence),
        "seed": int(seed),
        "calibration_bins": int(calibration_bins),
        "interval": "percentile bootstrap over test images",
        "threshold": 0.5,
        "min_seeds": MIN_SEEDS,
        "metrics": list(BOOTSTRAP_METRICS),
        "auroc": AUROC_MEANING[2] if n_classes == 2 else AUROC_MEANING["k"],
    }


def _kappa_weights(runs: list[RunFiles]) -> tuple[bool, str]:
    """``ordinal`` and the kappa weights of the runs' metrics.json; all runs must agree."""
    seen: dict[tuple[bool, str], RunFiles] = {}
    for run in runs:
        m = load_metrics(run.metrics)
        weights = (m.get("multiclass") or {}).get("kappa_weights")
        key = (bool(m.get("ordinal", False)), str(weights))
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
    }


def study_statistics(
    runs: list[RunFiles],
    comparisons: dict,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    calibration_bins: int = 10,
    primary: str = "accuracy",
    evaluated_on: str = "test",
) -> dict[str, Any]:
    """All statistics of a study, as a JSON-serialisable dict (``stats/stats.json``).

    ``runs`` are the study's runs (:func:`biomedclf.layout.study_runs`), ``comparisons`` the
    config's ``comparisons:`` mapping (``{name: {"baseline", "variants", "claim"?}}``). Every
    run must have been evaluated on the same test images and classes (paired by path; a
    mismatch raises ``ValueError`` naming the two files). ``primary`` is the metric the
    variants are ranked by (:mod:`biomedclf.stats.ranking`); ``evaluated_on`` says what the runs'
    predictions are of (``test``, or ``out-of-fold`` with cross-validation). Undefined values (an SD of one seed,
    an AUROC without both classes) are ``None``. The layout (:data:`STATS_FORMAT`) is
    documented field by field in workflow/CONTRACTS.md ("stats.json").
    """
    if n_bootstrap < 1:
        raise ValueError(f"statistics.n_bootstrap {n_bootstrap}: must be at least 1")
    check_confidence(confidence)
    reference, data = load_variant_predictions(group_runs(runs))
    ordinal, kappa_weights = _kappa_weights(runs)
    classes = _class_fields(reference)
    log.info(
        "statistics: %d variants, %d runs, %d test images, %d classes, %d resamples",
        len(data),
        len(runs),
        classes["n_test"],
        classes["n_classes"],
        n_bootstrap,
    )
    variants = {
        name: variant_statistics(d, n_bootstrap, confidence, seed, calibration_bins, ordinal)
        for name, d in data.items()
    }
    comps = {
        name: comparison_statistics(
            name, comp, data, variants, n_bootstrap, confidence, seed, evaluated_on
        )
        for name, comp in (comparisons or {}).items()
    }
    warnings = [
        f"variant {name}: {v['n_seeds']} seed(s); use at least {MIN_SEEDS}"
        for name, v in variants.items()
        if v["n_seeds"] < MIN_SEEDS
    ]
    k = classes["n_classes"]
    return {
        "format": STATS_FORMAT,
        "settings": _settings(n_bootstrap, confidence, seed, calibration_bins, k),
        "evaluated_on": evaluated_on,
        **classes,
        "ordinal": ordinal,
        "kappa_weights": kappa_weights,
        "prediction": prediction_rule(k),
        "n_positive": int(reference.labels.sum()) if k == 2 else None,
        "warnings": warnings,
        "variants": variants,
        "comparisons": comps,
        "ranking": ranking_statistics(data, variants, primary, n_bootstrap, confidence, seed),
    }
