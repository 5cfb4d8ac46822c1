"""Adapter: the cross-validation tables and figures (metric per fold, learning curves per
fold), from ``stats/crossval.json`` and the first seed's fold histories."""

from biomedclf.logs import log_to
from biomedclf.report.crossval import write_crossval_report
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_crossval_report(
        i.stats,
        {(v, f): h for (v, f), h in zip(p.histories, i.histories, strict=True)},
        p.comparisons,
        confidence=float(p.confidence),
        outputs=dict(snakemake.output.items()),
    )
    attach_to_study([snakemake.output.folds, snakemake.output.fold_curves], "figures")
