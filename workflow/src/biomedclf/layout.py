"""Where every file of a study lives: the one place its folders and file names are written.

The rules (``workflow/rules/*.smk``) build every input and output path with these functions
(``variant``, ``seed`` and ``comparison`` may be Snakemake wildcards such as ``"{variant}"``)
and hand the paths to the library, which never derives a path itself::

    {results}/{name}/synthetic/                      the generated images (data.source: synthetic)
    {results}/{name}/pretrained/{variant}.json       the record of a variant's pretrained weights
    {results}/{name}/data/train.pt, val.pt, test.pt, manifest.csv, rejected.csv, summary.json
                          cv.pt, folds.json          (cross-validation: the pool and its folds)
    {results}/{name}/data/shards/part{i}.npy, .json  (data.shards > 1: a shard's decoded part)
    {results}/{name}/train/{variant}/seed{seed}/     model.pt, history.csv, train.json, scores.csv
    {results}/{name}/eval/{variant}/seed{seed}/      metrics.json, predictions.csv
    {results}/{name}/explain/{variant}/seed{seed}/   maps.npz, sanity.json, errors.npz
    {results}/{name}/stats/stats.json, crossval.json
    {results}/{name}/sweeps/{sweep}.json, {sweep}.csv  (a sweep's choice on validation, its table)
    {results}/{name}/tables/{table}.csv, .md         (per comparison: {table}_{comparison})
    {results}/{name}/figures/{figure}.png            (per comparison: {figure}_{comparison};
                                                      per sweep: sweep_{sweep})
    {results}/{name}/summary.md
    {results}/{name}/.checkpoints/{variant}/seed{seed}/checkpoint.pt   (resumable, not an output)
    {results}/{name}/tensorboard/{variant}/seed{seed}[/fold{f}]/  TensorBoard event files
    {results}/{name}/mlflow.db, mlartifacts/         MLflow's local store (tracking.mlflow: true)

A *run* is one training of one variant with one seed and its evaluation. With
cross-validation (``data.split.folds``) each fold trains in ``train/{variant}/fold{f}/
seed{seed}/``, and the ``crossval`` job writes the folds taken together where a fixed-split
run's files are (the combined ``history.csv`` and ``train.json``; the out-of-fold
``metrics.json`` and ``predictions.csv``) plus ``crossval.json`` and ``test_predictions.csv``
(the fold ensemble on the test split), so every later step reads both kinds of run alike.

Nothing heavy is imported here: the Snakefile reads this module when it plans the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The pretrained weights cache (config ``weights_cache``, shared by studies): torch hub files
#: (torchvision's, timm's published by URL) where ``TORCH_HOME=<cache>`` puts them, timm's
#: Hugging Face files where ``HF_HOME=<cache>/huggingface`` puts them. The workflow hands
#: jobs its folder in this environment variable, so moving it reruns nothing.
WEIGHTS_CACHE_ENV = "BIOMEDCLF_WEIGHTS_CACHE"
TORCH_CHECKPOINTS = Path("hub") / "checkpoints"
HF_HUB_CACHE = Path("huggingface") / "hub"

#: Folders of a study, inside ``{results}/{name}``.
SYNTHETIC_DIR = "synthetic"
#: ``{variant}.json``: the record of the pretrained weights a variant trains from (the
#: ``weights`` rule's output, an input of the variant's training jobs).
PRETRAINED_DIR = "pretrained"
DATA_DIR = "data"
EXPLAIN_DIR = "explain"
STATS_DIR = "stats"
TABLES_DIR = "tables"
FIGURES_DIR = "figures"
SWEEPS_DIR = "sweeps"
CHECKPOINTS = ".checkpoints"
#: Tracking (config ``tracking:``): not outputs of any rule; written beside them when enabled.
TENSORBOARD_DIR = "tensorboard"
MLFLOW_STORE = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"

#: Files of the data step, by role.
DATA_FILES = {
    "train": "train.pt",
    "val": "val.pt",
    "test": "test.pt",
    "pool": "cv.pt",
    "folds": "folds.json",
    "manifest": "manifest.csv",
    "rejected": "rejected.csv",
    "summary": "summary.json",
}

#: With ``data.shards`` > 1: each shard job's part file, by role, in ``data/shards/``: the
#: decoded pixels of its share of the images (``.npy``) and its records (JSON); the prepare
#: job gathers them (biomedclf.data.shards).
SHARDS_DIR = "shards"
SHARD_FILES = {"pixels": "part{shard}.npy", "records": "part{shard}.json"}

#: Files a training job writes into its run folder, by role.
TRAIN_FILES = {
    "model": "model.pt",
    "history": "history.csv",
    "info": "train.json",
    "scores": "scores.csv",
}

#: Files an evaluation job writes into its run folder, by role.
EVAL_FILES = {"metrics": "metrics.json", "predictions": "predictions.csv"}

#: Files a crossval job writes beside EVAL_FILES, by role.
CV_FILES = {"crossval": "crossval.json", "test_predictions": "test_predictions.csv"}

#: Files an explain job writes into its run folder, by role.
EXPLAIN_FILES = {"maps": "maps.npz", "sanity": "sanity.json", "errors": "errors.npz"}

#: A training run's resumable state, in its checkpoint folder.
CHECKPOINT_FILE = "checkpoint.pt"

#: The study-wide statistics files, by role.
STATS_FILES = {"stats": "stats.json", "crossval": "crossval.json", "multilabel": "multilabel.json"}

#: A sweep's files in SWEEPS_DIR, by role: the choice made on validation (JSON) and the
#: table of every point (CSV); each named ``{sweep}`` plus this suffix.
SWEEP_FILES = {"selection": ".json", "table": ".csv"}

#: The figure of a sweep (``figures/sweep_{sweep}.png``).
SWEEP_FIGURE = "sweep"

#: The study's summary.
SUMMARY = "summary.md"

#: Every table is written twice: every number (CSV) and for reading (Markdown).
TABLE_FORMATS = (".csv", ".md")

#: Tables of the whole study, of each comparison, and of a cross-validated study.
STUDY_TABLES = ("test_metrics", "training_time", "per_class", "ranking", "architecture")
COMPARISON_TABLES = ("comparison", "stats")
CROSSVAL_TABLES = ("crossval", "crossval_tests")

#: Figures of the whole study, of each comparison, and of a cross-validated study.
STUDY_FIGURES = ("test_accuracy", "accuracy_vs_time", "reliability")
COMPARISON_FIGURES = ("curves", "roc", "confusion", "saliency", "errors")
CROSSVAL_FIGURES = ("folds", "fold_curves")
#: The tables and figures of a multi-label study (data.task: multilabel), instead of the above.
MULTILABEL_TABLES = ("label_metrics", "label_auroc", "label_counts")
MULTILABEL_COMPARISON_TABLES = ("label_comparison",)
MULTILABEL_FIGURES = (
    "auroc_per_label",
    "roc_labels",
    "label_prevalence",
    "label_cooccurrence",
    "loss_curves",
)


def data_file(study_dir: Path | str, role: str) -> Path:
    """``{study_dir}/data/{file}`` of a role of :data:`DATA_FILES`."""
    return Path(study_dir) / DATA_DIR / DATA_FILES[role]


def shard_files(study_dir: Path | str, shard: int | str) -> dict[str, Path]:
    """``{study_dir}/data/shards/part{shard}.npy`` and ``.json`` of shard ``shard`` (a number
    or the wildcard ``"{shard}"``), by role of :data:`SHARD_FILES`."""
    folder = Path(study_dir) / DATA_DIR / SHARDS_DIR
    return {role: folder / name.format(shard=shard) for role, name in SHARD_FILES.items()}


def pretrained_record(study_dir: Path | str, variant: str) -> Path:
    """``{study_dir}/pretrained/{variant}.json``: which pretrained weights (file, SHA-256) the
    variant's training jobs start from."""
    return Path(study_dir) / PRETRAINED_DIR / f"{variant}.json"


