"""Adapter: generate the embedded synthetic image set as a class-folder tree."""

from pathlib import Path

from biomedclf.data.synthetic import generate_synthetic
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    spec = snakemake.params.spec
    generate_synthetic(
        Path(snakemake.output[0]),
        n_per_class=spec["n_per_class"],
        image_size=spec["image_size"],
        difficulty=spec["difficulty"],
        seed=spec["seed"],
        n_classes=spec["n_classes"],
    )
