"""Adapter: the cross-validation figures (metric per fold, learning curves per fold)."""

from pathlib import Path

from biomedclf.crossval_plots import plot_fold_curves, plot_folds
from biomedclf.io import read_json
from biomedclf.logs import log_to

with log_to(snakemake.log[0]):
    p, files = snakemake.params, list(snakemake.input.histories)
    plot_folds(read_json(snakemake.input.stats), Path(snakemake.output.folds))
    histories = {v: files[i * p.folds : (i + 1) * p.folds] for i, v in enumerate(p.variants)}
    plot_fold_curves(histories, Path(snakemake.output.curves))
