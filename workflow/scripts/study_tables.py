"""Adapter: the study-wide tables (test metrics, training time)."""

from pathlib import Path

from biomedclf.logs import log_to
from biomedclf.runs import study_runs
from biomedclf.stats_file import read_stats
from biomedclf.tables import write_study_tables

with log_to(snakemake.log[0]):
    p = snakemake.params
    stats_path = Path(snakemake.input.stats)
    runs = study_runs(stats_path.parent.parent, p.variants, p.seeds)
    write_study_tables(runs, read_stats(stats_path), Path(snakemake.output[0]).parent)
