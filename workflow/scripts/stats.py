"""Adapter: statistics over seeds and paired comparisons, to stats.json."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.stats.study import write_study_statistics
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_study_statistics(
        snakemake.output.stats,
        RunFiles.from_metrics(p.runs, i.metrics),
        p.comparisons,
        p.statistics,
        evaluated_on=p.evaluated_on,
    )
    attach_to_study([snakemake.output.stats], "stats")
