"""Adapter: metrics of one trained run on the test split, from its scores (two classes or
more; ``params.ordinal``: ordered classes, quadratic-weighted kappa); with MLflow tracking,
added to the run's training run."""

from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.logs import log_to
from biomedclf.tracking.jobs import log_evaluation

with log_to(snakemake.log[0]):
    run_evaluation(
        snakemake.input.scores,
        snakemake.input.info,
        metrics=snakemake.output.metrics,
        predictions=snakemake.output.predictions,
        ordinal=bool(snakemake.params.ordinal),
    )
    w = snakemake.wildcards
    log_evaluation(w.variant, int(w.seed), snakemake.output.metrics)
