# Helpers of every .smk file. The validated config, the study's paths (all from
# biomedclf.layout), the specs each job gets and code digests. No rules here.
import functools
import os
import re

from biomedclf import layout
from biomedclf.config.schema import load_schema
from biomedclf.config.sweeps import expand_sweeps, point_definitions
from biomedclf.config.specs import (
    ConfigError,
    canonical,
    comparison_variants,
    data_spec,
    synthetic_spec,
    prepare_config,
    resolve_variant,
)
from biomedclf.data.classes import source_classes
from biomedclf.data.decode_settings import decode_settings
from biomedclf.data.folds import check_planned_folds
from biomedclf.data.shards import shard_settings
from biomedclf.explain.multilabel import check_label
from biomedclf.provenance import script_digest
from biomedclf.tracking.jobs import start_study
from biomedclf.tracking.settings import ENV_VAR, check_installed, study_settings
from biomedclf.train.settings import DEVICE_CACHE_ENV

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
    # explain.label: one of the labels, and for multi-label studies only
    check_label(
        config["explain"]["label"],
        CLASS_NAMES,
        config["data"]["task"] == "multilabel",
    )
    # Each sweep's points, named and checked against the variant settings (README, "Sweeps").
    SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
    SWEEPS = expand_sweeps(config, load_schema(SCHEMA))
except (ConfigError, ValueError) as err:
    raise ConfigError(f"config: {err}") from None

# Jobs run the scripts in fresh interpreters: let them import this checkout's package first
# (the workflow sets the variable; it reads nothing from it).
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
)

NAME = config["name"]
STUDY = Path(config["results_dir"]) / NAME
LOGS = Path("logs") / NAME
# The study's variants: the config's, then each sweep's chosen point ({sweep}.selected). A
# sweep's points are trained and evaluated (TRAINED), never compared or ranked (sweeps.smk).
VARIANTS = list(config["variants"]) + [s.selected for s in SWEEPS.values()]
TRAINED = {**config["variants"], **point_definitions(config, SWEEPS)}
SEEDS = list(config["training"]["seeds"])
COMPARISONS = list(config["comparisons"])
ENV = "../../envs/biomedclf.yaml"
RES = config["resources"]
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
# k-fold cross-validation (data.split.folds), or None for one fixed train/val/test split
FOLDS = config["data"]["split"]["folds"]
# the fold wildcard of the training jobs' paths, with folds
FOLD = "{fold}" if FOLDS else None
# decoding jobs (data.shards): more than one adds a prepare_shard job per shard (data.smk)
SHARDS = config["data"]["shards"]
# several findings per image (data.task: multilabel): its own statistics and report
MULTILABEL = config["data"]["task"] == "multilabel"

# Tracking (tracking:, biomedclf.tracking): the settings reach the jobs in an environment
# variable, never in their params, so turning tracking on or off reruns nothing.
TRACKING = study_settings(config, layout.mlflow_store(STUDY))
try:
    check_installed(TRACKING)
except ImportError as err:
    raise ConfigError(f"config: {err}") from None
os.environ[ENV_VAR] = TRACKING.to_json()
# The pretrained weights cache (weights_cache:): in the environment too, so moving it reruns
# nothing; the jobs only read it (biomedclf.train.backbones).
os.environ[layout.WEIGHTS_CACHE_ENV] = str(Path(config["weights_cache"]).absolute())
# How much GPU memory training's images may take (training.device_cache): in the environment
# too, since where the images sit changes no number (biomedclf.train.batches).
os.environ[DEVICE_CACHE_ENV] = config["training"]["device_cache"]


def pretrained_sources():
    """Each trained variant (sweep points too) whose torchvision or timm model has pretrained
    weights, and where they come from (biomedclf.train.weights.weights_source)."""
    sources = {}
    for name in TRAINED:
        spec = resolve_variant(config, name, TRAINED)
        pretrained = spec["model_args"].get("pretrained")
        if pretrained and spec["model"].startswith(("torchvision/", "timm/")):
            from biomedclf.train.weights import weights_source

            try:
                sources[name] = weights_source(spec["model"], pretrained)
            except ValueError as err:
                raise ConfigError(f"config: variants.{name}.{err}") from None
    return sources


