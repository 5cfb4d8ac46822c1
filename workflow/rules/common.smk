# Helpers shared by the rules: paths, the resolved specs each job gets, code digests.
# No rules here.
import os

from biomedclf.config import canonical, comparison_variants, data_spec, resolve_variant
from biomedclf.data.decode_settings import decode_settings
from biomedclf.provenance import script_digest
from biomedclf.runs import (
    checkpoint_dir,
    crossval_files,
    eval_files,
    study_runs,
    train_files,
)

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
# k-fold cross-validation (data.split.folds), or None for one fixed train/val/test split
FOLDS = config["data"]["split"]["folds"]
# the fold wildcard of the training jobs' paths, with folds
FOLD = "{fold}" if FOLDS else None


wildcard_constraints:
    variant="|".join(VARIANTS) or "$^",
    seed=r"\d+",
    fold=r"\d+",
    comparison="|".join(COMPARISONS) or "$^",


def code(script):
    """Digest of a rule's script and every package module it imports (DESIGN.md, reruns)."""
    return script_digest(SCRIPTS / script)


def data_files(*names):
    return [str(STUDY / "data" / n) for n in names]


def cache_files():
    """The data cache a training job reads: the three splits, or with folds the pool, its
    fold file and the test split."""
    return data_files(
        *(("cv.pt", "folds.json") if FOLDS else ("train.pt", "val.pt")), "test.pt"
    )


def run_train_files(variant="{variant}", seed="{seed}", fold=None):
    return {k: str(v) for k, v in train_files(STUDY, variant, seed, fold).items()}


def crossval_summaries(wildcards):
    """Each variant's crossval.json files, in seed order, by variant."""
    return {v: [run_crossval_files(v, s)["crossval"] for s in SEEDS] for v in VARIANTS}


def fold_histories():
    """history.csv of every fold of the first seed, variant-major."""
    return [
        run_train_files(v, SEEDS[0], f)["history"]
        for v in VARIANTS
        for f in range(FOLDS)
    ]


def fold_run_files(wildcards):
    """The training outputs of every fold of a cross-validated run, by role."""
    folds = [
        run_train_files(wildcards.variant, wildcards.seed, f) for f in range(FOLDS)
    ]
    return {role: [f[role] for f in folds] for role in ("scores", "info", "history")}


def run_eval_files(variant="{variant}", seed="{seed}"):
    return {k: str(v) for k, v in eval_files(STUDY, variant, seed).items()}


def run_crossval_files(variant="{variant}", seed="{seed}"):
    return {k: str(v) for k, v in crossval_files(STUDY, variant, seed).items()}


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
    fold = wildcards.fold if FOLDS else None
    return str(checkpoint_dir(STUDY, wildcards.variant, wildcards.seed, fold))


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
    tables = ["test_metrics", "training_time", "per_class", "ranking", "architecture"]
    tables += [f"{kind}_{c}" for c in COMPARISONS for kind in ("comparison", "stats")]
    figures = ["test_accuracy", "accuracy_vs_time", "reliability"]
    figures += [
        f"{kind}_{c}"
        for c in COMPARISONS
        for kind in ("curves", "roc", "confusion", "saliency", "errors")
    ]
    return (
        [str(STUDY / "summary.md"), str(STUDY / "stats" / "stats.json")]
        + [
            str(STUDY / "tables" / f"{t}.{ext}")
            for t in tables
            for ext in ("csv", "md")
        ]
        + [str(STUDY / "figures" / f"{f}.png") for f in figures]
        + explain_outputs()
        + crossval_outputs()
    )


def crossval_outputs():
    """With folds: the statistics across folds, their tables and figures."""
    if not FOLDS:
        return []
    tables = [
        STUDY / "tables" / f"{t}.{e}"
        for t in ("crossval", "crossval_tests")
        for e in ("csv", "md")
    ]
    figures = [STUDY / "figures" / f"{f}.png" for f in ("folds", "fold_curves")]
    return [str(f) for f in [STUDY / "stats" / "crossval.json", *tables, *figures]]


def finished_message():
    """The last lines of a successful run: where the summary is, how to build the report."""
    summary = STUDY / "summary.md"
    if not summary.exists():
        return (
            f"Done. The study's summary will be {summary} once the whole study has run."
        )
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


# Saliency maps (workflow/rules/explain.smk): which runs are explained, and on which images.


def explain_seeds():
    """The first seed, or every seed with explain.seeds: all."""
    return SEEDS if config["explain"]["seeds"] == "all" else SEEDS[:1]


def explain_files(variant="{variant}", seed="{seed}"):
    from biomedclf.explain_layout import (
        ERRORS_FILE,
        MAPS_FILE,
        SANITY_FILE,
        explain_dir,
    )

    folder = explain_dir(STUDY, variant, seed)
    files = {"maps": MAPS_FILE, "sanity": SANITY_FILE, "errors": ERRORS_FILE}
    return {role: str(folder / name) for role, name in files.items()}


def explain_outputs():
    """maps.npz, sanity.json and errors.npz of every explained run."""
    return [
        f
        for v in VARIANTS
        for s in explain_seeds()
        for f in explain_files(v, s).values()
    ]


def explain_sanity_files():
    """Every explained run's sanity.json (the summary flags maps that survive randomisation)."""
    return [explain_files(v, s)["sanity"] for v in VARIANTS for s in explain_seeds()]


def explain_baselines(wildcards):
    """The baselines of the comparisons the variant belongs to (the variant itself when it
    is in none): their predictions choose the images its maps are computed for."""
    comps = config["comparisons"].values()
    found = {c["baseline"] for c in comps if wildcards.variant in comparison_members(c)}
    return sorted(found) or [wildcards.variant]


def comparison_members(comp):
    return [comp["baseline"], *comp["variants"]]


def test_predictions(variant, seed):
    """A run's test predictions: with folds, the fold ensemble's."""
    if FOLDS:
        return run_crossval_files(variant, seed)["test_predictions"]
    return run_eval_files(variant, seed)["predictions"]


def explain_predictions(wildcards):
    return [test_predictions(b, wildcards.seed) for b in explain_baselines(wildcards)]


def explain_ensemble(wildcards):
    """The variant's predictions of every seed (the errors of its seed ensemble)."""
    return [test_predictions(wildcards.variant, s) for s in SEEDS]


def gallery_files(role):
    """maps.npz or errors.npz (first seed) of every variant in a comparison."""
    return [explain_files(v, SEEDS[0])[role] for v in gallery_variants()]


def gallery_variants():
    """Every variant that is in a comparison (the error galleries show them)."""
    comps = config["comparisons"].values()
    return [v for v in VARIANTS if any(v in comparison_members(c) for c in comps)]


def comparison_sets():
    """Each comparison's baseline and variants without its claim, for jobs that do not show
    the claim (an edited claim does not rerun them)."""
    return {
        name: {"baseline": c["baseline"], "variants": c["variants"]}
        for name, c in config["comparisons"].items()
    }
