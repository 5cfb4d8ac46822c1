"""Adapter: the architecture table of every variant at the configured input size."""

from pathlib import Path

from biomedclf.architecture_table import write_architecture_tables
from biomedclf.logs import log_to
from biomedclf.model_summary import architecture_table

with log_to(snakemake.log[0]):
    p = snakemake.params
    rows = {
        name: architecture_table(
            spec["model"], spec["model_args"], p.channels, p.image_size, len(p.class_names)
        )
        for name, spec in p.specs.items()
    }
    write_architecture_tables(rows, Path(snakemake.output[0]).parent)