# Pretrained weights (the weights rule, train.smk): the variants' sources. Before the jobs are
# planned (also in a dry run), a record whose weights file now holds other contents is
# rewritten, so exactly the jobs that use those weights rerun (README, "Pretrained backbones").
PRETRAINED = pretrained_sources()
if PRETRAINED and workflow.is_main_process:
    from biomedclf.train.weights import refresh_record

    for name, source in PRETRAINED.items():
        state = refresh_record(
            layout.pretrained_record(STUDY, name),
            source,
            Path(config["weights_cache"]),
        )
        if state == "missing weights":
            logger.warning(
                f"variant {name}: its weights are no longer in the weights cache; training "
                f"jobs that run will stop naming the file (delete "
                f"{layout.pretrained_record(STUDY, name)} to fetch them again)"
            )


onstart:
    # with MLflow: the experiment and the study's parent run, before parallel jobs look
    start_study(TRACKING)


def one_of(names):
    """A wildcard constraint matching exactly ``names`` (none: nothing)."""
    return "|".join(map(re.escape, names)) or "$^"


def variant_pattern(names):
    """A wildcard constraint matching ``names`` and every sweep's points: the sweep's name
    and bracketed values, one short pattern per sweep (one listing 200 points takes 17 ms to
    compile, in each of the dozens of outputs that hold a variant)."""
    points = [re.escape(sweep) + r"\[[^/]+\]" for sweep in SWEEPS]
    return "|".join([*map(re.escape, names), *points]) or "$^"


def code(script):
    """Digest of a rule's script and every package module it imports (docs/architecture.md,
    "What reruns a job")."""
    return script_digest(SCRIPTS / script)


def paths(files):
    """A dict of paths as strings (rules' named inputs and outputs)."""
    return {role: str(path) for role, path in files.items()}


# Data (data.smk)


def data_outputs():
    """What the prepare job writes, by role: the cache (the three splits, or with folds the
    pool, its fold file and the test split), the manifest, the rejections, the summary.
    """
    roles = ("pool", "folds", "test") if FOLDS else ("train", "val", "test")
    roles += ("manifest", "rejected", "summary")
    return {role: str(layout.data_file(STUDY, role)) for role in roles}


def cache_inputs():
    """The data cache a training job reads, by role."""
    outputs = data_outputs()
    return {
        r: outputs[r] for r in ("pool", "folds", "train", "val", "test") if r in outputs
    }


def synthetic_dir():
    return str(STUDY / layout.SYNTHETIC_DIR)


def prepare_input(wildcards):
    if config["data"]["source"] == "synthetic":
        return [synthetic_dir()]
    return []


def prepare_data():
    """The ``data:`` section the prepare job runs with (the shard jobs' part of it too)."""
    return data_spec(config, synthetic_root=synthetic_dir())


def shard_spec():
    """What a shard job depends on (biomedclf.data.shards.shard_settings), canonical."""
    return canonical(shard_settings(prepare_data()))


def shard_outputs():
    """A shard job's part files by role; temporary: gone once the prepare job has read them
    (it reruns the shard jobs only when it reruns itself)."""
    return {r: temp(str(p)) for r, p in layout.shard_files(STUDY, "{shard}").items()}


def shard_parts(role):
    """Every shard's part file of ``role`` (pixels or records), in shard order; none with
    one shard (the prepare job decodes)."""
    if SHARDS == 1:
        return []
    return [str(layout.shard_files(STUDY, i)[role]) for i in range(SHARDS)]


# Runs (train.smk, evaluate.smk, crossval.smk)


def run_train_files(variant="{variant}", seed="{seed}", fold=None):
    return paths(layout.train_files(STUDY, variant, seed, fold))


def run_eval_files(variant="{variant}", seed="{seed}"):
    return paths(layout.eval_files(STUDY, variant, seed))


def run_crossval_files(variant="{variant}", seed="{seed}"):
    return paths(layout.crossval_files(STUDY, variant, seed))


def fold_run_files(wildcards):
    """The training outputs of every fold of a cross-validated run, by role."""
    folds = [
        run_train_files(wildcards.variant, wildcards.seed, f) for f in range(FOLDS)
    ]
    return {role: [f[role] for f in folds] for role in ("scores", "info", "history")}


def pretrained_record(variant="{variant}"):
    return str(layout.pretrained_record(STUDY, variant))


def pretrained_input(wildcards):
    """A training job's record of its pretrained weights (none without)."""
    return (
        [pretrained_record(wildcards.variant)]
        if wildcards.variant in PRETRAINED
        else []
    )


