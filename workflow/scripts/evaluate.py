"""Adapter: metrics of one trained run on the test split, from its scores (two classes or
more; ``params.ordinal``: ordered classes, quadratic-weighted kappa)."""

from pathlib import Path

from biomedclf.evaluate import run_evaluation
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    run_evaluation(
        snakemake.input.scores,
        snakemake.input.info,
        out_dir=Path(snakemake.output.metrics).parent,
        ordinal=bool(snakemake.params.ordinal),
    )
