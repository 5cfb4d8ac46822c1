"""Combine the k fold models of one cross-validated multi-label run (train.json ``task:
multilabel``).

:func:`biomedclf.crossval.combine.run_crossval` hands a multi-label run to
:func:`combine_multilabel` with the folds read, the out-of-fold scores (every pool image once,
scored by the fold model that did not train on it) and the fold ensemble's test scores (the
mean of the fold models' sigmoids). It writes, in the formats of a fixed split's multi-label
evaluation (:mod:`biomedclf.evaluate.multilabel_evaluation`), so that the multi-label
statistics and report read them unchanged:

- ``predictions.csv``: the out-of-fold predictions; each image's calls at the thresholds of
  the fold model that scored it (each fold's train.json ``thresholds``: per label, Youden's J
  on that fold's inner validation part, never on held-out images);
- ``metrics.json``: the ``multilabel`` block of the out-of-fold predictions, ``evaluated_on:
  out-of-fold``. AUROC and average precision pool the probabilities of every fold; F1,
  sensitivity, specificity and precision count the calls just described; each label's
  ``threshold`` is the mean of the fold thresholds, listed in ``fold_thresholds``;
- ``test_predictions.csv``: the fold ensemble's test predictions, called at the mean over folds
  of each label's threshold;
- ``crossval.json``: per fold its thresholds and the mean AUROC, macro average precision,
  macro F1 and micro AUROC of its held-out fold and of the test split, their mean and SD over
  folds, the out-of-fold numbers, and the fold ensemble's whole ``multilabel`` block on the
  test split.

The run's train.json (written by the caller) gets ``thresholds`` (the mean over folds) and
``fold_thresholds``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.multilabel import multilabel_metrics
from biomedclf.evaluate.multilabel_evaluation import (
    multilabel_settings,
    write_multilabel_predictions,
)
from biomedclf.io import write_json
from biomedclf.train.scores import SplitScores

log = logging.getLogger(__name__)

#: The numbers of a ``multilabel`` block kept per fold (crossval.json's ``folds``).
FOLD_METRICS = ("mean_auroc", "macro_average_precision", "macro_f1", "micro_auroc")
#: The per-label metrics that depend on the calls (the thresholds), not on the ranking alone.
CALLED = ("f1", "sensitivity", "specificity", "precision")
#: How the out-of-fold predictions are called (metrics.json ``multilabel.threshold_rule``).
OOF_THRESHOLD_RULE = (
    "per fold: each held-out image called at the thresholds of the fold model that scored it "
    "(per label, Youden's J on that fold's inner validation part); threshold: their mean"
)
#: How the fold ensemble's test predictions are called.
ENSEMBLE_THRESHOLD_RULE = "per label, the mean over folds of the fold models' thresholds"

Fold = tuple[dict[str, Any], dict[str, SplitScores], Any]


def fold_thresholds(folds: Sequence[Fold], infos: Sequence[Path]) -> tuple[list[str], np.ndarray]:
    """The label names and each fold's thresholds (k x L) from the folds' train.json;
    ValueError naming the file whose labels differ from fold 0's."""
    names, first = multilabel_settings(folds[0][0], infos[0])
    rows = [first]
    for (info, _, _), where in zip(folds[1:], infos[1:], strict=True):
        other, thresholds = multilabel_settings(info, where)
        if other != names:
            raise ValueError(
                f"{where}: labels {other}, but fold 0 has {names}; the folds were trained on "
                "different caches; rerun them"
            )
        rows.append(thresholds)
    return names, np.stack(rows)


def called_metrics(
    scores: SplitScores, per_image: np.ndarray, thresholds: np.ndarray, names: list[str]
) -> dict[str, Any]:
    """The ``multilabel`` block of ``scores`` whose images are called at ``per_image``
    thresholds (n x L): ranking metrics of the probabilities, the called metrics of the calls,
    each label's ``threshold`` the mean of ``thresholds`` (k x L, listed per label)."""
    mean = thresholds.mean(axis=0)
    block = multilabel_metrics(scores.labels, scores.probabilities, mean, names, scores.mask)
    calls = (scores.probabilities >= per_image).astype(np.float64)
    at_calls = multilabel_metrics(
        scores.labels, calls, np.full(len(names), 0.5), names, scores.mask
    )
    for row, called in zip(block["per_label"], at_calls["per_label"], strict=True):
        row.update({key: called[key] for key in CALLED})
        row["fold_thresholds"] = thresholds[:, row["index"]].tolist()
    for key in CALLED:
        block[f"macro_{key}"] = at_calls[f"macro_{key}"]
        block[f"micro_{key}"] = at_calls[f"micro_{key}"]
    block["threshold_rule"] = OOF_THRESHOLD_RULE
    return block


