"""Where the explain step's outputs live, defined once for the rules and the library.

One explained run (a variant with a seed) writes::

    {results}/{name}/explain/{variant}/seed{seed}/maps.npz, sanity.json, errors.npz

and each comparison gets ``figures/saliency_{comp}.png`` and ``figures/errors_{comp}.png``.
Nothing is imported here, so the Snakefile can use it at no cost.
"""

from __future__ import annotations

from pathlib import Path

#: Folder of the explain outputs inside a study folder, and the two files of a run.
EXPLAIN_DIR = "explain"
MAPS_FILE = "maps.npz"
SANITY_FILE = "sanity.json"
ERRORS_FILE = "errors.npz"

#: The figures of a comparison, by role: ``figures/{prefix}_{comp}.png``.
FIGURES = {"saliency": "saliency", "errors": "errors"}


def explain_dir(study_dir: Path | str, variant: str, seed: int | str) -> Path:
    """``{study_dir}/explain/{variant}/seed{seed}`` (``variant``/``seed`` may be wildcards)."""
    return Path(study_dir) / EXPLAIN_DIR / str(variant) / f"seed{seed}"


def figure_path(study_dir: Path | str, role: str, comparison: str) -> Path:
    """``{study_dir}/figures/{saliency|errors}_{comparison}.png``."""
    return Path(study_dir) / "figures" / f"{FIGURES[role]}_{comparison}.png"
