"""Adapter: generate the embedded synthetic image set (class folders, or a multi-label
manifest with its images)."""

from pathlib import Path

from biomedclf.data.synthetic_multilabel import synthesize
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    synthesize(Path(snakemake.output.images), **snakemake.params.spec)
