"""The sanity check of saliency maps: do the maps change when the model's weights do?

Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018): a map that explains what a
model has learned must change when the learned weights are replaced by random ones. The
explain job (:mod:`biomedclf.explain.saliency`) re-initialises the model's layers one after the
other, from the output layer down (a *cascade*), and computes the same maps after each step. This
module compares them with the trained model's maps by the Spearman rank correlation of the
pixel values, image by image, and decides whether the maps *survive* randomisation:

* per image: :func:`spearman` of the trained map and the randomised one (average ranks for
  ties, as ``scipy.stats.spearmanr``; tests check it against scipy). A trained map that is
  constant (e.g. Grad-CAM's ReLU left nothing) has no ranking to keep: the image is left out
  (NaN). A randomised map that is constant while the trained one is not kept nothing of it:
  0.0 (scipy would give NaN for both);
* per variant: the mean over the selected images after the last step (every layer
  re-initialised). It *survives* when that mean is at least :data:`SURVIVAL_THRESHOLD`: the
  maps then show the image more than the model, and ``summary.md`` flags them.

Only numpy: the summary reads the result without torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Mean rank correlation (trained vs fully randomised maps) from which maps are flagged as
#: surviving randomisation: at 0.5 and above, more than half of the map's ranking is left
#: once nothing learned is left, a "strong" correlation in the usual reading of Spearman's
#: rho (Adebayo et al. report values near 0 for Grad-CAM on randomised networks and above
#: 0.5 for methods that act as edge detectors, e.g. guided back-propagation).
SURVIVAL_THRESHOLD = 0.5

#: ``format`` of sanity.json; change the meaning of a field only with a new version.
SANITY_FORMAT = "biomedclf-sanity/1"


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties given their average rank (``scipy.stats.rankdata``)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    return (upper - (counts - 1) / 2.0)[inverse.reshape(-1)]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally shaped arrays (flattened); NaN when either
    is constant, as ``scipy.stats.spearmanr``."""
    x = average_ranks(np.asarray(a, dtype=np.float64).ravel())
    y = average_ranks(np.asarray(b, dtype=np.float64).ravel())
    if x.size != y.size:
        raise ValueError(f"spearman: {x.size} and {y.size} values; the maps must match")
    x -= x.mean()
    y -= y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    if denominator == 0.0:
        return math.nan
    return float(np.clip((x @ y) / denominator, -1.0, 1.0))


def _constant(m: np.ndarray) -> bool:
    return bool(m.size == 0 or np.all(m == m.flat[0]))


def map_correlations(trained: np.ndarray, randomised: np.ndarray) -> np.ndarray:
    """Per image (axis 0), the rank correlation of a trained and a randomised map, with the
    conventions of the module docstring for constant maps."""
    if trained.shape != randomised.shape:
        raise ValueError(f"maps of shapes {trained.shape} and {randomised.shape} differ")
    out = np.full(trained.shape[0], np.nan)
    for i, (t, r) in enumerate(zip(trained, randomised)):
        if _constant(t):
            continue
        out[i] = 0.0 if _constant(r) else spearman(t, r)
    return out


def describe(values: np.ndarray) -> dict[str, Any]:
    """Mean, median, min, max (None without a defined value) and n of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"mean": None, "median": None, "min": None, "max": None, "n": 0}
    return {
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
    }


def survives(mean: float | None, threshold: float = SURVIVAL_THRESHOLD) -> bool | None:
    """Whether maps with this mean correlation survive randomisation; None when undefined."""
    if mean is None or not math.isfinite(mean):
        return None
    return bool(mean >= threshold)


def verdict_text(record: dict[str, Any]) -> str:
    """One sentence on a sanity record (:func:`sanity_record`)."""
    mean = record["spearman"]["mean"]
    if mean is None:
        return "undetermined: no selected image has a non-constant trained map"
    rho = f"mean Spearman {mean:.2f} between trained and fully randomised maps"
    if record["survives"]:
        return (
            f"⚠ survives randomisation ({rho}, threshold {record['threshold']:.2f}): "
            "the maps show the image more than what the model learned"
        )
    return f"passes ({rho}, below {record['threshold']:.2f})"


def sanity_record(
    head: dict[str, Any],
    step_layers: list[list[str]],
    step_correlations: list[np.ndarray],
) -> dict[str, Any]:
    """The content of ``sanity.json`` (workflow/CONTRACTS.md, "Saliency maps").

    ``head`` holds variant, seed, method, layer and n_images; ``step_layers[i]`` are the
    modules re-initialised at cascade step ``i`` (top first), ``step_correlations[i]`` the
    per-image correlations after that step (the last step: every layer random).
    """
    if not step_layers or len(step_layers) != len(step_correlations):
        raise ValueError("a sanity record needs one correlation array per cascade step")
    final = describe(step_correlations[-1])
    record: dict[str, Any] = {
        "format": SANITY_FORMAT,
        **head,
        "statistic": "Spearman rank correlation of the trained and the randomised model's "
        "map, per image; mean over the selected images",
        "threshold": SURVIVAL_THRESHOLD,
        "spearman": final,
        "survives": survives(final["mean"]),
        "cascade": [
            {"step": i + 1, "layers": layers, **describe(c)}
            for i, (layers, c) in enumerate(zip(step_layers, step_correlations))
        ],
    }
    record["verdict"] = verdict_text(record)
    return record
