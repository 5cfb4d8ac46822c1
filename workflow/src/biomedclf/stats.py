"""Statistics of a study: is a difference between two variants real, or test-set noise?

The homework draws its conclusions from one run per model on a 400-image test set. This module
turns the per-run files (workflow/CONTRACTS.md: ``history.csv``, ``train.json``, ``metrics.json``,
``predictions.csv``) into evidence:

* per variant, over seeds: mean and standard deviation of every test metric, of the
  overfitting gap (final-epoch train accuracy minus validation accuracy) and of training time;
* per variant: percentile-bootstrap intervals of test accuracy and AUROC, resampling test
  images, per seed, for the mean over seeds and for the seed-ensembled probabilities;
* per variant: calibration (expected calibration error, reliability-diagram data);
* per comparison: paired differences (variant minus baseline, on the same test images) with
  paired-bootstrap intervals per seed, pooled over seeds and on the ensembled predictions;
  McNemar's exact test; a verdict in words; warnings when the evidence is thin.

The small pure functions (:func:`bootstrap_ci`, :func:`paired_bootstrap_diff`,
:func:`mcnemar_exact`, :func:`expected_calibration_error`, :func:`reliability_curve`,
:func:`verdict`) are the tested building blocks; :func:`study_statistics` assembles them into
the JSON-serialisable dict that the workflow writes to ``results/{name}/stats/stats.json``.

The bootstrap is vectorised: a block of resamples is a matrix of image indices, turned into a
matrix of multiplicities (how often each image is drawn), so a statistic over all resamples is a
matrix product (accuracy) or a weighted rank statistic (AUROC).

The loaders (:func:`load_history`, :func:`load_train_info`, :func:`load_metrics`,
:func:`load_predictions`) are shared with :mod:`biomedclf.tables`, :mod:`biomedclf.plots` and
:mod:`biomedclf.summary`. This module imports only numpy at import time; scipy is imported by
the function that needs it.
"""

from __future__ import annotations

import csv
import logging
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import read_json
from biomedclf.metrics import METRIC_KEYS, binary_metrics
from biomedclf.runs import RunFiles

log = logging.getLogger(__name__)

#: Metric blocks of metrics.json summarised over seeds.
METRIC_BLOCKS = ("threshold_0.5", "threshold_youden")

#: Scalar metrics of one block; ``threshold`` is kept for the Youden block.
BLOCK_METRICS = tuple(k for k in METRIC_KEYS if k != "confusion_matrix")

#: Metrics that the bootstrap, the paired comparisons and the verdicts cover.
BOOTSTRAP_METRICS = ("accuracy", "auroc")

#: Fewer seeds than this make a comparison's summary carry a warning.
MIN_SEEDS = 3

#: Upper bound on the number of matrix cells one block of resamples may hold.
_MAX_CELLS = 4_000_000


# --------------------------------------------------------------------------------------------
# Loading the per-run files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predictions:
    """The test predictions of one run (``predictions.csv``)."""

    paths: list[str]
    labels: np.ndarray  # int 0/1, shape (n,)
    probabilities: np.ndarray  # float, shape (n,), probability of the positive class
    source: Path


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing {what}; run the step that writes it (train/evaluate) first"
        )
    return path


def load_history(run: RunFiles) -> dict[str, np.ndarray]:
    """Read ``history.csv`` of ``run`` into column arrays (``epoch`` as int, others float)."""
    path = _require(run.history, "training history")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no epochs recorded; rerun the training job")
    needed = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; rerun the training job")
    out: dict[str, np.ndarray] = {}
    for col in rows[0]:
        values = [r[col] for r in rows]
        if col == "epoch":
            out[col] = np.array([int(float(v)) for v in values], dtype=int)
        else:
            out[col] = np.array([float(v) if v not in ("", None) else np.nan for v in values])
    return out


def load_train_info(run: RunFiles) -> dict[str, Any]:
    """Read ``train.json`` of ``run``."""
    return read_json(_require(run.train_json, "training record (train.json)"))


def load_metrics(run: RunFiles) -> dict[str, Any]:
    """Read ``metrics.json`` of ``run``."""
    return read_json(_require(run.metrics, "test metrics (metrics.json)"))


