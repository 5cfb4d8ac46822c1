"""Adapter: evaluate one trained model on the test split."""

from pathlib import Path

from biomedclf.evaluate import run_evaluation
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    run_evaluation(
        Path(snakemake.input.model),
        data_dir=Path(snakemake.input[0]).parent,
        out_dir=Path(snakemake.output.metrics).parent,
        threads=snakemake.threads,
        device=snakemake.params.device,
    )
