"""Adapter: statistics across folds, ``stats/crossval.json``."""

from biomedclf.crossval.across_folds import write_study_crossval
from biomedclf.logs import log_to
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p = snakemake.params
    write_study_crossval(
        snakemake.output.stats,
        {(v, s): f for (v, s), f in zip(p.runs, snakemake.input.crossval, strict=True)},
        p.comparisons,
        primary=p.primary,
        confidence=float(p.confidence),
    )
    attach_to_study([snakemake.output.stats], "stats")
