"""Adapter: combine the k fold models of one cross-validated run (out-of-fold predictions and
metrics, per-fold metrics, the fold ensemble on the test split); with MLflow tracking, logged
to a run of its own and the folds' runs."""

from biomedclf.crossval.combine import run_crossval
from biomedclf.logs import log_to
from biomedclf.tracking.jobs import log_crossval

with log_to(snakemake.log[0]):
    i, out, w = snakemake.input, snakemake.output, snakemake.wildcards
    run_crossval(
        scores=list(i.scores),
        infos=list(i.info),
        histories=list(i.history),
        outputs=dict(out.items()),
        ordinal=bool(snakemake.params.ordinal),
    )
    log_crossval(w.variant, int(w.seed), out.crossval, out.metrics)
