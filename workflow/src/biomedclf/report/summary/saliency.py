"""The saliency part of ``summary.md``: links to each comparison's saliency figure and error
gallery, and a table of every explained run's sanity check that flags maps which survive
randomisation (:mod:`biomedclf.explain.sanity`).

The explained runs are found in the study folder's layout
(:mod:`biomedclf.explain_layout`): a run (variant, seed) of the study with a ``sanity.json``
is listed, unless that file is older than the run's ``model.pt`` (left from an earlier
configuration, e.g. ``explain.seeds: all`` before ``first``; logged and left out). Only json:
the summary job stays light.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.explain.files import METHODS, read_sanity
from biomedclf.explain.sanity import SURVIVAL_THRESHOLD
from biomedclf.explain_layout import SANITY_FILE, explain_dir, figure_path
from biomedclf.layout import RunFiles
from biomedclf.report.rendering import markdown_table
from biomedclf.report.summary.setup import link

log = logging.getLogger(__name__)


def saliency_links(comp_name: str, study_dir: Path, start: Path) -> list[str]:
    """``[saliency maps](...)`` and ``[error gallery](...)`` of a comparison."""
    return [
        f"[{label}]({link(figure_path(study_dir, role, comp_name), start)})"
        for role, label in (("saliency", "saliency maps"), ("errors", "error gallery"))
    ]


def sanity_records(study_dir: Path, runs: Sequence[RunFiles]) -> list[tuple[RunFiles, dict]]:
    """(run, sanity.json) of every explained run of the study, in run order."""
    found = []
    for run in runs:
        path = explain_dir(study_dir, run.variant, run.seed) / SANITY_FILE
        if not path.is_file():
            continue
        if run.model.is_file() and path.stat().st_mtime < run.model.stat().st_mtime:
            log.warning(
                "%s is older than %s: left out of the summary (rerun explain)", path, run.model
            )
            continue
        found.append((run, read_sanity(path)))
    return found


def _number(x: Any) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _row(run: RunFiles, rec: dict[str, Any], study_dir: Path, start: Path) -> list[str]:
    """One table row: the run, its method, the correlations and the verdict."""
    rho = rec["spearman"]
    spread = f"{_number(rho['mean'])} ({_number(rho['min'])} to {_number(rho['max'])})"
    cascade = " → ".join(_number(step["mean"]) for step in rec["cascade"])
    verdict = (
        "⚠ survives randomisation"
        if rec["survives"]
        else ("passes" if rec["survives"] is False else "undetermined")
    )
    files = explain_dir(study_dir, run.variant, run.seed)
    method = f"{METHODS.get(rec['method'], rec['method'])} ({rec['layer']})"
    return [
        run.variant,
        str(run.seed),
        method,
        str(rec["n_images"]),
        spread,
        cascade,
        verdict,
        f"[maps]({link(files / 'maps.npz', start)})",
    ]


def sanity_section(study_dir: Path, runs: Sequence[RunFiles], start: Path) -> list[str]:
    """``## Saliency maps: sanity check`` (nothing when no run was explained)."""
    records = sanity_records(study_dir, runs)
    if not records:
        return []
    rows = [_row(run, rec, study_dir, start) for run, rec in records]
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
    for run, rec in records:
        if rec["survives"]:
            out.append(
                f"> ⚠ **Warning:** the maps of {run.variant} (seed {run.seed}) survive "
                f"randomisation (mean ρ {rec['spearman']['mean']:.2f} ≥ {rec['threshold']:g}): "
                "they show the image more than what the model learned."
            )
            out.append("")
    return out