def load_predictions(run: RunFiles) -> Predictions:
    """Read ``predictions.csv`` of ``run``; paths must be unique."""
    path = _require(run.predictions, "test predictions (predictions.csv)")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no predictions; rerun the evaluation job")
    for col in ("path", "label", "probability"):
        if col not in rows[0]:
            raise ValueError(f"{path}: missing column '{col}'; rerun the evaluation job")
    paths = [r["path"] for r in rows]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{path}: duplicate image paths; rerun the evaluation job")
    labels = np.array([int(float(r["label"])) for r in rows], dtype=int)
    probs = np.array([float(r["probability"]) for r in rows], dtype=float)
    return Predictions(paths=paths, labels=labels, probabilities=probs, source=path)


def align_predictions(reference: Predictions, other: Predictions) -> Predictions:
    """Reorder ``other`` to the image order of ``reference`` (pairing by path).

    Raises ``ValueError`` naming both files when the two test sets differ or a label disagrees.
    """
    if other.paths == reference.paths:
        order = np.arange(len(other.paths))
    else:
        if set(other.paths) != set(reference.paths):
            only_ref = sorted(set(reference.paths) - set(other.paths))[:3]
            only_other = sorted(set(other.paths) - set(reference.paths))[:3]
            raise ValueError(
                f"{other.source} and {reference.source}: the test images differ "
                f"(e.g. only in the first: {only_other}, only in the second: {only_ref}); "
                "both runs must be evaluated on the same test split - rerun the evaluation "
                "of the study with one data cache"
            )
        index = {p: i for i, p in enumerate(other.paths)}
        order = np.array([index[p] for p in reference.paths], dtype=int)
    labels = other.labels[order]
    if not np.array_equal(labels, reference.labels):
        bad = reference.paths[int(np.flatnonzero(labels != reference.labels)[0])]
        raise ValueError(
            f"{other.source} and {reference.source}: image {bad!r} has different labels; "
            "both runs must use the same data cache - rerun the evaluation"
        )
    return Predictions(
        paths=list(reference.paths),
        labels=labels,
        probabilities=other.probabilities[order],
        source=other.source,
    )


# --------------------------------------------------------------------------------------------
# Small pure functions
# --------------------------------------------------------------------------------------------


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def derive_seed(seed: int, *keys: object) -> int:
    """A stable seed for one bootstrap, from the study seed and names (``variant``, ...).

    Uses CRC32 of the names, so it is the same across processes and Python versions.
    """
    text = "\x1f".join(str(k) for k in keys)
    return int(np.random.SeedSequence([int(seed), zlib.crc32(text.encode())]).generate_state(1)[0])


