"""The ``variants`` part of ``stats/stats.json``: one variant's runs summarised over seeds.

From the runs' files (:mod:`biomedclf.evaluate.run_results`): every test metric of metrics.json
over seeds (the two-class threshold blocks, the multi-class block, each class's one-vs-rest
metrics), final-epoch accuracies and the overfitting gap, training time; and from the paired
test predictions: the metrics of the seed ensemble (probabilities averaged over seeds),
bootstrap intervals of accuracy, balanced accuracy and AUROC over the test images (the
study's shared resamples, :mod:`biomedclf.stats.study_draws`) and calibration
(:mod:`biomedclf.evaluate.calibration`: the probability of class 1 for two classes, the
top-label confidence for more). The result is a
:class:`biomedclf.stats.variant_records.VariantStats`; assembled by
:func:`biomedclf.stats.study.study_statistics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biomedclf.evaluate.calibration import expected_calibration_error, reliability_curve
from biomedclf.evaluate.metrics import METRIC_KEYS, binary_metrics
from biomedclf.evaluate.multiclass import (
    MULTICLASS_KEYS,
    PER_CLASS_KEYS,
    multiclass_metrics,
    top_label,
)
from biomedclf.evaluate.run_results import VariantData, load_history, load_metrics, load_train_info
from biomedclf.layout import RunFiles
from biomedclf.stats.bootstrap import BOOTSTRAP_METRICS
from biomedclf.stats.descriptive import describe
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.study_draws import VariantDraws, metric_intervals
from biomedclf.stats.variant_records import (
    BinaryMetrics,
    Bootstrap,
    Calibration,
    CalibrationBin,
    ClassMetrics,
    ClassSummary,
    Interval,
    MetricBlocks,
    MetricIntervals,
    MulticlassMetrics,
    MulticlassSummary,
    SeedIntervals,
    Summary,
    ThresholdMetrics,
    VariantStats,
)

#: Two-class metric blocks of metrics.json summarised over seeds.
METRIC_BLOCKS = ("threshold_0.5", "threshold_youden")

#: Scalar metrics of one block; ``threshold`` is kept for the Youden block.
BLOCK_METRICS = tuple(k for k in METRIC_KEYS if k != "confusion_matrix")

#: Fields of train.json summarised over seeds, and those reported once per variant.
INFO_SUMMARIES = ("train_seconds", "images_per_second", "peak_memory_mb")
INFO_SINGLE = ("parameters", "model", "device", "device_name")

#: What the calibration of a variant is about (``calibration.kind``), by number of classes.
CALIBRATION_KINDS = {2: "probability of class 1", "k": "top-label confidence"}


def run_metrics(runs: list[RunFiles]) -> list[dict[str, Any]]:
    """Every run's metrics.json; each must hold the multi-class block."""
    metrics = [load_metrics(r.metrics) for r in runs]
    for run, m in zip(runs, metrics):
        if not isinstance(m.get("multiclass"), dict):
            raise ValueError(
                f"{run.metrics}: no 'multiclass' block (written before multi-class support); "
                "rerun the evaluation job"
            )
    return metrics


def _blocks(runs: list[RunFiles], metrics: list[dict[str, Any]], block: str) -> list[dict]:
    """Block ``block`` of every run's metrics.json; a run without it is an error."""
    present = [m.get(block) for m in metrics]
    missing = [str(r.metrics) for r, b in zip(runs, present) if b is None]
    if missing:
        raise ValueError(f"{missing[0]}: no '{block}' block; rerun the evaluation job")
    return present


def _describe_keys(blocks: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Summary]:
    """Each of ``keys`` that some block reports, described over the blocks (seeds)."""
    return {
        k: describe([b.get(k) for b in blocks])
        for k in keys
        if any(b.get(k) is not None for b in blocks)
    }


def metric_blocks(
    runs: list[RunFiles], metrics: list[dict[str, Any]], n_classes: int
) -> MetricBlocks:
    """Per block of metrics.json (the threshold blocks for two classes, ``multiclass``), each
    metric some run reports, described over seeds."""
    multiclass = MulticlassSummary(
        **_describe_keys(_blocks(runs, metrics, "multiclass"), MULTICLASS_KEYS)
    )
    if n_classes != 2:
        return MetricBlocks(multiclass=multiclass)
    at_half, youden = (
        ThresholdMetrics(**_describe_keys(_blocks(runs, metrics, block), BLOCK_METRICS))
        for block in METRIC_BLOCKS
    )
    return MetricBlocks(at_half=at_half, youden=youden, multiclass=multiclass)


def per_class_summaries(
    runs: list[RunFiles], metrics: list[dict[str, Any]], class_names: list[str]
) -> list[ClassSummary]:
    """Each class's one-vs-rest metrics over seeds (``per_class`` of the multi-class blocks)."""
    rows = [m["multiclass"].get("per_class") or [] for m in metrics]
    for run, per in zip(runs, rows):
        if [c.get("class") for c in per] != class_names:
            raise ValueError(
                f"{run.metrics}: per-class metrics of {[c.get('class') for c in per]}, but "
                f"the predictions name {class_names}; rerun the evaluation job"
            )
    out = []
    for k, name in enumerate(class_names):
        entries = [per[k] for per in rows]
        described = {
            key: describe([e.get(key) for e in entries])
            for key in PER_CLASS_KEYS
            if key != "support"
        }
        out.append(
            ClassSummary(class_name=name, index=k, support=int(entries[0]["support"]), **described)
        )
    return out