@functools.cache
def trained_spec(variant):
    """A trained variant's resolved spec, once per variant: the DAG of a large study asks for
    it in every training job's params and resources (treat it as read-only)."""
    return resolve_variant(config, variant, TRAINED)


def variant_spec(wildcards):
    return trained_spec(wildcards.variant)


def model_specs():
    """Each defined variant's model and model settings: all the architecture table depends
    on (a sweep's chosen point is known once its selection job has run)."""
    specs = {v: resolve_variant(config, v) for v in config["variants"]}
    return {v: {k: s[k] for k in ("model", "model_args")} for v, s in specs.items()}


def train_fold(wildcards):
    """The fold a training job trains on, or None without folds."""
    return int(wildcards.fold) if FOLDS else None


def train_checkpoint(wildcards):
    fold = wildcards.fold if FOLDS else None
    return str(layout.checkpoint_file(STUDY, wildcards.variant, wildcards.seed, fold))


def train_tensorboard(wildcards):
    """The training job's TensorBoard folder (written only with tracking.tensorboard)."""
    fold = wildcards.fold if FOLDS else None
    return str(layout.tensorboard_dir(STUDY, wildcards.variant, wildcards.seed, fold))


def selected_tensorboard(wildcards):
    """The TensorBoard folder of a sweep_selected job that trains (a copy writes none)."""
    fold = wildcards.fold if FOLDS else None
    variant = SWEEPS[wildcards.sweep].selected
    return str(layout.tensorboard_dir(STUDY, variant, wildcards.seed, fold))


def train_resources_gpu(wildcards):
    device = trained_spec(wildcards.variant)["training"]["device"]
    return 1 if device == "cuda" else 0


def run_keys(variants=None):
    """(variant, seed) of every run of ``variants`` (default: all), variant-major."""
    return [[v, s] for v in variants or VARIANTS for s in SEEDS]


# An aggregate job (stats, tables, figures, summary) names ONE input file per run: its
# metrics.json (run_metrics), written by the run's last job (evaluate; crossval with folds;
# for a sweep's {sweep}.selected runs the same rules). It also reads the run's history.csv,
# train.json and predictions.csv (layout.RunFiles.from_metrics finds them): outputs of that
# job or of the training job before it, so they exist whenever metrics.json does, and when
# their job reruns (new code, params or inputs) the run's chain reruns down to the
# aggregates. Naming all four made planning slow: each input file costs Snakemake a lookup of
# its producing job and a line in the dry run's listing (24,000 of 30,000 files for 1,000
# runs; issue 24). What Snakemake no longer sees is one of the three deleted by hand (it
# checks only the outputs a later job names): check_run_files says which job to rerun. (Naming
# the missing ones as inputs instead would rerun the aggregates once more after the repair:
# their recorded set of input files would change back.)


def run_metrics(variants=None):
    """metrics.json of every run of ``variants`` (default: all), in :func:`run_keys` order:
    an aggregate's one input file per run."""
    return list(_run_metrics(tuple(variants or VARIANTS)))


@functools.cache
def _run_metrics(variants):
    """:func:`run_metrics`, computed once per set of variants (several aggregate rules and
    every comparison ask for the same thousands of paths)."""
    return tuple(run_eval_files(v, s)["metrics"] for v, s in run_keys(list(variants)))


def check_run_files():
    """Warn of a finished run's file that the aggregates read but no rule names (see above)
    and is missing, with the command that writes it again."""
    # the finished runs first: a fresh study costs one look per run
    done = [(k, m) for k, m in zip(run_keys(), run_metrics()) if os.path.exists(m)]
    runs = layout.RunFiles.from_metrics([k for k, _ in done], [m for _, m in done])
    for path in layout.missing_run_files(runs):
        logger.warning(
            f"{path} is missing, and the study's statistics and report read it: write it "
            f"again with `snakemake --forcerun {path}` (its job and what follows rerun)"
        )


if workflow.is_main_process:
    check_run_files()


def comparison_keys(wildcards):
    return run_keys(comparison_variants(config, wildcards.comparison))


def comparison_metrics(wildcards):
    return run_metrics(comparison_variants(config, wildcards.comparison))


def comparison_sets():
    """Each comparison's baseline and variants without its claim, for jobs that do not show
    the claim (an edited claim does not rerun them)."""
    return {
        name: {"baseline": c["baseline"], "variants": c["variants"]}
        for name, c in config["comparisons"].items()
    }


def comparison_members(comp):
    return [comp["baseline"], *comp["variants"]]


