"""``stats/stats.json``: the statistics of a study, assembled from its runs.

Is a difference between two variants real, or test-set noise? :func:`study_statistics` turns
the per-run files (read by :mod:`biomedclf.run_outputs`) into evidence with the pure functions
of :mod:`biomedclf.bootstrap`, :mod:`biomedclf.calibration`, :mod:`biomedclf.significance` and
:mod:`biomedclf.descriptive`:

* per variant, over seeds: mean and standard deviation of every test metric, of the
  overfitting gap (final-epoch train accuracy minus validation accuracy) and of training time;
* per variant: percentile-bootstrap intervals of test accuracy and AUROC, resampling test
  images, per seed, for the mean over seeds and for the seed-ensembled probabilities;
* per variant: calibration (expected calibration error, reliability-diagram data);
* per comparison (:mod:`biomedclf.comparison_stats`): paired differences with intervals,
  McNemar's exact test, a verdict in words and warnings when the evidence is thin.

The result is the JSON-serialisable dict the workflow writes to ``stats/stats.json``, in the
format :data:`biomedclf.stats_file.STATS_FORMAT` that workflow/CONTRACTS.md documents field by
field; :func:`biomedclf.stats_file.read_stats` reads it back as typed objects.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from biomedclf.bootstrap import BOOTSTRAP_METRICS, bootstrap_ci, check_confidence, derive_seed
from biomedclf.calibration import expected_calibration_error, reliability_curve
from biomedclf.comparison_stats import comparison_statistics
from biomedclf.descriptive import describe
from biomedclf.metrics import METRIC_KEYS, binary_metrics
from biomedclf.run_outputs import (
    VariantData,
    group_runs,
    load_history,
    load_metrics,
    load_train_info,
    load_variant_predictions,
)
from biomedclf.runs import RunFiles
from biomedclf.significance import MIN_SEEDS
from biomedclf.stats_file import STATS_FORMAT

log = logging.getLogger(__name__)

#: Metric blocks of metrics.json summarised over seeds.
METRIC_BLOCKS = ("threshold_0.5", "threshold_youden")

#: Scalar metrics of one block; ``threshold`` is kept for the Youden block.
BLOCK_METRICS = tuple(k for k in METRIC_KEYS if k != "confusion_matrix")

#: Fields of train.json summarised over seeds, and those reported once per variant.
INFO_SUMMARIES = ("train_seconds", "images_per_second", "peak_memory_mb")
INFO_SINGLE = ("parameters", "model", "device", "device_name")


def _metric_blocks(runs: list[RunFiles]) -> dict[str, dict[str, Any]]:
    """Per block of metrics.json, each metric some run reports, described over seeds."""
    metrics = [load_metrics(r) for r in runs]
    blocks: dict[str, dict[str, Any]] = {}
    for block in METRIC_BLOCKS:
        present = [m.get(block) for m in metrics]
        if any(b is None for b in present):
            missing = [str(r.metrics) for r, b in zip(runs, present) if b is None]
            raise ValueError(f"{missing[0]}: no '{block}' block; rerun the evaluation job")
        blocks[block] = {
            k: describe([b.get(k) for b in present])
            for k in BLOCK_METRICS
            if any(b.get(k) is not None for b in present)
        }
    return blocks


def _history_summaries(runs: list[RunFiles]) -> dict[str, Any]:
    """Final-epoch accuracies and losses, the overfitting gap and epochs, over seeds."""
    histories = [load_history(r) for r in runs]
    final_train = [float(h["train_accuracy"][-1]) for h in histories]
    final_val = [float(h["val_accuracy"][-1]) for h in histories]
    return {
        "final_train_accuracy": describe(final_train),
        "final_val_accuracy": describe(final_val),
        "overfitting_gap": describe([t - v for t, v in zip(final_train, final_val)]),
        "final_train_loss": describe([float(h["train_loss"][-1]) for h in histories]),
        "final_val_loss": describe([float(h["val_loss"][-1]) for h in histories]),
        "epochs_run": describe([len(h["epoch"]) for h in histories]),
    }


def _single(values: list[Any]) -> Any:
    """The one value all seeds share; distinct values joined by ``, ``; ``None`` if none."""
    vals = [v for v in values if v is not None]
    uniq = sorted(set(map(str, vals)))
    if not uniq:
        return None
    if len(uniq) == 1:
        return vals[0]
    return ", ".join(uniq)


def _train_info(runs: list[RunFiles]) -> dict[str, Any]:
    """Training time, throughput and memory over seeds; model, size and device once."""
    infos = [load_train_info(r) for r in runs]
    out: dict[str, Any] = {k: describe([i.get(k) for i in infos]) for k in INFO_SUMMARIES}
    out.update({k: _single([i.get(k) for i in infos]) for k in INFO_SINGLE})
    return out


def _intervals(
    data: VariantData, scores: np.ndarray, scope: Any, n_bootstrap: int, confidence: float,
    seed: int,
) -> dict[str, Any]:  # fmt: skip
    """Bootstrap interval of each of :data:`BOOTSTRAP_METRICS` for ``scores``."""
    out = {}
    for m in BOOTSTRAP_METRICS:
        ci = bootstrap_ci(
            data.labels, scores, m, n_bootstrap, confidence, derive_seed(seed, data.name, scope, m)
        )
        out[m] = {k: ci[k] for k in ("estimate", "low", "high", "n_valid")}
    return out


def _variant_bootstrap(
    data: VariantData, n_bootstrap: int, confidence: float, seed: int
) -> dict[str, Any]:
    """Intervals per seed, of the mean over seeds and of the seed-ensembled probabilities."""
    args = (n_bootstrap, confidence, seed)
    return {
        "per_seed": [
            {"seed": s, **_intervals(data, probs, s, *args)}
            for s, probs in zip(data.seeds, data.probs)
        ],
        "seed_mean": _intervals(data, data.probs, "seed_mean", *args),
        "ensemble": _intervals(data, data.probs.mean(axis=0), "ensemble", *args),
    }


def _calibration(data: VariantData, n_bins: int) -> dict[str, Any]:
    """ECE (seeds pooled, per seed, of the ensemble) and the pooled reliability curve."""
    labels = data.labels
    pooled_y = np.tile(labels, len(data.seeds))
    pooled_p = data.probs.ravel()
    return {
        "n_bins": n_bins,
        "ece": expected_calibration_error(pooled_y, pooled_p, n_bins),
        "ece_per_seed": describe(
            [expected_calibration_error(labels, p, n_bins) for p in data.probs]
        ),
        "ece_ensemble": expected_calibration_error(labels, data.probs.mean(axis=0), n_bins),
        "bins": reliability_curve(pooled_y, pooled_p, n_bins),
    }


def _variant_statistics(
    data: VariantData, n_bootstrap: int, confidence: float, seed: int, calibration_bins: int
) -> dict[str, Any]:
    """The ``variants.{v}`` entry of stats.json."""
    return {
        "seeds": list(data.seeds),
        "n_seeds": len(data.seeds),
        "n_test": int(data.labels.size),
        "metrics": _metric_blocks(data.runs),
        **_history_summaries(data.runs),
        **_train_info(data.runs),
        "ensemble": binary_metrics(data.labels, data.probs.mean(axis=0)),
        "bootstrap": _variant_bootstrap(data, n_bootstrap, confidence, seed),
        "calibration": _calibration(data, calibration_bins),
    }


def _settings(n_bootstrap: int, confidence: float, seed: int, calibration_bins: int) -> dict:
    """The ``settings`` entry of stats.json."""
    return {
        "n_bootstrap": int(n_bootstrap),
        "confidence": float(confidence),
        "seed": int(seed),
        "calibration_bins": int(calibration_bins),
        "interval": "percentile bootstrap over test images",
        "threshold": 0.5,
        "min_seeds": MIN_SEEDS,
    }


def study_statistics(
    runs: list[RunFiles],
    comparisons: dict,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    calibration_bins: int = 10,
) -> dict[str, Any]:
    """All statistics of a study, as a JSON-serialisable dict (``stats/stats.json``).

    ``runs`` are the study's runs (:func:`biomedclf.runs.study_runs`), ``comparisons`` the
    config's ``comparisons:`` mapping (``{name: {"baseline", "variants", "claim"?}}``). Every
    run must have been evaluated on the same test images (paired by path; a mismatch raises
    ``ValueError`` naming the two files). Undefined values (an SD of one seed, an AUROC
    without both classes) are ``None``. The layout, format ``biomedclf-stats/1``, is
    documented field by field in workflow/CONTRACTS.md ("stats.json").
    """
    if n_bootstrap < 1:
        raise ValueError(f"statistics.n_bootstrap {n_bootstrap}: must be at least 1")
    check_confidence(confidence)
    reference, data = load_variant_predictions(group_runs(runs))
    log.info(
        "statistics: %d variants, %d runs, %d test images, %d resamples",
        len(data),
        len(runs),
        len(reference.labels),
        n_bootstrap,
    )
    variants = {
        name: _variant_statistics(d, n_bootstrap, confidence, seed, calibration_bins)
        for name, d in data.items()
    }
    comps = {
        name: comparison_statistics(name, comp, data, variants, n_bootstrap, confidence, seed)
        for name, comp in (comparisons or {}).items()
    }
    warnings = [
        f"variant {name}: {v['n_seeds']} seed(s); use at least {MIN_SEEDS}"
        for name, v in variants.items()
        if v["n_seeds"] < MIN_SEEDS
    ]
    return {
        "format": STATS_FORMAT,
        "settings": _settings(n_bootstrap, confidence, seed, calibration_bins),
        "n_test": int(reference.labels.size),
        "n_positive": int(reference.labels.sum()),
        "warnings": warnings,
        "variants": variants,
        "comparisons": comps,
    }
