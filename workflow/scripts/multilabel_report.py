"""Adapter: a multi-label study's tables, figures and summary.md."""

from biomedclf.layout import RunFiles
from biomedclf.logs import log_to
from biomedclf.report.multilabel import write_multilabel_report

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    write_multilabel_report(
        {**p.outputs, "summary": snakemake.output.summary},
        i.stats,
        i.data_summary,
        i.manifest,
        RunFiles.from_metrics(p.runs, i.metrics),
        p.name,
        sanity={(v, s): f for (v, s), f in zip(p.explained, i.sanity, strict=True)},
        saliency_links=p.saliency_links,
    )