def run_dir(
    study_dir: Path | str,
    stage: str,
    variant: str,
    seed: int | str,
    fold: int | str | None = None,
) -> Path:
    """``{study_dir}/{stage}/{variant}[/fold{fold}]/seed{seed}``; ``stage`` is ``train``,
    ``eval``, ``explain`` or the checkpoints' folder."""
    if stage not in ("train", "eval", EXPLAIN_DIR, CHECKPOINTS):
        raise ValueError(f"run stage {stage!r}: use 'train', 'eval' or 'explain'")
    folder = Path(study_dir) / stage / str(variant)
    return (folder if fold is None else folder / f"fold{fold}") / f"seed{seed}"


def _files(folder: Path, names: dict[str, str]) -> dict[str, Path]:
    return {role: folder / name for role, name in names.items()}


def train_files(
    study_dir: Path | str, variant: str, seed: int | str, fold: int | str | None = None
) -> dict[str, Path]:
    """The training outputs of one run (of one fold of it), by role (``model``, ``history``,
    ``info``, ``scores``)."""
    return _files(run_dir(study_dir, "train", variant, seed, fold), TRAIN_FILES)


def eval_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """The evaluation outputs of one run, by role (``metrics``, ``predictions``)."""
    return _files(run_dir(study_dir, "eval", variant, seed), EVAL_FILES)


