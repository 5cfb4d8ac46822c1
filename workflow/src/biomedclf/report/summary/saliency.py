"""The saliency part of ``summary.md``: a table of every explained run's sanity check that
flags maps which survive randomisation (:mod:`biomedclf.explain.sanity`), from the runs'
``sanity.json`` files. Only json: the summary job stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from biomedclf.explain.files import METHODS, read_sanity
from biomedclf.explain.sanity import SURVIVAL_THRESHOLD
from biomedclf.report.rendering import markdown_table
from biomedclf.report.summary.links import Links

#: A sanity check as the summary reads it: (variant, seed) and its sanity.json record.
Record = tuple[tuple[str, int], dict[str, Any]]


def saliency_links(comp_name: str, links: Links) -> list[str]:
    """``[saliency maps](...)`` and ``[error gallery](...)`` of a comparison."""
    return [
        f"[{label}]({links.comparison(comp_name, role)})"
        for role, label in (("saliency", "saliency maps"), ("errors", "error gallery"))
    ]


def sanity_records(sanity: Mapping[tuple[str, int], Path | str]) -> list[Record]:
    """((variant, seed), sanity.json record) of every explained run, in the given order."""
    return [((str(v), int(s)), read_sanity(path)) for (v, s), path in sanity.items()]


def _number(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _row(variant: str, seed: int, rec: dict[str, Any], links: Links) -> list[str]:
    """One table row: the run, its method, the correlations, the verdict and its maps."""
    rho = rec["spearman"]
    spread = f"{_number(rho['mean'])} ({_number(rho['min'])} to {_number(rho['max'])})"
    cascade = " → ".join(_number(step["mean"]) for step in rec["cascade"])
    verdict = (
        "⚠ survives randomisation"
        if rec["survives"]
        else ("passes" if rec["survives"] is False else "undetermined")
    )
    method = f"{METHODS.get(rec['method'], rec['method'])} ({rec['layer']})"
    return [
        variant,
        str(seed),
        method,
        str(rec["n_images"]),
        spread,
        cascade,
        verdict,
        f"[maps]({links.maps(variant, seed)})",
    ]


def sanity_section(records: list[Record], links: Links) -> list[str]:
    """``## Saliency maps: sanity check`` (nothing when no run was explained)."""
    if not records:
        return []
    rows = [_row(v, s, rec, links) for (v, s), rec in records]
    table = markdown_table(
        [
            "Variant",
            "Seed",
            "Method (layer)",
            "Images",
            "ρ trained vs random (min to max)",
            "ρ per cascade step (top layer first)",
            "Verdict",
            "Arrays",
        ],
        rows,
        ["l", "r", "l", "r", "r", "l", "l", "l"],
    ).rstrip()
    out = [
        "## Saliency maps: sanity check",
        "",
        "Each explained model's maps against those of the same model with its layers "
        "re-initialised one after the other from the output layer down (Adebayo et al., "
        "NeurIPS 2018): the Spearman rank correlation per image, mean over the images of its "
        f"comparisons' figures. Maps whose mean correlation with the fully randomised model's "
        f"is {SURVIVAL_THRESHOLD:g} or more *survive randomisation*: they show the image more "
        "than what the model learned, so do not read them as the model's reasons.",
        "",
        table,
        "",
    ]
    for (v, s), rec in records:
        if rec["survives"]:
            out.append(
                f"> ⚠ **Warning:** the maps of {v} (seed {s}) survive "
                f"randomisation (mean ρ {rec['spearman']['mean']:.2f} ≥ {rec['threshold']:g}): "
                "they show the image more than what the model learned."
            )
            out.append("")
    return out
