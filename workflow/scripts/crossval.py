"""Adapter: combine the k fold models of one cross-validated run (out-of-fold predictions and
metrics, per-fold metrics, the fold ensemble on the test split)."""

from biomedclf.crossval.combine import run_crossval
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    i = snakemake.input
    run_crossval(
        scores=list(i.scores),
        infos=list(i.info),
        histories=list(i.history),
        outputs=dict(snakemake.output.items()),
        ordinal=bool(snakemake.params.ordinal),
    )
