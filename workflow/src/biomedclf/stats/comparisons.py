"""The ``comparisons`` part of ``stats/stats.json``: each variant against its baseline.

For one comparison of the config (``{"baseline", "variants", "claim"?}``) and each of its
variants, on the seeds both ran and the same test images: paired-bootstrap differences
(variant minus baseline) of accuracy, balanced accuracy and AUROC (macro one-vs-rest for more
than two classes) per seed, pooled over seeds and on the seed-ensembled probabilities, each
with a verdict from its pooled interval (the comparison's verdict is accuracy's); McNemar's
exact test on per-image correctness; the training-time ratio; and warnings when the evidence
is thin (unpaired seeds, fewer than :data:`biomedclf.stats.significance.MIN_SEEDS` seeds, an
accuracy or AUROC interval wider than the difference).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biomedclf.evaluate.multiclass import predict_classes
from biomedclf.evaluate.run_results import VariantData
from biomedclf.stats.bootstrap import RESAMPLE_GROUPS, derive_seed, paired_bootstrap_diffs
from biomedclf.stats.descriptive import describe
from biomedclf.stats.significance import METRIC_LABELS, MIN_SEEDS, mcnemar_exact, verdict

#: Fields of a paired-bootstrap result kept in stats.json.
DIFF_FIELDS = ("difference", "low", "high", "n_valid")

#: Metrics compared, in stats.json order; a warning when their interval is wider than the
#: difference is given for those in WIDE_WARNING.
COMPARED = ("accuracy", "balanced_accuracy", "auroc")
WIDE_WARNING = ("accuracy", "auroc")


def _fmt_metric(x: float, metric: str) -> str:
    """A margin or difference for a warning: AUROC units or percentage points."""
    return f"{x:.3f}" if metric == "auroc" else f"{100 * x:.1f} pp"


def _check_members(comp_name: str, members: list[Any], data: dict[str, VariantData]) -> None:
    """Every baseline and variant of the comparison must have runs."""
    for v in members:
        if v not in data:
            raise ValueError(
                f"comparisons.{comp_name}: variant {v!r} has no runs; the runs cover "
                f"{sorted(data)} - add it to variants or fix the comparison"
            )


def _paired_seeds(comp_name: str, base: VariantData, var: VariantData) -> list[int]:
    """Seeds both variants ran, in the baseline's order; none is an error."""
    seeds = [s for s in base.seeds if s in var.seeds]
    if not seeds:
        raise ValueError(
            f"comparisons.{comp_name}: {base.name} (seeds {base.seeds}) and {var.name} "
            f"(seeds {var.seeds}) share no seed to pair; run both with the same seeds"
        )
    return seeds


def _seed_warnings(base: VariantData, var: VariantData, seeds: list[int]) -> list[str]:
    """Warnings about seeds left unpaired and about too few paired seeds."""
    warnings = []
    unpaired = sorted(set(base.seeds) ^ set(var.seeds))
    if unpaired:
        warnings.append(
            f"seeds {unpaired} ran for only one of {base.name} and {var.name}; they are left "
            "out of the paired comparison"
        )
    if len(seeds) < MIN_SEEDS:
        warnings.append(
            f"rests on {len(seeds)} seed{'s' if len(seeds) != 1 else ''}; use at least "
            f"{MIN_SEEDS} (training.seeds) to separate a real difference from seed noise"
        )
    return warnings


def _wide_interval_warning(
    pooled: dict[str, Any], metric: str, confidence: float, label: str, scope: str = "test"
) -> list[str]:
    """A warning when the interval's half-width (margin of error) exceeds the difference."""
    if pooled["difference"] is None or pooled["low"] is None:
        return []
    margin = (pooled["high"] - pooled["low"]) / 2
    if margin <= abs(pooled["difference"]):
        return []
    return [
        f"the {confidence * 100:g}% interval of the {label} "
        f"difference is wider (±{_fmt_metric(margin, metric)}) than the difference "
        f"it reports ({_fmt_metric(abs(pooled['difference']), metric)}); the {scope} "
        "images are too few to pin the effect down"
    ]


def _label(metric: str, n_classes: int, scope: str = "test") -> str:
    """The metric's name in words (``macro AUROC`` for more than two classes); ``scope``
    names what was scored (``test accuracy``, ``out-of-fold accuracy``)."""
    if metric == "auroc" and n_classes > 2:
        return "macro AUROC"
    return METRIC_LABELS[metric].replace("test", scope)


