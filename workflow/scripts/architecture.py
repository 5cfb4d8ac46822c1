"""Adapter: the architecture table of every variant at the configured input size."""

from biomedclf.logs import log_to
from biomedclf.report.tables.architecture import write_architecture_table

with log_to(snakemake.log[0]):
    p = snakemake.params
    write_architecture_table(
        p.specs,
        channels=p.channels,
        image_size=p.image_size,
        n_classes=p.n_classes,
        files=list(snakemake.output.architecture),
    )