# Saliency maps (explain.smk): which runs are explained, and on which images.


def explain_seeds():
    """The first seed, or every seed with explain.seeds: all."""
    return SEEDS if config["explain"]["seeds"] == "all" else SEEDS[:1]


def explain_files(variant="{variant}", seed="{seed}"):
    return paths(layout.explain_files(STUDY, variant, seed))


def explained_runs():
    """(variant, seed) of every explained run."""
    return [[v, s] for v in VARIANTS for s in explain_seeds()]


def explain_outputs():
    """maps.npz, sanity.json and errors.npz of every explained run."""
    return [f for v, s in explained_runs() for f in explain_files(v, s).values()]


def explain_sanity_files():
    """Every explained run's sanity.json, in :func:`explained_runs` order."""
    return [explain_files(v, s)["sanity"] for v, s in explained_runs()]


def explain_baselines(wildcards):
    """The baselines of the comparisons the variant belongs to (the variant itself when it
    is in none): their predictions choose the images its maps are computed for."""
    comps = config["comparisons"].values()
    found = {c["baseline"] for c in comps if wildcards.variant in comparison_members(c)}
    return sorted(found) or [wildcards.variant]


@functools.cache
def test_predictions(variant, seed):
    """A run's test predictions: with folds, the fold ensemble's."""
    return str(
        layout.RunFiles.of(STUDY, variant, seed, crossval=bool(FOLDS)).predictions
    )


def explain_predictions(wildcards):
    """The baselines' predictions, in :func:`explain_baselines` order."""
    return [test_predictions(b, wildcards.seed) for b in explain_baselines(wildcards)]


def explain_ensemble(wildcards):
    """The variant's predictions of every seed (the errors of its seed ensemble)."""
    return [test_predictions(wildcards.variant, s) for s in SEEDS]


def gallery_variants():
    """Every variant that is in a comparison (the saliency figures show them)."""
    comps = config["comparisons"].values()
    return [v for v in VARIANTS if any(v in comparison_members(c) for c in comps)]


def gallery_files(role):
    """maps.npz or errors.npz (first seed) of every variant in :func:`gallery_variants`."""
    return [explain_files(v, SEEDS[0])[role] for v in gallery_variants()]


# Cross-validation (crossval.smk)


def crossval_keys():
    """(variant, seed) of every cross-validated run, variant-major."""
    return run_keys()


def crossval_summaries():
    """Every run's crossval.json, in :func:`crossval_keys` order."""
    return [run_crossval_files(v, s)["crossval"] for v, s in crossval_keys()]


def fold_history_keys():
    """(variant, fold) of the first seed's fold histories, variant-major."""
    return [[v, f] for v in VARIANTS for f in range(FOLDS)]


def fold_histories():
    """history.csv of every fold of the first seed, in :func:`fold_history_keys` order."""
    return [run_train_files(v, SEEDS[0], f)["history"] for v, f in fold_history_keys()]


# Sweeps (sweeps.smk; the table and figure in report.smk)


def sweep_path(role, sweep="{sweep}"):
    """A sweep's selection file (``selection``) or table (``table``)."""
    return str(layout.sweep_file(STUDY, sweep, role))


def sweep_runs(sweep):
    """[point, seed, fold] of every training run of the sweep's points (fold None without
    folds), point-major."""
    folds = range(FOLDS) if FOLDS else [None]
    return [[p, s, f] for p in sweep.points for s in sweep.seeds for f in folds]


def sweep_validation_inputs(wildcards):
    """What a selection job reads, by role: scores.csv (its validation rows; with folds each
    fold's inner validation part), history.csv and train.json of every run in
    :func:`sweep_runs` order. Nothing else: no metrics.json, no predictions, no test cache.
    """
    runs = sweep_runs(SWEEPS[wildcards.sweep])
    files = [run_train_files(p, s, f) for p, s, f in runs]
    return {role: [f[role] for f in files] for role in ("scores", "history", "info")}


def sweep_specs(wildcards):
    """Each point's resolved spec (the chosen one is trained for seeds the points lack)."""
    return {
        p: resolve_variant(config, p, TRAINED) for p in SWEEPS[wildcards.sweep].points
    }


def selected_copies(wildcards):
    """The points whose runs of this seed a sweep_selected job chooses from: every point, for
    a seed the points trained with; none for another (the job trains the chosen point).
    """
    sweep = SWEEPS[wildcards.sweep]
    return list(sweep.points) if int(wildcards.seed) in sweep.seeds else []