def crossval_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """What a crossval job writes, by role: the folds' combined ``history`` and ``info``
    (train folder), and ``metrics``, ``predictions``, ``crossval``, ``test_predictions``."""
    train = train_files(study_dir, variant, seed)
    folder = run_dir(study_dir, "eval", variant, seed)
    files = _files(folder, {**EVAL_FILES, **CV_FILES})
    return {"history": train["history"], "info": train["info"], **files}


def explain_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """What an explain job writes, by role (``maps``, ``sanity``, ``errors``)."""
    return _files(run_dir(study_dir, EXPLAIN_DIR, variant, seed), EXPLAIN_FILES)


def checkpoint_file(
    study_dir: Path | str, variant: str, seed: int | str, fold: int | str | None = None
) -> Path:
    """The per-epoch checkpoint of one training run (kept when the job fails)."""
    return run_dir(study_dir, CHECKPOINTS, variant, seed, fold) / CHECKPOINT_FILE


def tensorboard_dir(
    study_dir: Path | str, variant: str, seed: int | str, fold: int | str | None = None
) -> Path:
    """``{study_dir}/tensorboard/{variant}/seed{seed}[/fold{fold}]``: one training job's
    TensorBoard event files (``tracking.tensorboard``)."""
    folder = Path(study_dir) / TENSORBOARD_DIR / str(variant) / f"seed{seed}"
    return folder if fold is None else folder / f"fold{fold}"


def mlflow_store(study_dir: Path | str) -> dict[str, Path]:
    """MLflow's local store of a study (``tracking.mlflow`` without a ``uri``), by role:
    ``store`` the SQLite database, ``artifacts`` the folder of the runs' artifacts."""
    return {
        "store": Path(study_dir) / MLFLOW_STORE,
        "artifacts": Path(study_dir) / MLFLOW_ARTIFACTS,
    }


def stats_file(study_dir: Path | str, role: str = "stats") -> Path:
    """``{study_dir}/stats/{stats.json|crossval.json}``."""
    return Path(study_dir) / STATS_DIR / STATS_FILES[role]


def sweep_file(study_dir: Path | str, sweep: str, role: str) -> Path:
    """``{study_dir}/sweeps/{sweep}.json`` (``selection``) or ``.csv`` (``table``)."""
    return Path(study_dir) / SWEEPS_DIR / f"{sweep}{SWEEP_FILES[role]}"


def summary_file(study_dir: Path | str) -> Path:
    """``{study_dir}/summary.md``."""
    return Path(study_dir) / SUMMARY


