"""Adapter: train one variant with one seed (on one fold, with cross-validation)."""

from pathlib import Path

from biomedclf.logs import log_to
from biomedclf.train import run_training

with log_to(snakemake.log[0]):
    run_training(
        snakemake.params.spec,
        seed=int(snakemake.wildcards.seed),
        data_dir=Path(snakemake.input[0]).parent,
        out_dir=Path(snakemake.output.model).parent,
        checkpoint_dir=Path(snakemake.params.checkpoint),
        threads=snakemake.threads,
        decoding=snakemake.params.decoding,
        fold=int(snakemake.wildcards.fold) if "fold" in snakemake.wildcards.keys() else None,
    )
