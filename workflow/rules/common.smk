# Helpers shared by the rules: paths, the resolved specs each job gets, code digests.
# No rules here.
import os

from biomedclf.config import canonical, comparison_variants, data_spec, resolve_variant
from biomedclf.data.decode_settings import decode_settings
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
    )


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


def explain_predictions(wildcards):
    return [
        run_eval_files(b, wildcards.seed)["predictions"]
        for b in explain_baselines(wildcards)
    ]


def explain_ensemble(wildcards):
    """The variant's predictions of every seed (the errors of its seed ensemble)."""
    return [run_eval_files(wildcards.variant, s)["predictions"] for s in SEEDS]


def gallery_files(role):
    """maps.npz or errors.npz (first seed) of every variant in a comparison."""
    return [explain_files(v, SEEDS[0])[role] for v in gallery_variants()]


def gallery_variants():
    """Every variant that is in a comparison (the error galleries show them)."""
    comps = config["comparisons"].values()
    return [v for v in VARIANTS if any(v in comparison_members(c) for c in comps)]


def explained_comparisons():
    """Each comparison's baseline and variants (not its claim: the figures do not show it)."""
    return {
        name: {"baseline": c["baseline"], "variants": c["variants"]}
        for name, c in config["comparisons"].items()
    }
