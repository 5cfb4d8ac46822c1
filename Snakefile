# biomedclf: train, evaluate, compare and report image classifiers on biomedical images.
# `snakemake --cores all` runs the study in config.yaml; see README.md and docs/architecture.md.
import sys
from pathlib import Path

from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")

# The package lives in workflow/src; make it importable without an install as well.
SRC = str(Path(workflow.basedir) / "workflow" / "src")
sys.path.insert(0, SRC)


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# The validated config, the study's paths and the helpers every rule file uses.
include: "workflow/rules/common.smk"


# Wildcards match only the study's own names, so paths never match the wrong rule.
wildcard_constraints:
    variant=variant_pattern(VARIANTS),
    seed=r"\d+",
    fold=r"\d+",
    comparison="|".join(COMPARISONS) or "$^",
    sweep=one_of(SWEEPS),


# One rule file per stage, in the order of the DAG (each mirrors a subpackage of biomedclf).
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/crossval.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/explain.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        final_outputs(),


onsuccess:
    logger.info(finished_message())
