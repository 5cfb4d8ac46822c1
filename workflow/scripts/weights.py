"""Adapter: the pretrained weights of one variant into the weights cache (downloaded when
missing) and their record (file, SHA-256, URL, library)."""

from biomedclf.logs import log_to
from biomedclf.train.weights import write_record

with log_to(snakemake.log[0]):
    write_record(snakemake.output.record, snakemake.params.source, cache=None)
