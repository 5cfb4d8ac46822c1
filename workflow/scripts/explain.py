"""Adapter: one run's saliency maps, their sanity check and its errors' images
(maps.npz, sanity.json, errors.npz)."""

from pathlib import Path

from biomedclf.explain import explain_run
from biomedclf.logs import log_to
from biomedclf.runs import RunFiles, study_runs

with log_to(snakemake.log[0]):
    p, seed = snakemake.params, int(snakemake.wildcards.seed)
    data_dir = Path(snakemake.input.test).parent
    explain_run(
        snakemake.input.model,
        data_dir,
        {b: RunFiles.of(data_dir.parent, b, seed, p.crossval) for b in p.baselines},
        study_runs(data_dir.parent, [snakemake.wildcards.variant], p.seeds, p.crossval),
        p.n_images,
        Path(snakemake.output.maps).parent,
        threads=snakemake.threads,
    )
