"""Adapter: train one variant with one seed (on one fold, with cross-validation)."""

from pathlib import Path

from biomedclf.logs import log_to
from biomedclf.train.loop import run_training

with log_to(snakemake.log[0]):
    p = snakemake.params
    run_training(
        p.spec,
        seed=int(snakemake.wildcards.seed),
        data=dict(snakemake.input.items()),
        outputs=dict(snakemake.output.items()),
        checkpoint=Path(p.checkpoint),
        threads=snakemake.threads,
        decoding=p.decoding,
        fold=p.fold,
    )
