"""Adapter: the study-wide figures (test accuracy, accuracy vs time, calibration)."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.report.figures.plots import plot_study
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    plot_study(
        RunFiles.from_metrics(p.runs, i.metrics),
        i.stats,
        dict(snakemake.output.items()),
    )
    attach_to_study(list(snakemake.output), "figures")