def bootstrap_weights(
    n: int, n_bootstrap: int, seed: int | np.random.Generator | None = 0
) -> Iterable[np.ndarray]:
    """Yield blocks of resample multiplicities, each of shape (block, n), rows summing to n.

    Each block comes from a matrix of indices drawn uniformly with replacement; row ``b``,
    column ``i`` counts how often image ``i`` was drawn in resample ``b``. Blocks keep memory
    bounded for large test sets; the sequence is fully determined by ``seed``.
    """
    if n < 1:
        raise ValueError("bootstrap needs at least one test image")
    rng = _rng(seed)
    block = max(1, min(n_bootstrap, _MAX_CELLS // n))
    done = 0
    while done < n_bootstrap:
        size = min(block, n_bootstrap - done)
        idx = rng.integers(0, n, size=(size, n))
        offsets = idx + (np.arange(size) * n)[:, None]
        yield np.bincount(offsets.ravel(), minlength=size * n).reshape(size, n)
        done += size


def weighted_auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of ``scores`` for each row of multiplicities ``weights`` (shape (B, n)).

    The Mann-Whitney statistic with ties counted one half, the same value as
    ``sklearn.metrics.roc_auc_score`` on the resampled data. Rows without both classes give NaN.
    Also accepts ``scores`` of shape (S, n) (one row per seed), returning shape (S, B).
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.atleast_2d(np.asarray(weights))
    if scores.ndim == 2:
        return np.stack([weighted_auroc(labels, s, weights) for s in scores])
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    pos = labels[order]
    # group = run of tied scores; ends[g] = index of the last item of group g
    new_group = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    group = np.cumsum(new_group) - 1
    ends = np.r_[np.flatnonzero(new_group)[1:] - 1, scores.size - 1]
    w = weights[:, order]
    cum_neg = np.cumsum(np.where(pos, 0, w), axis=1)[:, ends]  # negatives up to group end
    tied_neg = np.diff(cum_neg, axis=1, prepend=0)
    below_neg = cum_neg - tied_neg
    g_pos = group[pos]
    w_pos = w[:, pos]
    u = np.sum(w_pos * (below_neg[:, g_pos] + 0.5 * tied_neg[:, g_pos]), axis=1)
    denom = w_pos.sum(axis=1) * cum_neg[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, u / np.where(denom > 0, denom, 1), np.nan)


def _statistic(
    metric: str, labels: np.ndarray, scores: np.ndarray, weights: np.ndarray, threshold: float
) -> np.ndarray:
    """``metric`` of scores (n,) or (S, n) under multiplicities (B, n): shape (B,) or (S, B)."""
    if metric == "accuracy":
        correct = ((np.asarray(scores) >= threshold).astype(int) == labels).astype(float)
        return correct @ weights.T / weights.shape[1]
    if metric == "auroc":
        return weighted_auroc(labels, scores, weights)
    raise ValueError(f"metric {metric!r}: unknown; use one of {BOOTSTRAP_METRICS}")


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None, int]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None, 0
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high), int(finite.size)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence {confidence}: must lie strictly between 0 and 1")


def bootstrap_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    metric: str = "accuracy",
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Percentile-bootstrap interval of ``metric`` (``accuracy`` or ``auroc``), resampling images.

    ``scores`` are positive-class probabilities, shape (n,) or (S, n); with several rows
    (seeds) the statistic is the mean over rows, computed inside each resample.
    Returns ``{"estimate", "low", "high", "n_bootstrap", "n_valid", "confidence"}``; the
    estimate is the statistic on the full test set. ``n_valid`` counts resamples where the
    statistic was defined (AUROC needs both classes).
    """
    _check_confidence(confidence)
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    n = labels.shape[0]
    full = _statistic(metric, labels, scores, np.ones((1, n)), threshold)
    estimate = float(np.mean(full)) if np.all(np.isfinite(full)) else float("nan")
    draws = []
    for w in bootstrap_weights(n, n_bootstrap, seed):
        stat = _statistic(metric, labels, scores, w, threshold)
        draws.append(stat.mean(axis=0) if stat.ndim == 2 else stat)
    low, high, n_valid = _interval(np.concatenate(draws), confidence)
    return {
        "estimate": _finite_or_none(estimate),
        "low": low,
        "high": high,
        "n_bootstrap": int(n_bootstrap),
        "n_valid": n_valid,
        "confidence": float(confidence),
    }


def paired_bootstrap_diff(
    labels: Sequence[int] | np.ndarray,
    baseline_scores: Sequence[float] | np.ndarray,
    variant_scores: Sequence[float] | np.ndarray,
    metric: str = "accuracy",
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int | np.random.Generator | None = 0,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Paired-bootstrap interval of ``metric(variant) - metric(baseline)`` on the same images.

    Both score arrays have shape (n,) (one seed) or (S, n) (row ``s`` of the variant paired
    with row ``s`` of the baseline). Each resample draws test images once and applies them to
    both models, so the pairing is kept; with several seeds the difference is averaged over
    seeds inside each resample (the *pooled* difference).
    Returns ``{"difference", "low", "high", "n_bootstrap", "n_valid", "confidence"}``.
    """
    _check_confidence(confidence)
    labels = np.asarray(labels, dtype=int)
    base = np.asarray(baseline_scores, dtype=float)
    var = np.asarray(variant_scores, dtype=float)
    if base.shape != var.shape:
        raise ValueError(
            f"paired scores differ in shape ({base.shape} vs {var.shape}); pair the same "
            "seeds and the same test images"
        )
    n = labels.shape[0]

    def diff(w: np.ndarray) -> np.ndarray:
        d = _statistic(metric, labels, var, w, threshold) - _statistic(
            metric, labels, base, w, threshold
        )
        return d.mean(axis=0) if d.ndim == 2 else d

    full = diff(np.ones((1, n)))[0]
    draws = np.concatenate([diff(w) for w in bootstrap_weights(n, n_bootstrap, seed)])
    low, high, n_valid = _interval(draws, confidence)
    return {
        "difference": _finite_or_none(float(full)),
        "low": low,
        "high": high,
        "n_bootstrap": int(n_bootstrap),
        "n_valid": n_valid,
        "confidence": float(confidence),
    }


