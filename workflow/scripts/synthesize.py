"""Adapter: generate the embedded synthetic image set as a class-folder tree."""

from pathlib import Path

from biomedclf.data.synthetic import generate_synthetic
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    generate_synthetic(Path(snakemake.output.images), **snakemake.params.spec)
