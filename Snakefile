# biomedclf: train, evaluate, compare and report image classifiers on biomedical images.
# `snakemake --cores all` runs the study in config.yaml; see README.md.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The package lives in workflow/src; make it importable without an install as well.
SRC = str(Path(workflow.basedir) / "workflow" / "src")
sys.path.insert(0, SRC)
from biomedclf.config import (
    ConfigError,
    check_references,
    load_yaml_files,
    replace_sets,
)


configfile: "config.yaml"


replace_sets(config, load_yaml_files(workflow.config_settings.configfiles))
validate(config, "workflow/schemas/config.schema.yaml")
try:
    check_references(config)
except ConfigError as err:
    raise ValueError(f"config: {err}") from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Small jobs that are not worth a cluster queue: run them where Snakemake runs.
localrules:
    all,
    synthesize,
    evaluate,
    stats,
    study_tables,
    comparison_tables,
    architecture,
    study_figures,
    comparison_figures,
    summary,


rule all:
    default_target: True
    input:
        final_outputs(),