def mcnemar_exact(
    baseline_correct: Sequence[bool] | np.ndarray, variant_correct: Sequence[bool] | np.ndarray
) -> dict[str, Any]:
    """McNemar's exact test on paired correct/incorrect outcomes.

    ``baseline_only`` counts images the baseline got right and the variant wrong,
    ``variant_only`` the reverse. Under the null hypothesis of equal error rates the
    discordant pairs split 50:50; the two-sided p-value is
    ``scipy.stats.binomtest(variant_only, baseline_only + variant_only, 0.5)`` (1.0 when there
    is no discordant pair).
    """
    from scipy.stats import binomtest

    b = np.asarray(baseline_correct, dtype=bool)
    v = np.asarray(variant_correct, dtype=bool)
    if b.shape != v.shape:
        raise ValueError(f"paired outcomes differ in length ({b.shape} vs {v.shape})")
    baseline_only = int(np.sum(b & ~v))
    variant_only = int(np.sum(~b & v))
    discordant = baseline_only + variant_only
    p = 1.0 if discordant == 0 else float(binomtest(variant_only, discordant, 0.5).pvalue)
    return {
        "baseline_only": baseline_only,
        "variant_only": variant_only,
        "discordant": discordant,
        "n": int(b.size),
        "p_value": min(1.0, p),
    }


def _bin_index(probabilities: np.ndarray, n_bins: int) -> np.ndarray:
    if n_bins < 1:
        raise ValueError(f"calibration bins {n_bins}: need at least 1")
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    return np.minimum((p * n_bins).astype(int), n_bins - 1)


def reliability_curve(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    n_bins: int = 10,
) -> list[dict[str, Any]]:
    """Reliability-diagram data over ``n_bins`` equal-width bins of [0, 1].

    One dict per bin: ``lower``, ``upper``, ``count``, ``mean_probability`` (mean predicted
    probability in the bin) and ``observed_frequency`` (fraction of positives); the last two
    are ``None`` for empty bins. The last bin includes 1.0.
    """
    labels = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    idx = _bin_index(p, n_bins)
    counts = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=labels, minlength=n_bins)
    bins = []
    for k in range(n_bins):
        c = int(counts[k])
        bins.append(
            {
                "lower": k / n_bins,
                "upper": (k + 1) / n_bins,
                "count": c,
                "mean_probability": float(sum_p[k] / c) if c else None,
                "observed_frequency": float(sum_y[k] / c) if c else None,
            }
        )
    return bins


def expected_calibration_error(
    labels: Sequence[int] | np.ndarray,
    probabilities: Sequence[float] | np.ndarray,
    n_bins: int = 10,
) -> float:
    """Expected calibration error with equal-width bins.

    ``sum_k (n_k / N) * |mean probability_k - fraction of positives_k|``, over the
    positive-class probability (the reliability diagram's quantity).
    """
    bins = reliability_curve(labels, probabilities, n_bins)
    total = sum(b["count"] for b in bins)
    if total == 0:
        return float("nan")
    return float(
        sum(
            b["count"] / total * abs(b["mean_probability"] - b["observed_frequency"])
            for b in bins
            if b["count"]
        )
    )


