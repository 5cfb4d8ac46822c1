"""Adapter: metrics of one trained run on the test split, from its scores (two classes or
more; ``params.ordinal``: ordered classes, quadratic-weighted kappa)."""

from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    run_evaluation(
        snakemake.input.scores,
        snakemake.input.info,
        metrics=snakemake.output.metrics,
        predictions=snakemake.output.predictions,
        ordinal=bool(snakemake.params.ordinal),
    )
