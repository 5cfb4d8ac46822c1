"""Adapter: combine the k fold models of one cross-validated run (out-of-fold predictions and
metrics, per-fold metrics, the fold ensemble on the test split)."""

from pathlib import Path

from biomedclf.crossval import run_crossval
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    run_crossval(
        [Path(p).parent for p in snakemake.input.info],
        dict(snakemake.output.items()),
        ordinal=bool(snakemake.params.ordinal),
    )
