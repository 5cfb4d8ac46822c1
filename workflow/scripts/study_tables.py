"""Adapter: the study-wide tables (test metrics, training time, per class, ranking)."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.report.tables.write import write_study_tables

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_study_tables(
        RunFiles.from_metrics(p.runs, i.metrics),
        i.stats,
        dict(snakemake.output.items()),
    )
