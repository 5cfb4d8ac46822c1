"""Adapter: one comparison's figures (learning curves, ROC)."""

from pathlib import Path

from biomedclf.logs import log_to
from biomedclf.plots import plot_comparison
from biomedclf.runs import study_runs
from biomedclf.stats_file import read_stats

with log_to(snakemake.log[0]):
    p, name = snakemake.params, snakemake.wildcards.comparison
    stats_path = Path(snakemake.input.stats)
    runs = study_runs(stats_path.parent.parent, p.variants, p.seeds)
    plot_comparison(
        name, p.comparison, runs, read_stats(stats_path), Path(snakemake.output[0]).parent
    )
