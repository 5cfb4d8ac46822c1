"""Adapter: a run of the variant {sweep}.selected: the chosen point's run, copied, or trained
and then reported to MLflow and TensorBoard when the workflow's tracking settings say so."""

from pathlib import Path

from biomedclf.logs import log_to
from biomedclf.sweeps.selected import ROLES, write_selected_run
from biomedclf.tracking.training import TrainingJob, training_callbacks

with log_to(snakemake.log[0]):
    p, i, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    if p.points:
        write_selected_run(
            i.selection,
            seed=int(w.seed),
            outputs=dict(out.items()),
            points={point: {r: i[r][k] for r in ROLES} for k, point in enumerate(p.points)},
        )
    else:
        job = TrainingJob(f"{w.sweep}.selected", int(w.seed), p.fold, p.code)
        with training_callbacks(job, p.tensorboard, [out.model, out.history]) as callbacks:
            training = {
                "data": {r: i[r] for r in p.cache_roles},
                "checkpoint": Path(p.checkpoint),
                "threads": snakemake.threads,
                "decoding": p.decoding,
                "fold": p.fold,
                "callbacks": callbacks,
            }
            write_selected_run(
                i.selection, seed=int(w.seed), outputs=dict(out.items()), training=training
            )
