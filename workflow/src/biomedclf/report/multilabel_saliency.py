"""The saliency part of a multi-label study's ``summary.md``: what the maps explain, each
comparison's saliency figure and error gallery, and the sanity check of every explained run
(:func:`biomedclf.report.summary.saliency.sanity_section`, the single-label summary's table).
Only json: the report job reads each run's ``sanity.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from biomedclf.report.summary.links import Links
from biomedclf.report.summary.saliency import saliency_links, sanity_records, sanity_section


def multilabel_saliency_section(
    sanity: Mapping[tuple[str, int], Path | str],
    links: Mapping[str, Any],
    summary: Path | str,
) -> str:
    """``## Saliency maps`` of a multi-label summary.md (empty without explained runs).

    ``sanity`` maps (variant, seed) to the run's sanity.json; ``links`` holds ``maps``
    (variant -> seed -> maps.npz) and ``comparisons`` (comparison -> ``saliency`` and
    ``errors`` figures), as ``explain_links()`` of workflow/rules/common.smk hands them."""
    if not sanity:
        return ""
    to = Links(links, Path(summary).parent)
    figures = [f"- {c}: " + ", ".join(saliency_links(c, to)) for c in links.get("comparisons", {})]
    return "\n".join(
        [
            "## Saliency maps\n",
            "Each map explains one label of its image, the attribution of that label's logit "
            "(`explain.label`; by default the image's most probable positive label for the "
            "explained model: the label it calls positive with the highest probability, else "
            "its most probable label). The images are chosen from each comparison's baseline: "
            "per label its most confident detected and missed findings. The error galleries "
            "show the images whose calls by the seed ensemble disagree most with their "
            "labels.\n",
            *figures,
            "",
            *sanity_section(sanity_records(sanity), to),
        ]
    )
