"""Adapter: one run's saliency maps, their sanity check and its errors' images
(maps.npz, sanity.json, errors.npz)."""

from biomedclf.explain.saliency import explain_run
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    p, i = snakemake.params, snakemake.input
    explain_run(
        i.model,
        i.test,
        baselines=dict(zip(p.baselines, i.predictions, strict=True)),
        ensemble=dict(zip(p.seeds, i.ensemble, strict=True)),
        n_images=p.n_images,
        outputs=dict(snakemake.output.items()),
        threads=snakemake.threads,
        label=p.label,
    )