def _fold_numbers(scores: SplitScores, thresholds: np.ndarray, names: list[str]) -> dict:
    block = multilabel_metrics(scores.labels, scores.probabilities, thresholds, names, scores.mask)
    return {key: block[key] for key in FOLD_METRICS}


def fold_record(fold: int, info: Mapping[str, Any], scores: Mapping[str, SplitScores]) -> dict:
    """The sizes and training record of one fold in crossval.json's ``folds`` (train.json
    ``info``, the fold's scores by part), for either kind of study."""
    return {
        "fold": fold,
        "n_train": info["n_train"],
        "n_val": info["n_val"],
        "n_heldout": len(scores["heldout"].paths),
        "best_epoch": info["best_epoch"],
        "train_seconds": info["train_seconds"],
    }


def _per_fold(folds: Sequence[Fold], thresholds: np.ndarray, names: list[str]) -> list[dict]:
    """crossval.json's ``folds``: each fold's sizes, training record, thresholds and metrics."""
    return [
        {
            **fold_record(f, info, s),
            "thresholds": thresholds[f].tolist(),
            "heldout": _fold_numbers(s["heldout"], thresholds[f], names),
            "test": _fold_numbers(s["test"], thresholds[f], names),
        }
        for f, (info, s, _) in enumerate(folds)
    ]


def _mean_sd(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and SD (ddof 1; None for one fold) over folds of each number of ``rows``, over the
    folds that define it."""
    mean: dict[str, Any] = {}
    sd: dict[str, Any] = {}
    for key in FOLD_METRICS:
        values = [r[key] for r in rows if r[key] is not None]
        mean[key] = float(np.mean(values)) if values else None
        sd[key] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, sd


def combine_multilabel(
    folds: Sequence[Fold],
    infos: Sequence[Path],
    scores: tuple[SplitScores, SplitScores],
    record: dict[str, Any],
    outputs: Mapping[str, Path | str],
) -> dict[str, Any]:
    """Write predictions.csv, metrics.json, test_predictions.csv and crossval.json (see the
    module doc) from the read ``folds`` (their train.json files ``infos``), ``scores`` (the
    out-of-fold and the fold ensemble's test scores) and the combined train.json ``record``
    (updated in place with the thresholds); returns the crossval.json dict."""
    oof, ensemble = scores
    names, thresholds = fold_thresholds(folds, infos)
    sizes = [len(s["heldout"].paths) for _, s, _ in folds]
    per_image = np.repeat(thresholds, sizes, axis=0)  # the out-of-fold order: fold by fold
    mean = thresholds.mean(axis=0)
    head = {"variant": record.get("variant"), "seed": record.get("seed"), "task": "multilabel"}
    metrics = {
        **head,
        "n_test": len(oof.paths),
        "n_classes": len(names),
        "class_names": names,
        "multilabel": called_metrics(oof, per_image, thresholds, names),
        "evaluated_on": "out-of-fold",
    }
    block = multilabel_metrics(ensemble.labels, ensemble.probabilities, mean, names, ensemble.mask)
    block["threshold_rule"] = ENSEMBLE_THRESHOLD_RULE
    per_fold = _per_fold(folds, thresholds, names)
    cv_mean, cv_sd = _mean_sd([row["heldout"] for row in per_fold])
    summary = {
        **head,
        "k": len(folds),
        "folds": per_fold,
        "cv_mean": cv_mean,
        "cv_sd": cv_sd,
        "out_of_fold": {key: metrics["multilabel"][key] for key in FOLD_METRICS},
        "ensemble_test": {"n_test": len(ensemble.paths), "multilabel": block},
    }
    record.update(thresholds=mean.tolist(), fold_thresholds=thresholds.tolist())
    write_multilabel_predictions(Path(outputs["predictions"]), oof, names, per_image)
    write_multilabel_predictions(Path(outputs["test_predictions"]), ensemble, names, mean)
    write_json(Path(outputs["crossval"]), summary)
    write_json(Path(outputs["metrics"]), metrics)
    _log_summary(summary)
    return summary


def _log_summary(summary: dict[str, Any]) -> None:
    """One log line with the headline numbers of a multi-label crossval.json."""

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    log.info(
        "%s seed %s, %d folds: held-out mean AUROC %s ± %s over folds, out-of-fold %s, fold "
        "ensemble on %d test images %s",
        summary["variant"],
        summary["seed"],
        summary["k"],
        fmt(summary["cv_mean"]["mean_auroc"]),
        fmt(summary["cv_sd"]["mean_auroc"]),
        fmt(summary["out_of_fold"]["mean_auroc"]),
        summary["ensemble_test"]["n_test"],
        fmt(summary["ensemble_test"]["multilabel"]["mean_auroc"]),
    )
