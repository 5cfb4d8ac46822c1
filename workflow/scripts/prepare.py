"""Adapter: index, validate, decode and split the dataset into the uint8 cache."""

from biomedclf.data.prepare import prepare_dataset
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    prepare_dataset(
        snakemake.params.data, dict(snakemake.output.items()), threads=snakemake.threads
    )
