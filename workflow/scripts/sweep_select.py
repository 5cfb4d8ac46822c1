"""Adapter: a sweep's point chosen on validation numbers, to sweeps/{sweep}.json."""

from biomedclf.logs import log_to
from biomedclf.sweeps.selection import write_sweep_selection

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_sweep_selection(
        snakemake.output.selection,
        p.sweep,
        p.runs,
        {role: list(i[role]) for role in ("scores", "history", "info")},
        primary=p.primary,
        specs=p.specs,
        folds=p.folds,
    )