def _named(name: str, comparison: str | None) -> str:
    return name if comparison is None else f"{name}_{comparison}"


def table_files(study_dir: Path | str, name: str, comparison: str | None = None) -> dict[str, Path]:
    """A table's two files by format (``csv``, ``md``):
    ``{study_dir}/tables/{name}[_{comparison}].{csv,md}``."""
    stem = Path(study_dir) / TABLES_DIR / _named(name, comparison)
    return {ext[1:]: stem.with_name(stem.name + ext) for ext in TABLE_FORMATS}


def figure_file(study_dir: Path | str, name: str, comparison: str | None = None) -> Path:
    """``{study_dir}/figures/{name}[_{comparison}].png``."""
    return Path(study_dir) / FIGURES_DIR / f"{_named(name, comparison)}.png"


@dataclass(frozen=True)
class RunFiles:
    """The files of one (variant, seed) run that the later steps read."""

    variant: str
    seed: int
    history: Path
    train_json: Path
    metrics: Path
    # the test predictions: with cross-validation, the out-of-fold predictions for the
    # aggregates and the fold ensemble's test predictions for the saliency selection
    predictions: Path

    @classmethod
    def of(
        cls, study_dir: Path | str, variant: str, seed: int | str, crossval: bool = False
    ) -> RunFiles:
        """The run of ``variant`` with ``seed`` in the study folder ``study_dir``;
        ``crossval``: its predictions are the fold ensemble's on the test split."""
        train = train_files(study_dir, variant, seed)
        evaluation = eval_files(study_dir, variant, seed)
        predictions = (
            crossval_files(study_dir, variant, seed)["test_predictions"]
            if crossval
            else evaluation["predictions"]
        )
        return cls(
            variant=variant,
            seed=int(seed),
            history=train["history"],
            train_json=train["info"],
            metrics=evaluation["metrics"],
            predictions=predictions,
        )

    @classmethod
    def from_metrics(
        cls, keys: Sequence[Sequence], metrics: Sequence[str | Path]
    ) -> list[RunFiles]:
        """Runs from ``keys`` of ``(variant, seed)`` and each run's ``metrics.json`` in the
        same order, as an aggregate rule names them (one input file per run; the run's other
        files are its upstream jobs' outputs, found here beside it in the study folder).
        The study folder is the one each ``metrics.json`` path is in: a path that is not
        ``{study}/eval/{variant}/seed{seed}/metrics.json`` of its key is an error."""
        if len(metrics) != len(keys):
            raise ValueError(f"{len(keys)} runs but {len(metrics)} metrics files; list one per run")
        runs = []
        for (variant, seed), path in zip(keys, metrics, strict=True):
            tail = eval_files(".", variant, seed)["metrics"].parts
            path = Path(path)
            if path.parts[-len(tail) :] != tail:
                raise ValueError(
                    f"{path} is not the metrics file of run {variant} seed {seed} "
                    f"(expected a path ending in {Path(*tail)})"
                )
            runs.append(cls.of(path.parents[len(tail) - 1], variant, seed))
        return runs


def missing_run_files(runs: Sequence[RunFiles]) -> list[Path]:
    """The files of the runs that have a ``metrics.json`` (a finished run, as an aggregate rule
    names it) but lack their ``history.csv``, ``train.json`` or ``predictions.csv``: deleted
    by hand. Snakemake checks only the outputs a later job names, so it reruns nothing for
    them; the aggregates, which read them, would fail."""
    return [
        path
        for run in runs
        if run.metrics.exists()
        for path in (run.history, run.train_json, run.predictions)
        if not path.exists()
    ]


def study_runs(
    study_dir: Path | str, variants: Sequence[str], seeds: Sequence[int], crossval: bool = False
) -> list[RunFiles]:
    """All runs of a study, variant-major, in config order (``crossval``: see RunFiles.of)."""
    return [RunFiles.of(study_dir, v, s, crossval) for v in variants for s in seeds]
