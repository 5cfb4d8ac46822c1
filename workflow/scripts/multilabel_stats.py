"""Adapter: the statistics of a multi-label study, to stats/multilabel.json."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.stats.multilabel import write_multilabel_statistics

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_multilabel_statistics(
        snakemake.output.stats,
        RunFiles.from_metrics(p.runs, i.metrics),
        p.comparisons,
        p.statistics,
        p.evaluated_on,
    )
