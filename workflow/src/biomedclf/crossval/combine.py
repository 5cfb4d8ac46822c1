"""Combine the k fold models of one cross-validated run (a variant and a seed).

Entry point: :func:`run_crossval` (called by the workflow's crossval adapter). From each fold's
``scores.csv``, ``train.json`` and ``history.csv`` (:mod:`biomedclf.train.loop`) it writes, without
torch (formats in ``workflow/CONTRACTS.md``):

- ``predictions.csv`` and ``metrics.json``: the *out-of-fold* predictions, every image of the
  pool exactly once, scored by the fold model that did not train on it, and their metrics
  (:func:`biomedclf.evaluate.evaluation.evaluation_metrics`; two classes: the Youden threshold
  is chosen on the folds' inner validation parts pooled, never on held-out images). Every later step
  (statistics, tables, figures) reads these as it reads a fixed split's test results;
- ``crossval.json``: per fold its held-out and test metrics, their mean and SD over folds,
  and the metrics of the *fold ensemble* (the mean of the fold models' probabilities) on the
  test split: the study's headline test result;
- ``test_predictions.csv``: the fold ensemble's test predictions;
- ``history.csv`` and ``train.json`` of the run: the folds' mean per epoch and their combined
  training record (seconds summed over folds).

A multi-label run (train.json ``task: multilabel``) writes the same files in the multi-label
formats: :mod:`biomedclf.crossval.multilabel`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.crossval.multilabel import combine_multilabel, fold_record
from biomedclf.evaluate.evaluation import class_names_of, evaluation_metrics, write_predictions
from biomedclf.evaluate.multiclass import multiclass_metrics
from biomedclf.io import read_json, write_json
from biomedclf.train.history import HISTORY_COLUMNS, read_history, write_history
from biomedclf.train.scores import SplitScores, read_scores

log = logging.getLogger(__name__)

#: The files :func:`run_crossval` writes, by role (those of biomedclf.layout.crossval_files).
CROSSVAL_OUTPUTS = ("history", "info", "metrics", "predictions", "crossval", "test_predictions")

#: The metrics kept per fold (from biomedclf.evaluate.multiclass.multiclass_metrics).
FOLD_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_auroc", "kappa", "brier")


def concatenate(parts: list[SplitScores]) -> SplitScores:
    """One split made of ``parts`` in order (multi-label: their masks too)."""
    return SplitScores(
        paths=[p for part in parts for p in part.paths],
        labels=np.concatenate([part.labels for part in parts]),
        probabilities=np.concatenate([part.probabilities for part in parts]),
        mask=None if parts[0].mask is None else np.concatenate([part.mask for part in parts]),
    )


def fold_ensemble(tests: list[SplitScores], where: list[Path]) -> SplitScores:
    """The mean of the fold models' probabilities on the test split (the same images, in the
    same order, in every fold; ValueError naming the file that differs)."""
    for test, path in zip(tests[1:], where[1:], strict=True):
        if test.paths != tests[0].paths:
            raise ValueError(
                f"{path}: its test images differ from those of {where[0]}; the folds were "
                "trained on different caches; rerun them"
            )
    probabilities = np.mean(np.stack([t.probabilities for t in tests]), axis=0)
    return SplitScores(list(tests[0].paths), tests[0].labels, probabilities, tests[0].mask)


def out_of_fold(heldout: list[SplitScores], where: list[Path]) -> SplitScores:
    """The held-out folds together; ValueError when an image is held out twice."""
    oof = concatenate(heldout)
    twice = [path for path, n in Counter(oof.paths).items() if n > 1]
    if twice:
        raise ValueError(
            f"{twice[0]} is in the held-out fold of two of {', '.join(map(str, where))}; the "
            "folds were trained on different caches; rerun them"
        )
    return oof


def _fold_metrics(scores: SplitScores, class_names: list[str], ordinal: bool) -> dict[str, Any]:
    metrics = multiclass_metrics(scores.labels, scores.probabilities, class_names, ordinal)
    return {key: metrics[key] for key in FOLD_METRICS}


def mean_sd(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and SD (ddof 1; None for one fold) over folds of each metric of ``rows``; a
    metric undefined in some fold is averaged over the folds that define it."""
    mean: dict[str, Any] = {}
    sd: dict[str, Any] = {}
    for key in rows[0]:
        values = [r[key] for r in rows if r[key] is not None]
        mean[key] = float(np.mean(values)) if values else None
        sd[key] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return mean, sd


