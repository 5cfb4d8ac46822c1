# Helpers shared by the rules: paths, the resolved specs each job gets, code digests.
# No rules here.
import os

from biomedclf.config import comparison_variants, data_spec, resolve_variant
from biomedclf.provenance import script_digest
from biomedclf.runs import checkpoint_dir, eval_files, study_runs, train_files

# Jobs run the scripts in fresh interpreters: let them import this checkout's package first
# (the workflow sets the variable; it reads nothing from it).
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
)

NAME = config["name"]
STUDY = Path(config["results_dir"]) / NAME
LOGS = Path("logs") / NAME
VARIANTS = list(config["variants"])
SEEDS = list(config["training"]["seeds"])
COMPARISONS = list(config["comparisons"])
ENV = "../../envs/biomedclf.yaml"
RES = config["resources"]
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"


wildcard_constraints:
    variant="|".join(VARIANTS) or "$^",
    seed=r"\d+",
    comparison="|".join(COMPARISONS) or "$^",


def code(script):
    """Digest of a rule's script and every package module it imports (DESIGN.md, reruns)."""
    return script_digest(SCRIPTS / script)


def data_files(*names):
    return [str(STUDY / "data" / n) for n in names]


def run_train_files(variant="{variant}", seed="{seed}"):
    return {k: str(v) for k, v in train_files(STUDY, variant, seed).items()}


def run_eval_files(variant="{variant}", seed="{seed}"):
    return {k: str(v) for k, v in eval_files(STUDY, variant, seed).items()}


def run_files(variants=None, seeds=None):
    """Every per-run output the aggregate steps read, for the given variants and seeds."""
    files = []
    for run in study_runs(STUDY, variants or VARIANTS, seeds or SEEDS):
        files += [str(run.history), str(run.train_json)]
        files += [str(run.metrics), str(run.predictions)]
    return files


def comparison_run_files(wildcards):
    return run_files(variants=comparison_variants(config, wildcards.comparison))


def variant_spec(wildcards):
    return resolve_variant(config, wildcards.variant)


def model_specs():
    """Each variant's model and model settings: what the architecture table depends on."""
    specs = {v: resolve_variant(config, v) for v in VARIANTS}
    return {v: {k: s[k] for k in ("model", "model_args")} for v, s in specs.items()}


def train_checkpoint(wildcards):
    return str(checkpoint_dir(STUDY, wildcards.variant, wildcards.seed))


def train_resources_gpu(wildcards):
    device = resolve_variant(config, wildcards.variant)["training"].get(
        "device", "auto"
    )
    return 1 if device == "cuda" else 0


def prepare_input(wildcards):
    if config["data"]["source"] == "synthetic":
        return [str(STUDY / "synthetic")]
    return []


def final_outputs():
    tables = ["test_metrics", "training_time", "per_class", "architecture"]
    tables += [f"{kind}_{c}" for c in COMPARISONS for kind in ("comparison", "stats")]
    figures = ["test_accuracy", "accuracy_vs_time", "reliability"]
    figures += [
        f"{kind}_{c}" for c in COMPARISONS for kind in ("curves", "roc", "confusion")
    ]
    return (
        [str(STUDY / "summary.md"), str(STUDY / "stats" / "stats.json")]
        + [
            str(STUDY / "tables" / f"{t}.{ext}")
            for t in tables
            for ext in ("csv", "md")
        ]
        + [str(STUDY / "figures" / f"{f}.png") for f in figures]
    )


def finished_message():
    """The last lines of a successful run: where the summary is, how to build the report."""
    summary = STUDY / "summary.md"
    if not summary.exists():
        return f"Done. The study's summary will be {summary} once the whole study has run."
    here = Path.cwd()
    given = [
        os.path.relpath(f, here) if Path(f).resolve().is_relative_to(here) else str(f)
        for f in workflow.config_settings.configfiles
        if Path(f).resolve() != Path("config.yaml").resolve()
    ]
    option = f" --configfile {' '.join(given)}" if given else ""
    return (
        f"Study '{NAME}': the summary is {summary}\n"
        f"HTML report: snakemake --report {STUDY / 'report.html'}{option}"
    )
