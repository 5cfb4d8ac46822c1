"""Adapter: statistics across folds (stats/crossval.json) and their tables."""

from pathlib import Path

from biomedclf.crossval_stats import write_study_crossval
from biomedclf.crossval_tables import write_crossval_tables
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    p = snakemake.params
    result = write_study_crossval(
        snakemake.output.stats,
        {v: list(files) for v, files in snakemake.input.items()},
        p.comparisons,
        primary=p.primary,
        confidence=float(p.confidence),
    )
    write_crossval_tables(result, p.comparisons, Path(snakemake.output.tables[0]).parent)
