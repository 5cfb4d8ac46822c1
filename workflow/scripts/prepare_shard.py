"""Adapter: decode one shard of the dataset (data.shards > 1) into its part files."""

from biomedclf.data.shards import prepare_shard
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    prepare_shard(
        snakemake.params.data,
        int(snakemake.wildcards.shard),
        snakemake.params.shards,
        dict(snakemake.output.items()),
        threads=snakemake.threads,
    )