def selected_inputs(wildcards):
    """The selection file, and every point's training files of the seed (and fold) by role,
    or the data cache when the job trains."""
    inputs = {"selection": sweep_path("selection", wildcards.sweep)}
    points = selected_copies(wildcards)
    if not points:
        # it trains: the data, and the weights of the sweep's pretrained points
        sweep = SWEEPS[wildcards.sweep]
        records = [pretrained_record(p) for p in sweep.points if p in PRETRAINED]
        return {**inputs, **cache_inputs(), "pretrained": records}
    fold = wildcards.fold if FOLDS else None
    files = [run_train_files(p, wildcards.seed, fold) for p in points]
    roles = ("model", "history", "scores", "info")
    return {**inputs, **{role: [f[role] for f in files] for role in roles}}


def selected_checkpoint(wildcards):
    fold = wildcards.fold if FOLDS else None
    variant = SWEEPS[wildcards.sweep].selected
    return str(layout.checkpoint_file(STUDY, variant, wildcards.seed, fold))


def selected_gpu(wildcards):
    """A GPU for a job that trains on one (the base variant's device); none for a copy."""
    if selected_copies(wildcards):
        return 0
    device = resolve_variant(config, SWEEPS[wildcards.sweep].base)["training"]["device"]
    return 1 if device == "cuda" else 0


def sweep_scores(wildcards):
    """scores.csv of every run (of every fold) of the sweep's points, in :func:`sweep_runs`
    order: the sweep's table reads their test rows after the choice (the points need no
    evaluation jobs)."""
    runs = sweep_runs(SWEEPS[wildcards.sweep])
    return [run_train_files(p, s, f)["scores"] for p, s, f in runs]


def sweep_outputs():
    """Every sweep's selection file, table and figure."""
    return [
        f
        for s in SWEEPS
        for f in (
            sweep_path("selection", s),
            sweep_path("table", s),
            figure_output(layout.SWEEP_FIGURE, s),
        )
    ]


def sweep_selections():
    """Every sweep's selection file, in config order."""
    return [sweep_path("selection", s) for s in SWEEPS]


def sweep_links():
    """Each sweep's table and figure, for summary.md's links."""
    return {
        s: {
            "table": sweep_path("table", s),
            "figure": figure_output(layout.SWEEP_FIGURE, s),
        }
        for s in SWEEPS
    }


# The study's tables, figures and summary (stats.smk, report.smk)


def stats_path(role="stats"):
    return str(layout.stats_file(STUDY, role))


def table_output(name, comparison=None):
    """The CSV and Markdown files of a table, in that order."""
    return [str(p) for p in layout.table_files(STUDY, name, comparison).values()]


def figure_output(name, comparison=None):
    return str(layout.figure_file(STUDY, name, comparison))


def explain_figure_keys():
    """(comparison, figure) of every saliency figure and error gallery."""
    return [[c, kind] for c in COMPARISONS for kind in ("saliency", "errors")]


def explain_links():
    """The maps.npz of every explained run (variant -> seed -> path) and each comparison's
    saliency figure and error gallery: what a multi-label summary.md links."""
    return {
        "maps": {
            v: {s: explain_files(v, s)["maps"] for s in explain_seeds()}
            for v in VARIANTS
        },
        "comparisons": {
            c: {kind: figure_output(kind, c) for kind in ("saliency", "errors")}
            for c in COMPARISONS
        },
    }


def summary_links():
    """Every file summary.md links to, by kind and name: written where the rules write it."""
    links = {
        "tables": {t: table_output(t) for t in layout.STUDY_TABLES},
        "figures": {f: figure_output(f) for f in layout.STUDY_FIGURES},
        "comparisons": {
            c: {
                **{t: table_output(t, c)[1] for t in layout.COMPARISON_TABLES},
                **{f: figure_output(f, c) for f in layout.COMPARISON_FIGURES},
            }
            for c in COMPARISONS
        },
        "maps": {
            v: {s: explain_files(v, s)["maps"] for s in explain_seeds()}
            for v in VARIANTS
        },
        "sweeps": sweep_links(),  # sweeps.smk
    }
    if FOLDS:
        links["tables"].update({t: table_output(t) for t in layout.CROSSVAL_TABLES})
        links["figures"].update({f: figure_output(f) for f in layout.CROSSVAL_FIGURES})
    return links


