"""The ``variants`` part of ``stats/stats.json`` as typed records (frozen dataclasses).

One class per kind of JSON object that describes a variant over its seeds: summaries over
seeds, the two-class threshold blocks, the multi-class block and its per-class entries, the
bootstrap intervals and the calibration. :mod:`biomedclf.stats.variants` builds them,
:func:`biomedclf.stats.typed_json.to_json` writes them (the fields in their order here, a
defaulted field that is ``None`` left out), and :class:`biomedclf.stats.typed_json.DataclassReader`
reads them back (a field's JSON key is its name, or ``metadata["key"]``; a field with a default
may be absent). :mod:`biomedclf.stats.records` holds the rest of the format and the reader. The
layout is documented in workflow/CONTRACTS.md ("stats.json").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def _get(record: object, metric: str, what: str) -> object:
    """Field ``metric`` of dataclass ``record``; ``KeyError`` naming ``what`` if it has none."""
    if metric not in {f.name for f in dataclasses.fields(record)}:
        raise KeyError(f"metric {metric!r}: not a {what} of stats.json")
    return getattr(record, metric)


@dataclass(frozen=True)
class Seeded:
    """The ``seed`` of a per-seed entry. Listed last among a record's bases, it puts ``seed``
    first in the record's fields and so in its JSON object (``{"seed", ...}``)."""

    seed: int


@dataclass(frozen=True)
class Summary:
    """A quantity over seeds (:func:`biomedclf.stats.descriptive.describe`): the *describe*
    object of stats.json; ``values`` in seed order."""

    mean: float | None
    sd: float | None  # None with fewer than two finite values
    min: float | None
    max: float | None
    n: int  # finite values
    values: list[float | None]


@dataclass(frozen=True)
class ThresholdMetrics:
    """Test metrics of one metrics.json block over seeds; ``None``: no run reports it."""

    threshold: Summary | None = None
    accuracy: Summary | None = None
    balanced_accuracy: Summary | None = None
    sensitivity: Summary | None = None
    specificity: Summary | None = None
    precision: Summary | None = None
    f1: Summary | None = None
    auroc: Summary | None = None
    average_precision: Summary | None = None
    brier: Summary | None = None

    def get(self, metric: str) -> Summary | None:
        """The summary of ``metric`` (a field name); ``KeyError`` for an unknown metric."""
        return _get(self, metric, "test metric")  # type: ignore[return-value]


@dataclass(frozen=True)
class MulticlassSummary:
    """The multi-class metrics of metrics.json over seeds; ``None``: no run reports it."""

    accuracy: Summary | None = None
    balanced_accuracy: Summary | None = None
    macro_f1: Summary | None = None
    weighted_f1: Summary | None = None
    kappa: Summary | None = None
    brier: Summary | None = None
    ece: Summary | None = None
    macro_precision: Summary | None = None
    macro_recall: Summary | None = None
    macro_specificity: Summary | None = None
    macro_auroc: Summary | None = None
    macro_average_precision: Summary | None = None

    def get(self, metric: str) -> Summary | None:
        """The summary of ``metric`` (a field name); ``KeyError`` for an unknown metric."""
        return _get(self, metric, "multi-class metric")  # type: ignore[return-value]


@dataclass(frozen=True)
class ClassSummary:
    """One class's one-vs-rest metrics over seeds; ``support``: its test images."""

    class_name: str = field(metadata={"key": "class"})
    index: int
    support: int
    precision: Summary
    recall: Summary
    specificity: Summary
    f1: Summary
    auroc: Summary
    average_precision: Summary


@dataclass(frozen=True)
class MetricBlocks:
    """For two classes the metrics at threshold 0.5 and at the validation-chosen Youden
    threshold (``None`` for more classes), then the multi-class metrics (every K)."""

    at_half: ThresholdMetrics | None = field(default=None, metadata={"key": "threshold_0.5"})
    youden: ThresholdMetrics | None = field(default=None, metadata={"key": "threshold_youden"})
    multiclass: MulticlassSummary = field(kw_only=True)