def _history_summaries(runs: list[RunFiles]) -> dict[str, Summary]:
    """Final-epoch accuracies and losses, the overfitting gap and epochs, over seeds."""
    histories = [load_history(r.history) for r in runs]
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
    infos = [load_train_info(r.train_json) for r in runs]
    out: dict[str, Any] = {k: describe([i.get(k) for i in infos]) for k in INFO_SUMMARIES}
    out.update({k: _single([i.get(k) for i in infos]) for k in INFO_SINGLE})
    return out


def variant_bootstrap(draws: VariantDraws, confidence: float) -> Bootstrap:
    """Intervals per seed, of the mean over seeds and of the seed-ensembled probabilities, from
    the study's shared image resamples (:func:`biomedclf.stats.study_draws.study_draws`)."""
    per_metric = {m: metric_intervals(draws.runs[m], confidence) for m in BOOTSTRAP_METRICS}
    ensemble = {m: metric_intervals(draws.ensemble[m], confidence)[0] for m in BOOTSTRAP_METRICS}

    def intervals(rows: dict[str, dict[str, Any]]) -> dict[str, Interval]:
        """The fields of :class:`MetricIntervals`."""
        return {m: Interval(**rows[m]) for m in BOOTSTRAP_METRICS}

    return Bootstrap(
        per_seed=[
            SeedIntervals(seed=s, **intervals({m: per_metric[m][i] for m in per_metric}))
            for i, s in enumerate(draws.seeds)
        ],
        seed_mean=MetricIntervals(**intervals({m: per_metric[m][-1] for m in per_metric})),
        ensemble=MetricIntervals(**intervals(ensemble)),
    )


def _calibrated(data: VariantData, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes and probabilities that calibration compares, for ``probs`` (n, K): the labels
    and class 1's probability (two classes), or correctness and top-label confidence."""
    if data.n_classes == 2:
        return data.labels, probs[:, 1]
    return top_label(data.labels, probs)


def calibration(data: VariantData, n_bins: int) -> Calibration:
    """ECE (seeds pooled, per seed, of the ensemble) and the pooled reliability curve."""
    rows = [_calibrated(data, p) for p in data.probs]
    pooled_y = np.concatenate([y for y, _ in rows])
    pooled_p = np.concatenate([p for _, p in rows])
    ens_y, ens_p = _calibrated(data, data.probs.mean(axis=0))
    return Calibration(
        kind=CALIBRATION_KINDS[2] if data.n_classes == 2 else CALIBRATION_KINDS["k"],
        n_bins=n_bins,
        ece=expected_calibration_error(pooled_y, pooled_p, n_bins),
        ece_per_seed=describe([expected_calibration_error(y, p, n_bins) for y, p in rows]),
        ece_ensemble=expected_calibration_error(ens_y, ens_p, n_bins),
        bins=[CalibrationBin(**b) for b in reliability_curve(pooled_y, pooled_p, n_bins)],
    )


def multiclass_record(block: dict[str, Any]) -> MulticlassMetrics:
    """A multi-class block (:func:`biomedclf.evaluate.multiclass.multiclass_metrics`) as its
    record; its keys must be the record's fields."""
    per_class = [
        ClassMetrics(class_name=c["class"], **{k: v for k, v in c.items() if k != "class"})
        for c in block["per_class"]
    ]
    return MulticlassMetrics(**{**block, "per_class": per_class})


def variant_statistics(
    data: VariantData, draws: VariantDraws, settings: StatisticsSettings, ordinal: bool
) -> VariantStats:
    """The ``variants.{v}`` entry of stats.json; ``draws`` are the variant's metrics under the
    study's image resamples; ``ordinal``: the classes are ordered (the ensemble's kappa is
    quadratic-weighted)."""
    metrics = run_metrics(data.runs)
    ensemble = data.probs.mean(axis=0)
    binary = (
        BinaryMetrics(**binary_metrics(data.labels, ensemble[:, 1]))
        if data.n_classes == 2
        else None
    )
    return VariantStats(
        seeds=list(data.seeds),
        n_seeds=len(data.seeds),
        n_test=int(data.labels.size),
        metrics=metric_blocks(data.runs, metrics, data.n_classes),
        per_class=per_class_summaries(data.runs, metrics, data.class_names),
        **_history_summaries(data.runs),
        **_train_info(data.runs),
        ensemble=binary,
        ensemble_multiclass=multiclass_record(
            multiclass_metrics(data.labels, ensemble, data.class_names, ordinal)
        ),
        bootstrap=variant_bootstrap(draws, settings.confidence),
        calibration=calibration(data, settings.calibration_bins),
    )
