"""``stats/multilabel.json``: the statistics of a multi-label study (``data.task: multilabel``).

The headline of a multi-label study is the mean AUROC over the labels (CheXNet's number).
From each run's ``metrics.json`` and ``predictions.csv`` (:mod:`biomedclf.evaluate.
multilabel_predictions`):

* per variant, over seeds: mean and standard deviation of the mean AUROC, macro average
  precision, macro F1 and micro AUROC (:func:`~biomedclf.stats.descriptive.describe`);
* per variant, its seed ensemble (probabilities averaged over seeds): the AUROC of each label
  and their mean, with percentile-bootstrap intervals over test images;
* per comparison, baseline against each variant: the paired bootstrap of the difference in
  mean AUROC (the verdict, :func:`~biomedclf.stats.significance.verdict`) and in each label's
  AUROC, with a two-sided bootstrap p-value per label and Holm's adjustment across the labels
  (:func:`~biomedclf.stats.ranking.holm`), so a per-label claim controls the family-wise error.

Every variant is resampled with the same resamples of the test images (one seed derived from
``statistics.seed``), so any two pair. A label's AUROC uses its kept entries only (the mask of
``data.multilabel``); a resample without both classes of a label leaves that label out of that
resample's mean (NaN-aware mean over labels).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.evaluate.multilabel_predictions import (
    MultilabelPredictions,
    read_multilabel_predictions,
)
from biomedclf.io import read_json, write_json
from biomedclf.layout import RunFiles
from biomedclf.stats.bootstrap import (
    bootstrap_weights,
    derive_seed,
    percentile_interval,
    weighted_auroc,
)
from biomedclf.stats.descriptive import describe, finite_or_none
from biomedclf.stats.ranking import holm
from biomedclf.stats.settings import StatisticsSettings
from biomedclf.stats.significance import verdict

log = logging.getLogger(__name__)

#: The per-seed numbers of metrics.json's ``multilabel`` block described over seeds.
SEED_METRICS = ("mean_auroc", "macro_average_precision", "macro_f1", "micro_auroc")
HEADLINE = "mean AUROC"


@dataclass(frozen=True)
class EnsembleDraws:
    """One variant's seed ensemble: each label's AUROC and its value in every resample."""

    point: np.ndarray  # (L,) AUROC per label (NaN without both classes)
    draws: np.ndarray  # (B, L) the same under the study's resamples


def _label_aurocs(
    pred: MultilabelPredictions, probs: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """(B, L) AUROC of each label under each row of resample multiplicities ``weights``."""
    out = np.full((weights.shape[0], len(pred.names)), np.nan)
    for j in range(len(pred.names)):
        kept = pred.mask[:, j]
        y = pred.labels[kept, j]
        if y.min(initial=1) == y.max(initial=0):
            continue  # one class only: undefined
        out[:, j] = weighted_auroc(y, probs[kept, j], weights[:, kept])
    return out


def ensemble_draws(
    runs: Sequence[MultilabelPredictions], n_bootstrap: int, seed: int
) -> EnsembleDraws:
    """The seed ensemble of ``runs`` (one variant's, on the same test images) and its
    per-label AUROCs, whole and under ``n_bootstrap`` resamples drawn from ``seed``."""
    first = runs[0]
    for run in runs[1:]:
        if run.paths != first.paths or run.names != first.names:
            raise ValueError("the runs were tested on other images or labels; rerun evaluate")
    probs = np.mean([r.probabilities for r in runs], axis=0)
    n = len(first.paths)
    point = _label_aurocs(first, probs, np.ones((1, n), dtype=np.int64))[0]
    blocks = [_label_aurocs(first, probs, w) for w in bootstrap_weights(n, n_bootstrap, seed)]
    return EnsembleDraws(point, np.concatenate(blocks))


def _mean(values: np.ndarray) -> np.ndarray | float:
    """NaN-aware mean over the last axis (labels); NaN when no label is defined."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    count = finite.sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _interval(draws: np.ndarray, confidence: float) -> dict[str, Any]:
    low, high, n = percentile_interval(np.asarray(draws, dtype=float), confidence)
    return {"low": low, "high": high, "n_resamples": n}


def _p_value(diffs: np.ndarray) -> float | None:
    """Two-sided percentile-bootstrap p-value of a difference: twice the smaller share of
    resampled differences at or beyond zero on either side (at most 1)."""
    finite = diffs[np.isfinite(diffs)]
    if not finite.size:
        return None
    return float(min(1.0, 2.0 * min((finite <= 0).mean(), (finite >= 0).mean())))


def variant_record(
    names: list[str], metrics: list[dict[str, Any]], ens: EnsembleDraws, confidence: float
) -> dict[str, Any]:
    """A variant's entry: seeds described, and its ensemble's AUROCs with intervals."""
    blocks = [m["multilabel"] for m in metrics]
    per_label = [
        {"label": name, "auroc": finite_or_none(ens.point[j])}
        | _interval(ens.draws[:, j], confidence)
        for j, name in enumerate(names)
    ]
    return {
        "seeds": [m.get("seed") for m in metrics],
        "over_seeds": {k: asdict(describe([b.get(k) for b in blocks])) for k in SEED_METRICS},
        "ensemble": {
            "mean_auroc": finite_or_none(float(_mean(ens.point))),
            **_interval(_mean(ens.draws), confidence),
            "per_label": per_label,
        },
    }


def paired_record(
    names: list[str],
    base: tuple[str, EnsembleDraws],
    var: tuple[str, EnsembleDraws],
    confidence: float,
) -> dict[str, Any]:
    """Variant minus baseline, paired on the same resamples: the mean AUROC (verdict) and
    each label (p-values Holm-adjusted across the labels)."""
    (b_name, b), (v_name, v) = base, var
    diff = finite_or_none(float(_mean(v.point) - _mean(b.point)))
    draws = _mean(v.draws) - _mean(b.draws)
    mean = {"difference": diff, **_interval(draws, confidence), "p_value": _p_value(draws)}
    said = verdict(diff, mean["low"], mean["high"], "auroc", b_name, v_name, confidence, HEADLINE)
    rows = []
    for j, name in enumerate(names):
        d = v.draws[:, j] - b.draws[:, j]
        point = finite_or_none(float(v.point[j] - b.point[j]))
        rows.append({"label": name, "difference": point, **_interval(d, confidence)})
        rows[-1]["p_value"] = _p_value(d)
    tested = [i for i, r in enumerate(rows) if r["p_value"] is not None]
    adjusted = holm([rows[i]["p_value"] for i in tested]) if tested else []
    for i, r in enumerate(rows):
        r["p_holm"] = adjusted[tested.index(i)] if i in tested else None
    return {"mean_auroc": mean, "verdict": said, "per_label": rows}


def _load(
    runs: Sequence[RunFiles],
) -> dict[str, list[tuple[dict[str, Any], MultilabelPredictions]]]:
    """Each variant's runs (metrics.json, predictions) in the given order."""
    out: dict[str, list[tuple[dict[str, Any], MultilabelPredictions]]] = {}
    for run in runs:
        metrics = read_json(run.metrics)
        if metrics.get("task") != "multilabel":
            raise ValueError(f"{run.metrics}: not a multi-label run's metrics; rerun evaluate")
        out.setdefault(run.variant, []).append(
            (metrics, read_multilabel_predictions(run.predictions))
        )
    return out


def multilabel_statistics(
    runs: Sequence[RunFiles],
    comparisons: Mapping[str, dict[str, Any]],
    statistics: Mapping[str, Any],
    evaluated_on: str = "test",
) -> dict[str, Any]:
    """The statistics of a multi-label study's ``runs`` (see the module doc); ``evaluated_on``
    names what the predictions score: ``test``, or ``out-of-fold`` with cross-validation
    (the pool's images, each scored by the fold model that did not train on it)."""
    settings = StatisticsSettings.from_config(statistics)
    by_variant = _load(runs)
    names = next(iter(by_variant.values()))[0][1].names
    seed = derive_seed(settings.seed, "multilabel")  # one set of resamples for every variant
    draws = {
        v: ensemble_draws([p for _, p in rs], settings.n_bootstrap, seed)
        for v, rs in by_variant.items()
    }
    variants = {
        v: variant_record(names, [m for m, _ in rs], draws[v], settings.confidence)
        for v, rs in by_variant.items()
    }
    compared = {}
    for name, comp in comparisons.items():
        missing = [v for v in [comp["baseline"], *comp["variants"]] if v not in draws]
        if missing:
            raise ValueError(f"comparisons.{name}: no runs of {', '.join(missing)}")
        base = (comp["baseline"], draws[comp["baseline"]])
        compared[name] = {
            "baseline": comp["baseline"],
            "claim": comp.get("claim"),
            "results": {
                v: paired_record(names, base, (v, draws[v]), settings.confidence)
                for v in comp["variants"]
            },
        }
    return {
        "task": "multilabel",
        "evaluated_on": evaluated_on,
        "labels": names,
        "settings": {**asdict(settings), "headline": HEADLINE},
        "variants": variants,
        "comparisons": compared,
    }


def write_multilabel_statistics(
    path: Path | str,
    runs: Sequence[RunFiles],
    comparisons: Mapping[str, dict[str, Any]],
    statistics: Mapping[str, Any],
    evaluated_on: str = "test",
) -> None:
    """Write :func:`multilabel_statistics` to ``path`` (JSON) and log the verdicts."""
    result = multilabel_statistics(runs, comparisons, statistics, evaluated_on)
    for comp in result["comparisons"].values():
        for res in comp["results"].values():
            log.info("%s", res["verdict"]["text"])
    write_json(path, result)