def crossval_outputs():
    """With folds: the statistics across folds, their tables and figures."""
    if not FOLDS:
        return []
    tables = [f for t in layout.CROSSVAL_TABLES for f in table_output(t)]
    figures = [figure_output(f) for f in layout.CROSSVAL_FIGURES]
    return [stats_path("crossval"), *tables, *figures]


def _table_paths(name, comparison=None):
    """A table's files by format, as text (params compare by their text)."""
    return {k: str(p) for k, p in layout.table_files(STUDY, name, comparison).items()}


def multilabel_outputs():
    """The statistics, tables and figures of a multi-label study, by role."""
    return {
        "stats": stats_path("multilabel"),
        "tables": {t: _table_paths(t) for t in layout.MULTILABEL_TABLES},
        "comparison_tables": {
            c: _table_paths(t, c)
            for c in COMPARISONS
            for t in layout.MULTILABEL_COMPARISON_TABLES
        },
        "figures": {f: figure_output(f) for f in layout.MULTILABEL_FIGURES},
    }


def final_outputs():
    """Every file of a finished study."""
    if MULTILABEL:
        ml = multilabel_outputs()
        tables = [*ml["tables"].values(), *ml["comparison_tables"].values()]
        return (
            [str(layout.summary_file(STUDY)), ml["stats"]]
            + [str(p) for files in tables for p in files.values()]
            + list(ml["figures"].values())
            + explain_outputs()
            + [figure_output(kind, c) for c, kind in explain_figure_keys()]
        )
    tables = [layout.table_files(STUDY, t) for t in layout.STUDY_TABLES] + [
        layout.table_files(STUDY, t, c)
        for c in COMPARISONS
        for t in layout.COMPARISON_TABLES
    ]
    figures = [figure_output(f) for f in layout.STUDY_FIGURES] + [
        figure_output(f, c) for c in COMPARISONS for f in layout.COMPARISON_FIGURES
    ]
    return (
        [str(layout.summary_file(STUDY)), stats_path()]
        + [str(p) for files in tables for p in files.values()]
        + figures
        + explain_outputs()
        + crossval_outputs()
        + sweep_outputs()  # sweeps.smk
    )


def finished_message():
    """The last lines of a successful run: where the summary is, how to build the report."""
    summary = layout.summary_file(STUDY)
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


# Report entries (report.smk): each table and figure with its caption and label.


def study_report(files, kind, name):
    """A report entry of the study-wide category."""
    return report(
        files,
        caption=f"../report/{name}.rst",
        category="Study",
        labels={"kind": kind, "name": REPORT_LABELS[name]},
    )


def comparison_report(files, kind, name):
    """A report entry of a comparison's category."""
    return report(
        files,
        caption=f"../report/{name}.rst",
        category="{comparison}",
        labels={"kind": kind, "name": REPORT_LABELS[name]},
    )


# How each table and figure is labelled in the HTML report.
REPORT_LABELS = {
    "test_metrics": "test metrics",
    "training_time": "training time",
    "per_class": "per class",
    "ranking": "ranking",
    "architecture": "architecture",
    "comparison": "baseline vs variant",
    "stats": "statistics",
    "test_accuracy": "test accuracy",
    "accuracy_vs_time": "accuracy vs training time",
    "reliability": "calibration",
    "curves": "learning curves",
    "roc": "ROC",
    "confusion": "confusion matrices",
    "saliency": "saliency maps",
    "errors": "error gallery",
    "crossval": "cross-validation",
    "crossval_tests": "tests across folds",
    "folds": "metric per fold",
    "fold_curves": "learning curves per fold",
    "summary": "summary",
    "sweep": "sweep",
    "sweep_table": "sweep table",
    "label_metrics": "mean AUROC",
    "label_auroc": "AUROC per label",
    "label_counts": "label counts",
    "label_comparison": "baseline vs variant, per label",
    "auroc_per_label": "AUROC per label",
    "roc_labels": "ROC per label",
    "label_prevalence": "prevalence",
    "label_cooccurrence": "co-occurrence",
    "loss_curves": "loss curves",
}


def sweep_entry(files, kind, name):
    """A report entry of a sweep (category Sweeps, labelled with the sweep's name)."""
    return report(
        files,
        caption=f"../report/{name}.rst",
        category="Sweeps",
        labels={"kind": kind, "name": f"{REPORT_LABELS[name]} {{sweep}}"},
    )
