"""Adapter: a sweep's table (sweeps/{sweep}.csv) and figure (figures/sweep_{sweep}.png)."""

from biomedclf.logs import log_to
from biomedclf.report.sweeps import write_sweep_report

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    runs = {}
    for (point, seed, _), scores in zip(p.runs, i.scores, strict=True):
        runs.setdefault((point, seed), []).append(scores)
    write_sweep_report(
        i.selection, runs, table=snakemake.output.table, figure=snakemake.output.figure
    )
