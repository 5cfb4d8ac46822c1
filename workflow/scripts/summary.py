"""Adapter: summary.md, the study's tables and each claim beside its evidence."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.report.summary.document import write_summary
from biomedclf.tracking.jobs import attach_to_study

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_summary(
        {
            "name": p.name,
            "variants": p.specs,
            "comparisons": p.comparisons,
            "folds": p.folds,
        },
        RunFiles.from_metrics(p.runs, i.metrics),
        stats=i.stats,
        data_summary=i.data_summary,
        sanity={(v, s): f for (v, s), f in zip(p.explained, i.sanity, strict=True)},
        crossval=i.crossval[0] if p.folds else None,
        sweeps=dict(zip(p.sweeps, i.sweeps, strict=True)),
        links=p.links,
        out=snakemake.output.summary,
    )
    attach_to_study([snakemake.output.summary], None)
