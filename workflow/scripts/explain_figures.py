"""Adapter: every comparison's saliency figure and error gallery (one job: they are quick to
draw, and each job costs a Python and matplotlib start)."""

from pathlib import Path

from biomedclf.explain_gallery import plot_explain_figures
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    p = snakemake.params
    plot_explain_figures(
        p.comparisons,
        dict(zip(p.variants, map(Path, snakemake.input.maps))),
        dict(zip(p.variants, map(Path, snakemake.input.errors))),
        Path(snakemake.output[0]).parent,
    )
