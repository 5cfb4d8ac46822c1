"""Adapter: train one variant with one seed (on one fold, with cross-validation), reporting
to MLflow and TensorBoard when the workflow's tracking settings say so. The job's phases
(train.json) are timed from here: start-up ends on the first line, then come the imports."""

from biomedclf.train.phases import PhaseClock

clock = PhaseClock.at_script()

from pathlib import Path  # noqa: E402

from biomedclf.logs import log_to  # noqa: E402
from biomedclf.tracking.training import TrainingJob, training_callbacks  # noqa: E402
from biomedclf.train.loop import run_training  # noqa: E402

with log_to(snakemake.log[0]):
    p, out = snakemake.params, snakemake.output
    job = TrainingJob(snakemake.wildcards.variant, int(snakemake.wildcards.seed), p.fold, p.code)
    with training_callbacks(job, p.tensorboard, [out.model, out.history]) as callbacks:
        run_training(
            p.spec,
            seed=int(snakemake.wildcards.seed),
            data=dict(snakemake.input.items()),
            outputs=dict(out.items()),
            checkpoint=Path(p.checkpoint),
            threads=snakemake.threads,
            decoding=p.decoding,
            fold=p.fold,
            callbacks=callbacks,
            clock=clock,
        )
