# Helpers shared by the rules: paths, the resolved specs each job gets, code digests.
# No rules here.
import os

from biomedclf.config import comparison_variants, data_spec, resolve_variant
from biomedclf.provenance import code_digest

# Jobs run the scripts in fresh interpreters: let them import this checkout's package first
# (the workflow sets the variable; it reads nothing from it).
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
)

NAME = config["name"]
STUDY = Path(config["results_dir"]) / NAME
LOGS = Path("logs") / NAME
VARIANTS = list(config["variants"])
SEEDS = [int(s) for s in config["training"]["seeds"]]
COMPARISONS = list(config["comparisons"])
ENV = "../../envs/biomedclf.yaml"
RES = config["resources"]

# The package modules each kind of job runs: the module its script calls, with everything that
# module imports from the package (DESIGN.md, rerun rules).
CODE = {
    "synthetic": code_digest("data/synthetic.py"),
    "prepare": code_digest("data/prepare.py"),
    "train": code_digest("train.py"),
    "evaluate": code_digest("evaluate.py"),
    "stats": code_digest("stats.py"),
    "tables": code_digest("tables.py"),
    "architecture": code_digest("models.py", "tables.py"),
    "plots": code_digest("plots.py"),
    "summary": code_digest("summary.py"),
}


wildcard_constraints:
    variant="|".join(VARIANTS) or "$^",
    seed=r"\d+",
    comparison="|".join(COMPARISONS) or "$^",


def data_files(*names):
    return [str(STUDY / "data" / n) for n in names]


def run_dir(kind, variant, seed):
    return STUDY / kind / variant / f"seed{seed}"


def run_files(variants=None, seeds=None):
    """Every per-run output the aggregate steps read, for the given variants and seeds."""
    files = []
    for v in variants or VARIANTS:
        for s in seeds or SEEDS:
            t, e = run_dir("train", v, s), run_dir("eval", v, s)
            files += [str(t / "history.csv"), str(t / "train.json")]
            files += [str(e / "metrics.json"), str(e / "predictions.csv")]
    return files


def comparison_run_files(wildcards):
    return run_files(variants=comparison_variants(config, wildcards.comparison))


def variant_spec(wildcards):
    return resolve_variant(config, wildcards.variant)


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
    tables = ["test_metrics", "training_time", "architecture"]
    tables += [f"{kind}_{c}" for c in COMPARISONS for kind in ("comparison", "stats")]
    figures = ["test_accuracy", "accuracy_vs_time", "reliability"]
    figures += [f"{kind}_{c}" for c in COMPARISONS for kind in ("curves", "roc")]
    return (
        [str(STUDY / "summary.md"), str(STUDY / "stats" / "stats.json")]
        + [
            str(STUDY / "tables" / f"{t}.{ext}")
            for t in tables
            for ext in ("csv", "md")
        ]
        + [str(STUDY / "figures" / f"{f}.png") for f in figures]
    )
