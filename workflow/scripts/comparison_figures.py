"""Adapter: one comparison's figures (learning curves, ROC, confusion matrices)."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.report.figures.plots import plot_comparison
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    plot_comparison(
        snakemake.wildcards.comparison,
        p.comparison,
        RunFiles.from_metrics(p.runs, i.metrics),
        i.stats,
        dict(snakemake.output.items()),
    )
    attach_to_study(list(snakemake.output), "figures")
