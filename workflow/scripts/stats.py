"""Adapter: statistics over seeds and paired comparisons, to stats.json."""

from pathlib import Path

from biomedclf.io import write_json
from biomedclf.logs import log_to
from biomedclf.runs import study_runs
from biomedclf.stats import study_statistics

with log_to(snakemake.log[0]):
    p = snakemake.params
    study_dir = Path(snakemake.output[0]).parent.parent
    runs = study_runs(study_dir, p.variants, p.seeds)
    stats = study_statistics(runs, p.comparisons, **p.statistics, evaluated_on=p.evaluated_on)
    write_json(snakemake.output[0], stats)
