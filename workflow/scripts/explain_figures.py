"""Adapter: every comparison's saliency figure and error gallery (one job: they are quick to
draw, and each job costs a Python and matplotlib start)."""

from biomedclf.logs import log_to
from biomedclf.report.figures.errors import plot_explain_figures
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    plot_explain_figures(
        p.comparisons,
        maps=dict(zip(p.variants, i.maps, strict=True)),
        errors=dict(zip(p.variants, i.errors, strict=True)),
        figures={(c, k): f for (c, k), f in zip(p.figures, snakemake.output, strict=True)},
    )
    attach_to_study(list(snakemake.output), "figures")