@dataclass(frozen=True)
class BinaryMetrics:
    """Metrics of the seed-ensembled probabilities at threshold 0.5.

    The fields of :func:`biomedclf.evaluate.metrics.binary_metrics`; undefined ones are ``None``.
    """

    threshold: float
    accuracy: float | None
    balanced_accuracy: float | None
    sensitivity: float | None
    specificity: float | None
    precision: float | None
    f1: float | None
    auroc: float | None
    average_precision: float | None
    brier: float | None
    confusion_matrix: list[list[int]]  # [[tn, fp], [fn, tp]]


@dataclass(frozen=True)
class ClassMetrics:
    """One class's one-vs-rest metrics
    (:func:`biomedclf.evaluate.multiclass.multiclass_metrics`)."""

    class_name: str = field(metadata={"key": "class"})
    index: int
    precision: float | None
    recall: float | None
    specificity: float | None
    f1: float | None
    support: int
    auroc: float | None
    average_precision: float | None


@dataclass(frozen=True)
class MulticlassMetrics:
    """The multi-class block of :func:`biomedclf.evaluate.multiclass.multiclass_metrics`."""

    prediction: str
    kappa_weights: str  # none | quadratic
    ece_bins: int
    accuracy: float | None
    balanced_accuracy: float | None
    macro_f1: float | None
    weighted_f1: float | None
    kappa: float | None
    brier: float | None
    ece: float | None
    macro_precision: float | None
    macro_recall: float | None
    macro_specificity: float | None
    macro_auroc: float | None
    macro_average_precision: float | None
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted class
    per_class: list[ClassMetrics]


@dataclass(frozen=True)
class Interval:
    """A percentile-bootstrap interval; ``n_valid``: resamples where the metric was defined."""

    estimate: float | None
    low: float | None
    high: float | None
    n_valid: int


@dataclass(frozen=True)
class MetricIntervals:
    """Intervals of test accuracy, balanced accuracy and AUROC (macro for K > 2)."""

    accuracy: Interval
    balanced_accuracy: Interval
    auroc: Interval


@dataclass(frozen=True)
class SeedIntervals(MetricIntervals, Seeded):
    """Intervals of one seed's predictions."""


@dataclass(frozen=True)
class Bootstrap:
    """Intervals per seed, of the mean over seeds and of the seed-ensembled probabilities."""

    per_seed: list[SeedIntervals]
    seed_mean: MetricIntervals
    ensemble: MetricIntervals


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability diagram; the means are ``None`` for an empty bin."""

    lower: float
    upper: float
    count: int
    mean_probability: float | None
    observed_frequency: float | None


@dataclass(frozen=True)
class Calibration:
    """Expected calibration error (seeds pooled, per seed, ensemble) and the pooled bins, of
    the probability of class 1 (two classes) or the top-label confidence (``kind``)."""

    kind: str
    n_bins: int
    ece: float | None
    ece_per_seed: Summary
    ece_ensemble: float | None
    bins: list[CalibrationBin]


@dataclass(frozen=True)
class VariantStats:
    """Everything stats.json holds about one variant, over its seeds."""

    seeds: list[int]
    n_seeds: int
    n_test: int
    metrics: MetricBlocks
    per_class: list[ClassSummary]
    final_train_accuracy: Summary
    final_val_accuracy: Summary
    overfitting_gap: Summary  # final train minus validation accuracy
    final_train_loss: Summary
    final_val_loss: Summary
    epochs_run: Summary
    train_seconds: Summary
    images_per_second: Summary
    peak_memory_mb: Summary
    parameters: int | str | None  # distinct values over seeds joined by ", "
    model: str | None
    device: str | None
    device_name: str | None
    ensemble: BinaryMetrics | None  # two classes only
    ensemble_multiclass: MulticlassMetrics
    bootstrap: Bootstrap
    calibration: Calibration

    @property
    def test_accuracy(self) -> Summary | None:
        """Test accuracy over seeds: at threshold 0.5 for two classes, of the argmax for more
        (the multi-class block's, the same values for two classes)."""
        if self.metrics.at_half is not None:
            return self.metrics.at_half.accuracy
        return self.metrics.multiclass.accuracy

    @property
    def n_classes(self) -> int:
        """The number of classes."""
        return len(self.ensemble_multiclass.per_class)