def _metric_comparisons(
    labels: np.ndarray,
    bp: np.ndarray,
    vp: np.ndarray,
    seeds: list[int],
    keys: tuple[Any, ...],
    n_bootstrap: int,
    confidence: float,
    seed: int,
    scope: str = "test",
) -> dict[str, dict[str, Any]]:
    """Per metric: paired differences per seed, pooled and ensembled, and the verdict.

    ``bp``/``vp`` are the baseline's and variant's probabilities (S, n, K) on the paired
    ``seeds``; ``keys`` (comparison, baseline, variant) name the bootstrap seeds. The metrics
    of one :data:`biomedclf.stats.bootstrap.RESAMPLE_GROUPS` entry share their resamples.
    """
    out: dict[str, dict[str, Any]] = {}
    for group, metrics in RESAMPLE_GROUPS.items():

        def diff(b: np.ndarray, v: np.ndarray, scope: Any) -> dict[str, dict[str, Any]]:
            """The paired differences of ``scope`` (a seed, ``pooled`` or ``ensemble``)."""
            rng_seed = derive_seed(seed, *keys, scope, group)
            d = paired_bootstrap_diffs(labels, b, v, metrics, n_bootstrap, confidence, rng_seed)
            return {m: {k: d[m][k] for k in DIFF_FIELDS} for m in metrics}

        per_seed = [(s, diff(b, v, s)) for s, b, v in zip(seeds, bp, vp)]
        pooled = diff(bp, vp, "pooled")
        ensemble = diff(bp.mean(axis=0), vp.mean(axis=0), "ensemble")
        for m in metrics:
            p = pooled[m]
            vd = verdict(
                p["difference"],
                p["low"],
                p["high"],
                m,
                keys[1],
                keys[2],
                confidence,
                _label(m, bp.shape[2], scope),
            )
            out[m] = {
                "per_seed": [{"seed": s, **d[m]} for s, d in per_seed],
                "pooled": p,
                "ensemble": ensemble[m],
                "verdict": vd["verdict"],
                "verdict_text": vd["text"],
            }
    return {m: out[m] for m in COMPARED}


def _mcnemar(labels: np.ndarray, bp: np.ndarray, vp: np.ndarray, seeds: list[int]) -> dict:
    """McNemar's exact test per paired seed and on the seed-ensembled calls (the predicted
    class of :func:`biomedclf.evaluate.multiclass.predict_classes`: threshold 0.5 for two classes)."""

    def right(p: np.ndarray) -> np.ndarray:
        """Whether each image's predicted class is its label."""
        return predict_classes(p) == labels

    return {
        "per_seed": [
            {"seed": s, **mcnemar_exact(right(b), right(v))} for s, b, v in zip(seeds, bp, vp)
        ],
        "ensemble": mcnemar_exact(right(bp.mean(axis=0)), right(vp.mean(axis=0))),
    }


def _train_seconds(
    base: VariantData, var: VariantData, seeds: list[int], variant_stats: dict[str, Any]
) -> dict[str, Any]:
    """Training seconds of both on the paired seeds, and the ratio of their means."""
    bt = variant_stats[base.name]["train_seconds"]["values"]
    vt = variant_stats[var.name]["train_seconds"]["values"]
    b_sec = [bt[base.seeds.index(s)] for s in seeds]
    v_sec = [vt[var.seeds.index(s)] for s in seeds]
    b_mean = describe(b_sec)["mean"]
    v_mean = describe(v_sec)["mean"]
    return {
        "baseline": describe(b_sec),
        "variant": describe(v_sec),
        "ratio": (v_mean / b_mean) if b_mean and v_mean is not None else None,
    }


def _variant_result(
    comp_name: str,
    base: VariantData,
    var: VariantData,
    variant_stats: dict[str, Any],
    n_bootstrap: int,
    confidence: float,
    seed: int,
    scope: str,
) -> dict[str, Any]:
    """The ``results.{variant}`` entry of one comparison; ``scope`` names what the
    predictions are of in its texts (``test``, ``out-of-fold``)."""
    seeds = _paired_seeds(comp_name, base, var)
    warnings = _seed_warnings(base, var, seeds)
    bp = base.probs[[base.seeds.index(s) for s in seeds]]
    vp = var.probs[[var.seeds.index(s) for s in seeds]]
    labels = base.labels
    entry: dict[str, Any] = {"seeds": seeds, "n_test": int(labels.size)}
    keys = (comp_name, base.name, var.name)
    entry.update(
        _metric_comparisons(labels, bp, vp, seeds, keys, n_bootstrap, confidence, seed, scope)
    )
    for m in WIDE_WARNING:
        label = _label(m, base.n_classes, scope)
        warnings += _wide_interval_warning(entry[m]["pooled"], m, confidence, label, scope)
    entry["mcnemar"] = _mcnemar(labels, bp, vp, seeds)
    entry["train_seconds"] = _train_seconds(base, var, seeds, variant_stats)
    entry["verdict"] = entry["accuracy"]["verdict"]
    entry["verdict_text"] = entry["accuracy"]["verdict_text"]
    entry["warnings"] = warnings
    return entry


def comparison_statistics(
    comp_name: str,
    comp: dict[str, Any],
    data: dict[str, VariantData],
    variant_stats: dict[str, dict[str, Any]],
    n_bootstrap: int,
    confidence: float,
    seed: int,
    scope: str = "test",
) -> dict[str, Any]:
    """The ``comparisons.{comp_name}`` entry of stats.json.

    ``comp`` is the config's comparison, ``data`` every variant's paired predictions
    (:func:`biomedclf.evaluate.run_results.load_variant_predictions`), ``variant_stats`` the
    ``variants`` entries already computed (for training times). Raises ``ValueError`` naming
    ``comparisons.{comp_name}`` when a member has no runs or two members share no seed.
    ``scope`` (``test``, or ``out-of-fold`` with cross-validation) names the images in the
    verdicts and warnings.
    """
    baseline = comp.get("baseline")
    variants = list(comp.get("variants") or [])
    _check_members(comp_name, [baseline, *variants], data)
    base = data[baseline]
    results = {
        v: _variant_result(
            comp_name, base, data[v], variant_stats, n_bootstrap, confidence, seed, scope
        )
        for v in variants
    }
    return {
        "baseline": baseline,
        "variants": variants,
        "claim": comp.get("claim"),
        "results": results,
    }
