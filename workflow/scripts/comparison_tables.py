"""Adapter: one comparison's tables (baseline vs variants, and its statistics)."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.report.tables.write import write_comparison_tables

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_comparison_tables(
        snakemake.wildcards.comparison,
        p.comparison,
        RunFiles.from_metrics(p.runs, i.metrics),
        i.stats,
        dict(snakemake.output.items()),
    )