def verdict(
    difference: float | None,
    low: float | None,
    high: float | None,
    metric: str = "accuracy",
    baseline: str = "baseline",
    variant: str = "variant",
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Turn a paired difference (variant minus baseline) and its interval into words.

    ``better`` when the whole interval lies above zero, ``worse`` when below, otherwise
    ``no detectable difference``. The text carries the effect size: the difference in
    percentage points for accuracy, in AUROC units for AUROC, with the interval.
    """
    if difference is None or low is None or high is None:
        return {
            "verdict": "undetermined",
            "metric": metric,
            "text": f"{variant} vs {baseline}: {metric} difference could not be computed",
        }
    if low > 0:
        word = "better"
    elif high < 0:
        word = "worse"
    else:
        word = "no detectable difference"
    effect = format_difference(difference, low, high, metric, confidence)
    label = METRIC_LABELS.get(metric, metric)
    if word == "no detectable difference":
        text = f"no detectable difference between {variant} and {baseline} in {label}: {effect}"
    else:
        text = f"{variant} is {word} than {baseline} in {label}: {effect}"
    return {"verdict": word, "metric": metric, "text": text}


#: Human-readable metric names.
METRIC_LABELS = {
    "accuracy": "test accuracy",
    "auroc": "AUROC",
    "balanced_accuracy": "balanced accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "precision": "precision",
    "f1": "F1",
    "average_precision": "average precision",
    "brier": "Brier score",
}


def format_difference(
    difference: float | None,
    low: float | None,
    high: float | None,
    metric: str = "accuracy",
    confidence: float = 0.95,
) -> str:
    """``+5.0 pp (95% CI +1.2 to +8.8)`` for accuracy; ``+0.031 (95% CI ...)`` for AUROC."""
    if difference is None:
        return "n/a"
    pct = f"{confidence * 100:g}%"
    if metric in ("auroc", "average_precision", "brier"):
        fmt = "{:+.3f}"
        unit = ""
    else:
        fmt = "{:+.1f}"
        unit = " pp"
        difference, low, high = (None if x is None else 100 * x for x in (difference, low, high))
    text = fmt.format(difference) + unit
    if low is not None and high is not None:
        text += f" ({pct} CI {fmt.format(low)} to {fmt.format(high)})"
    return text


# --------------------------------------------------------------------------------------------
# Summaries over seeds
# --------------------------------------------------------------------------------------------


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def describe(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation (ddof=1; ``None`` with one value), min, max, values."""
    vals = [None if v is None else _finite_or_none(v) for v in values]
    finite = np.array([v for v in vals if v is not None], dtype=float)
    n = int(finite.size)
    return {
        "mean": float(finite.mean()) if n else None,
        "sd": float(finite.std(ddof=1)) if n > 1 else None,
        "min": float(finite.min()) if n else None,
        "max": float(finite.max()) if n else None,
        "n": n,
        "values": vals,
    }


@dataclass
class _VariantData:
    name: str
    seeds: list[int]
    runs: list[RunFiles]
    labels: np.ndarray  # (n,)
    probs: np.ndarray  # (S, n), aligned to the study's reference order
    sources: list[Path]


def _group_runs(runs: Sequence[RunFiles]) -> dict[str, list[RunFiles]]:
    grouped: dict[str, list[RunFiles]] = {}
    for run in runs:
        grouped.setdefault(run.variant, []).append(run)
    for variant, rs in grouped.items():
        seeds = [r.seed for r in rs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"variant {variant}: seed listed twice in {seeds}")
        rs.sort(key=lambda r: r.seed)
    return grouped


def _load_variant_predictions(
    grouped: dict[str, list[RunFiles]],
) -> tuple[Predictions, dict[str, _VariantData]]:
    reference: Predictions | None = None
    out: dict[str, _VariantData] = {}
    for variant, rs in grouped.items():
        probs = []
        sources = []
        for run in rs:
            pred = load_predictions(run)
            if reference is None:
                reference = pred
            else:
                pred = align_predictions(reference, pred)
            probs.append(pred.probabilities)
            sources.append(pred.source)
        assert reference is not None
        out[variant] = _VariantData(
            name=variant,
            seeds=[r.seed for r in rs],
            runs=rs,
            labels=reference.labels,
            probs=np.vstack(probs),
            sources=sources,
        )
    if reference is None:
        raise ValueError("no runs given; the study lists no variants or seeds")
    return reference, out


def _ci_dict(ci: dict[str, Any]) -> dict[str, Any]:
    return {k: ci[k] for k in ("estimate", "low", "high", "n_valid")}


def _variant_statistics(
    data: _VariantData,
    n_bootstrap: int,
    confidence: float,
    seed: int,
    calibration_bins: int,
) -> dict[str, Any]:
    metrics = [load_metrics(r) for r in data.runs]
    infos = [load_train_info(r) for r in data.runs]
    histories = [load_history(r) for r in data.runs]

    blocks: dict[str, dict[str, Any]] = {}
    for block in METRIC_BLOCKS:
        present = [m.get(block) for m in metrics]
        if any(b is None for b in present):
            missing = [str(r.metrics) for r, b in zip(data.runs, present) if b is None]
            raise ValueError(f"{missing[0]}: no '{block}' block; rerun the evaluation job")
        blocks[block] = {
            k: describe([b.get(k) for b in present])
            for k in BLOCK_METRICS
            if any(b.get(k) is not None for b in present)
        }

    final_train = [float(h["train_accuracy"][-1]) for h in histories]
    final_val = [float(h["val_accuracy"][-1]) for h in histories]
    gap = [t - v for t, v in zip(final_train, final_val)]

    def info_values(key: str) -> list[Any]:
        return [i.get(key) for i in infos]

    def single(key: str) -> Any:
        vals = [v for v in info_values(key) if v is not None]
        uniq = sorted(set(map(str, vals)))
        if not uniq:
            return None
        if len(uniq) == 1:
            return vals[0]
        return ", ".join(uniq)

    labels = data.labels
    ens = data.probs.mean(axis=0)
    boot: dict[str, Any] = {"per_seed": [], "seed_mean": {}, "ensemble": {}}
    for s, probs in zip(data.seeds, data.probs):
        entry: dict[str, Any] = {"seed": s}
        for m in BOOTSTRAP_METRICS:
            entry[m] = _ci_dict(
                bootstrap_ci(
                    labels, probs, m, n_bootstrap, confidence, derive_seed(seed, data.name, s, m)
                )
            )
        boot["per_seed"].append(entry)
    for m in BOOTSTRAP_METRICS:
        boot["seed_mean"][m] = _ci_dict(
            bootstrap_ci(
                labels,
                data.probs,
                m,
                n_bootstrap,
                confidence,
                derive_seed(seed, data.name, "seed_mean", m),
            )
        )
        boot["ensemble"][m] = _ci_dict(
            bootstrap_ci(
                labels,
                ens,
                m,
                n_bootstrap,
                confidence,
                derive_seed(seed, data.name, "ensemble", m),
            )
        )

    pooled_y = np.tile(labels, len(data.seeds))
    pooled_p = data.probs.ravel()
    calibration = {
        "n_bins": calibration_bins,
        "ece": expected_calibration_error(pooled_y, pooled_p, calibration_bins),
        "ece_per_seed": describe(
            [expected_calibration_error(labels, p, calibration_bins) for p in data.probs]
        ),
        "ece_ensemble": expected_calibration_error(labels, ens, calibration_bins),
        "bins": reliability_curve(pooled_y, pooled_p, calibration_bins),
    }

    return {
        "seeds": list(data.seeds),
        "n_seeds": len(data.seeds),
        "n_test": int(labels.size),
        "metrics": blocks,
        "final_train_accuracy": describe(final_train),
        "final_val_accuracy": describe(final_val),
        "overfitting_gap": describe(gap),
        "final_train_loss": describe([float(h["train_loss"][-1]) for h in histories]),
        "final_val_loss": describe([float(h["val_loss"][-1]) for h in histories]),
        "epochs_run": describe([len(h["epoch"]) for h in histories]),
        "train_seconds": describe(info_values("train_seconds")),
        "images_per_second": describe(info_values("images_per_second")),
        "peak_memory_mb": describe(info_values("peak_memory_mb")),
        "parameters": single("parameters"),
        "model": single("model"),
        "device": single("device"),
        "device_name": single("device_name"),
        "ensemble": binary_metrics(labels, ens),
        "bootstrap": boot,
        "calibration": calibration,
    }


def _comparison_statistics(
    comp_name: str,
    comp: dict[str, Any],
    data: dict[str, _VariantData],
    variant_stats: dict[str, dict[str, Any]],
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    baseline = comp.get("baseline")
    variants = list(comp.get("variants") or [])
    for v in [baseline, *variants]:
        if v not in data:
            raise ValueError(
                f"comparisons.{comp_name}: variant {v!r} has no runs; the runs cover "
                f"{sorted(data)} - add it to variants or fix the comparison"
            )
    base = data[baseline]
    results: dict[str, Any] = {}
    for v in variants:
        var = data[v]
        seeds = [s for s in base.seeds if s in var.seeds]
        warnings: list[str] = []
        if not seeds:
            raise ValueError(
                f"comparisons.{comp_name}: {baseline} (seeds {base.seeds}) and {v} "
                f"(seeds {var.seeds}) share no seed to pair; run both with the same seeds"
            )
        unpaired = sorted(set(base.seeds) ^ set(var.seeds))
        if unpaired:
            warnings.append(
                f"seeds {unpaired} ran for only one of {baseline} and {v}; they are left out "
                "of the paired comparison"
            )
        if len(seeds) < MIN_SEEDS:
            warnings.append(
                f"rests on {len(seeds)} seed{'s' if len(seeds) != 1 else ''}; use at least "
                f"{MIN_SEEDS} (training.seeds) to separate a real difference from seed noise"
            )
        bp = base.probs[[base.seeds.index(s) for s in seeds]]
        vp = var.probs[[var.seeds.index(s) for s in seeds]]
        labels = base.labels
        entry: dict[str, Any] = {"seeds": seeds, "n_test": int(labels.size)}
        for m in BOOTSTRAP_METRICS:
            per_seed = []
            for s, b_row, v_row in zip(seeds, bp, vp):
                d = paired_bootstrap_diff(
                    labels,
                    b_row,
                    v_row,
                    m,
                    n_bootstrap,
                    confidence,
                    derive_seed(seed, comp_name, baseline, v, s, m),
                )
                per_seed.append({"seed": s, **_diff_dict(d)})
            pooled = _diff_dict(
                paired_bootstrap_diff(
                    labels,
                    bp,
                    vp,
                    m,
                    n_bootstrap,
                    confidence,
                    derive_seed(seed, comp_name, baseline, v, "pooled", m),
                )
            )
            ensemble = _diff_dict(
                paired_bootstrap_diff(
                    labels,
                    bp.mean(axis=0),
                    vp.mean(axis=0),
                    m,
                    n_bootstrap,
                    confidence,
                    derive_seed(seed, comp_name, baseline, v, "ensemble", m),
                )
            )
            vd = verdict(
                pooled["difference"], pooled["low"], pooled["high"], m, baseline, v, confidence
            )
            entry[m] = {
                "per_seed": per_seed,
                "pooled": pooled,
                "ensemble": ensemble,
                "verdict": vd["verdict"],
                "verdict_text": vd["text"],
            }
            if pooled["difference"] is not None and pooled["low"] is not None:
                # The interval is wider than the difference when its half-width (the margin
                # of error) exceeds the difference: the data cannot pin the effect down.
                margin = (pooled["high"] - pooled["low"]) / 2
                if margin > abs(pooled["difference"]):
                    warnings.append(
                        f"the {confidence * 100:g}% interval of the {METRIC_LABELS[m]} "
                        f"difference is wider (±{_fmt_metric(margin, m)}) than the difference "
                        f"it reports ({_fmt_metric(abs(pooled['difference']), m)}); the test "
                        "set is too small to pin the effect down"
                    )
        entry["mcnemar"] = {
            "per_seed": [
                {"seed": s, **mcnemar_exact((b_row >= 0.5) == labels, (v_row >= 0.5) == labels)}
                for s, b_row, v_row in zip(seeds, bp, vp)
            ],
            "ensemble": mcnemar_exact(
                (bp.mean(axis=0) >= 0.5) == labels, (vp.mean(axis=0) >= 0.5) == labels
            ),
        }
        bt = variant_stats[baseline]["train_seconds"]["values"]
        vt = variant_stats[v]["train_seconds"]["values"]
        b_sec = [bt[base.seeds.index(s)] for s in seeds]
        v_sec = [vt[var.seeds.index(s)] for s in seeds]
        b_mean = describe(b_sec)["mean"]
        v_mean = describe(v_sec)["mean"]
        entry["train_seconds"] = {
            "baseline": describe(b_sec),
            "variant": describe(v_sec),
            "ratio": (v_mean / b_mean) if b_mean and v_mean is not None else None,
        }
        entry["verdict"] = entry["accuracy"]["verdict"]
        entry["verdict_text"] = entry["accuracy"]["verdict_text"]
        entry["warnings"] = warnings
        results[v] = entry
    return {
        "baseline": baseline,
        "variants": variants,
        "claim": comp.get("claim"),
        "results": results,
    }


def _diff_dict(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in ("difference", "low", "high", "n_valid")}


def _fmt_metric(x: float, metric: str) -> str:
    return f"{x:.3f}" if metric == "auroc" else f"{100 * x:.1f} pp"


def study_statistics(
    runs: list[RunFiles],
    comparisons: dict,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    calibration_bins: int = 10,
) -> dict:
    """All statistics of a study, as a JSON-serialisable dict (``stats/stats.json``).

    ``runs`` are the study's runs (:func:`biomedclf.runs.study_runs`), ``comparisons`` the
    config's ``comparisons:`` mapping (``{name: {"baseline", "variants", "claim"?}}``). Every
    run must have been evaluated on the same test images (paired by path; a mismatch raises
    ``ValueError`` naming the two files). Undefined values (an SD of one seed, an AUROC
    without both classes) are ``None``.

    Layout::

        {"settings": {...}, "n_test", "class_balance", "warnings": [...],
         "variants": {v: {"seeds", "metrics": {block: {metric: describe}}, "overfitting_gap",
                          "final_train_accuracy", "final_val_accuracy", "train_seconds",
                          "images_per_second", "parameters", "device", "ensemble": {...},
                          "bootstrap": {"per_seed": [...], "seed_mean": {...},
                                        "ensemble": {...}},
                          "calibration": {"ece", "bins": [...], ...}}},
         "comparisons": {c: {"baseline", "variants", "claim",
                             "results": {v: {"seeds", "accuracy": {"per_seed", "pooled",
                                             "ensemble", "verdict", "verdict_text"},
                                             "auroc": {...}, "mcnemar": {...},
                                             "train_seconds": {...}, "verdict",
                                             "verdict_text", "warnings"}}}}}

    where ``describe`` is ``{"mean", "sd", "min", "max", "n", "values"}`` (values in seed
    order) and an interval is ``{"estimate"|"difference", "low", "high", "n_valid"}``.
    """
    if n_bootstrap < 1:
        raise ValueError(f"statistics.n_bootstrap {n_bootstrap}: must be at least 1")
    _check_confidence(confidence)
    grouped = _group_runs(runs)
    reference, data = _load_variant_predictions(grouped)
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
        name: _comparison_statistics(name, comp, data, variants, n_bootstrap, confidence, seed)
        for name, comp in (comparisons or {}).items()
    }
    warnings = []
    for name, v in variants.items():
        if v["n_seeds"] < MIN_SEEDS:
            warnings.append(f"variant {name}: {v['n_seeds']} seed(s); use at least {MIN_SEEDS}")
    return {
        "settings": {
            "n_bootstrap": int(n_bootstrap),
            "confidence": float(confidence),
            "seed": int(seed),
            "calibration_bins": int(calibration_bins),
            "interval": "percentile bootstrap over test images",
            "threshold": 0.5,
            "min_seeds": MIN_SEEDS,
        },
        "n_test": int(reference.labels.size),
        "n_positive": int(reference.labels.sum()),
        "warnings": warnings,
        "variants": variants,
        "comparisons": comps,
    }
