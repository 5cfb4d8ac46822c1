"""Adapter: the statistics of a multi-label study, to stats/multilabel.json."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.stats.multilabel import write_multilabel_statistics

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_multilabel_statistics(
        snakemake.output.stats,
        RunFiles.zip(p.runs, i.history, i.train_json, i.metrics, i.predictions),
        p.comparisons,
        p.statistics,
        p.evaluated_on,
    )
