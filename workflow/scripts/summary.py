"""Adapter: summary.md, the study's tables and each claim beside its evidence."""

from pathlib import Path

from biomedclf.io import read_json
from biomedclf.logs import log_to
from biomedclf.runs import study_runs
from biomedclf.stats_file import read_stats
from biomedclf.summary import write_summary

with log_to(snakemake.log[0]):
    p = snakemake.params
    stats_path = Path(snakemake.input.stats)
    study = {
        "name": p.name,
        "data_summary": read_json(snakemake.input.data_summary),
        "variants": p.specs,
        "comparisons": p.comparisons,
        "seeds": p.seeds,
        # with folds: the statistics across folds (stats/crossval.json)
        "crossval": read_json(snakemake.input.crossval[0]) if p.folds else None,
    }
    runs = study_runs(stats_path.parent.parent, p.variants, p.seeds)
    write_summary(study, runs, read_stats(stats_path), Path(snakemake.output[0]))
