"""Adapter: one comparison's figures (learning curves, ROC)."""

from pathlib import Path

from biomedclf.config import comparison_variants
from biomedclf.io import read_json
from biomedclf.logs import log_to
from biomedclf.plots import plot_comparison
from biomedclf.runs import study_runs

with log_to(snakemake.log[0]):
    p, name = snakemake.params, snakemake.wildcards.comparison
    stats_path = Path(snakemake.input.stats)
    variants = comparison_variants({"comparisons": {name: p.comparison}}, name)
    runs = study_runs(stats_path.parent.parent, variants, p.seeds)
    plot_comparison(
        name, p.comparison, runs, read_json(stats_path), Path(snakemake.output[0]).parent
    )