def combined_history(histories: list[dict[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Per epoch the folds' mean losses, accuracies and learning rate and their summed
    seconds, over the folds that ran that epoch (early stopping ends folds apart);
    ``histories`` as :func:`biomedclf.train.history.read_history` returns them."""
    rows = []
    for epoch in range(1, max(len(h["epoch"]) for h in histories) + 1):
        ran = [h for h in histories if len(h["epoch"]) >= epoch]
        row: dict[str, Any] = {"epoch": epoch}
        for column in HISTORY_COLUMNS[1:]:
            values = [float(h[column][epoch - 1]) for h in ran]
            row[column] = sum(values) if column == "seconds" else float(np.mean(values))
        rows.append(row)
    return rows


def combined_record(infos: list[dict[str, Any]], n_oof: int) -> dict[str, Any]:
    """The run's train.json: fold 0's record with the folds' totals and extremes (each fold
    job's seconds per phase summed, a phase a fold did not time left null)."""
    record = {k: v for k, v in infos[0].items() if k not in ("fold", "n_heldout")}
    if "phases" in record:
        record["phases"] = {
            name: _fold_sum([i.get("phases", {}).get(name) for i in infos])
            for name in record["phases"]
        }
    speeds = [i["images_per_second"] for i in infos if i.get("images_per_second")]
    record.update(
        folds=len(infos),
        train_seconds=float(sum(i["train_seconds"] for i in infos)),
        fold_train_seconds=[float(i["train_seconds"]) for i in infos],
        best_epoch=int(round(float(np.mean([i["best_epoch"] for i in infos])))),
        fold_best_epochs=[int(i["best_epoch"]) for i in infos],
        epochs_run=max(int(i["epochs_run"]) for i in infos),
        stopped_early=any(i["stopped_early"] for i in infos),
        peak_memory_mb=max(float(i["peak_memory_mb"]) for i in infos),
        images_per_second=float(np.mean(speeds)) if speeds else None,
        n_train=int(round(float(np.mean([i["n_train"] for i in infos])))),
        n_val=int(round(float(np.mean([i["n_val"] for i in infos])))),
        n_heldout=n_oof,
    )
    return record


def _fold_sum(values: list[Any]) -> float | None:
    """The sum of the folds' values, None when a fold has none."""
    return None if any(v is None for v in values) else float(sum(values))


def _read_fold(
    fold: int, scores: Path, info: Path, history: Path
) -> tuple[dict[str, Any], dict[str, SplitScores], dict[str, np.ndarray]]:
    """train.json, scores.csv (with its held-out rows) and history.csv of fold ``fold``."""
    record = read_json(info)
    if record.get("fold") != fold:
        raise ValueError(
            f"{info}: fold {record.get('fold')!r}, expected {fold}; rerun that training job"
        )
    split_scores = read_scores(scores, len(class_names_of(record, info)))
    if "heldout" not in split_scores:
        raise ValueError(f"{scores}: no heldout rows; rerun the job")
    return record, split_scores, read_history(history)


def _fold_files(
    scores: Sequence[Path | str], infos: Sequence[Path | str], histories: Sequence[Path | str]
) -> list[tuple[Path, Path, Path]]:
    """Each fold's (scores.csv, train.json, history.csv), in fold order; ValueError when the
    three lists do not hold one file per fold."""
    counts = [len(scores), len(infos), len(histories)]
    if len(set(counts)) != 1 or not counts[0]:
        raise ValueError(
            f"{counts[0]} scores.csv, {counts[1]} train.json and {counts[2]} history.csv files: "
            "list one of each per fold, in fold order"
        )
    return [(Path(s), Path(i), Path(h)) for s, i, h in zip(scores, infos, histories, strict=True)]


def _per_fold(
    folds: list[tuple[dict[str, Any], dict[str, SplitScores], Any]],
    class_names: list[str],
    ordinal: bool,
) -> list[dict[str, Any]]:
    """crossval.json's ``folds``: each fold's sizes, training record and metrics."""
    return [
        {
            **fold_record(f, info, s),
            "heldout": _fold_metrics(s["heldout"], class_names, ordinal),
            "test": _fold_metrics(s["test"], class_names, ordinal),
        }
        for f, (info, s, _) in enumerate(folds)
    ]


def _log_summary(summary: dict[str, Any], n_oof: int) -> None:
    """One log line with the headline numbers of crossval.json."""
    sd = summary["cv_sd"]["accuracy"]
    log.info(
        "%s seed %s, %d folds: held-out accuracy %.3f ± %s over folds, out-of-fold %.3f on %d "
        "images, fold ensemble on %d test images %.3f",
        summary["variant"],
        summary["seed"],
        summary["k"],
        summary["cv_mean"]["accuracy"],
        "n/a" if sd is None else f"{sd:.3f}",
        summary["out_of_fold"]["accuracy"],
        n_oof,
        summary["ensemble_test"]["n_test"],
        summary["ensemble_test"]["multiclass"]["accuracy"],
    )


def run_crossval(
    scores: Sequence[Path | str],
    infos: Sequence[Path | str],
    histories: Sequence[Path | str],
    outputs: Mapping[str, Path | str],
    ordinal: bool,
) -> dict[str, Any]:
    """Combine the k folds of one run into the files of ``outputs``; return the crossval.json
    dict.

    ``scores``, ``infos`` and ``histories`` are the folds' scores.csv, train.json and
    history.csv, in fold order. ``outputs`` maps each role of :data:`CROSSVAL_OUTPUTS` (those
    of :func:`biomedclf.layout.crossval_files`) to the path to write; ``ordinal``
    (``data.ordinal``) makes Cohen's kappa quadratic-weighted.
    """
    missing = [role for role in CROSSVAL_OUTPUTS if role not in outputs]
    if missing:
        raise ValueError(f"crossval outputs: no path for {missing}; name one per role")
    files = _fold_files(scores, infos, histories)
    folds = [_read_fold(f, *paths) for f, paths in enumerate(files)]
    where = [s for s, _, _ in files]
    oof = out_of_fold([s["heldout"] for _, s, _ in folds], where)
    ensemble = fold_ensemble([s["test"] for _, s, _ in folds], where)
    record = combined_record([info for info, _, _ in folds], len(oof.paths))
    read = [i for _, i, _ in files]  # the folds' train.json, named in errors
    if record.get("task") == "multilabel":  # several findings per image
        summary = combine_multilabel(folds, read, (oof, ensemble), record, outputs)
    else:
        summary = _single_label(folds, read[0], (oof, ensemble), record, outputs, ordinal)
    write_history(Path(outputs["history"]), combined_history([h for _, _, h in folds]))
    write_json(Path(outputs["info"]), record)
    return summary


def _single_label(
    folds: list[tuple[dict[str, Any], dict[str, SplitScores], Any]],
    info: Path,
    scores: tuple[SplitScores, SplitScores],
    record: dict[str, Any],
    outputs: Mapping[str, Path | str],
    ordinal: bool,
) -> dict[str, Any]:
    """predictions.csv, test_predictions.csv, crossval.json and metrics.json of a
    single-label run (fold 0's train.json ``info``); returns the crossval.json dict."""
    oof, ensemble = scores
    class_names = class_names_of(folds[0][0], info)
    inner = concatenate([s["val"] for _, s, _ in folds])
    metrics = evaluation_metrics(record, class_names, inner, oof, ordinal)
    metrics["evaluated_on"] = "out-of-fold"
    per_fold = _per_fold(folds, class_names, ordinal)
    cv_mean, cv_sd = mean_sd([row["heldout"] for row in per_fold])
    summary = {
        "variant": record.get("variant"),
        "seed": record.get("seed"),
        "k": len(folds),
        "folds": per_fold,
        "cv_mean": cv_mean,
        "cv_sd": cv_sd,
        "out_of_fold": {key: metrics["multiclass"][key] for key in FOLD_METRICS},
        "ensemble_test": evaluation_metrics(record, class_names, inner, ensemble, ordinal),
    }
    write_predictions(
        Path(outputs["predictions"]), oof.paths, oof.labels, oof.probabilities, class_names
    )
    write_predictions(
        Path(outputs["test_predictions"]),
        ensemble.paths,
        ensemble.labels,
        ensemble.probabilities,
        class_names,
    )
    write_json(Path(outputs["crossval"]), summary)
    write_json(Path(outputs["metrics"]), metrics)
    _log_summary(summary, len(oof.paths))
    return summary
