# biomedclf: train, evaluate, compare and report image classifiers on biomedical images.
# `snakemake --cores all` runs the study in config.yaml; see README.md.
import sys
from pathlib import Path

from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")

# The package lives in workflow/src; make it importable without an install as well.
SRC = str(Path(workflow.basedir) / "workflow" / "src")
sys.path.insert(0, SRC)
from biomedclf.config import ConfigError, prepare_config
from biomedclf.data.classes import source_classes
from biomedclf.data.folds import check_planned_folds


configfile: "config.yaml"


# Validate (filling the schema's defaults), check references and make the config canonical,
# so that a config rewritten with the same meaning reruns nothing. Errors name each key.
try:
    prepare_config(
        config,
        workflow.config_settings.configfiles,
        Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml",
    )
    # The classes of the data source, found without preparing it (folder names, a manifest's
    # label column, an .npz's labels): a wrong data.path or data.classes stops here.
    CLASS_NAMES = source_classes(config["data"])
    # More folds than a class can fill stops here when the file counts show it already.
    check_planned_folds(config["data"], CLASS_NAMES)
except (ConfigError, ValueError) as err:
    raise ConfigError(f"config: {err}") from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/explain.smk"
include: "workflow/rules/crossval.smk"


# Small jobs that are not worth a cluster queue: run them where Snakemake runs.
localrules:
    all,
    synthesize,
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


onsuccess:
    logger.info(finished_message())
