"""Adapter: index, validate, decode (or gather the shard jobs' parts) and split the dataset
into the uint8 cache."""

from biomedclf.data.shards import prepare_from_parts
from biomedclf.logs import log_to

parts = [
    {"pixels": pixels, "records": records}
    for pixels, records in zip(snakemake.input.part_pixels, snakemake.input.part_records)
]
with log_to(snakemake.log[0]):
    prepare_from_parts(
        snakemake.params.data, dict(snakemake.output.items()), parts, threads=snakemake.threads
    )
