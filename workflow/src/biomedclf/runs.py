"""Where one run's files live: the run layout, defined once for the rules and the library.

A *run* is one training of one variant with one seed, followed by its evaluation on the test
split. The workflow's rules build their paths with these functions (``variant`` and ``seed``
may be Snakemake wildcards such as ``"{variant}"``), and the library reads and writes the
same names::

    {results}/{name}/train/{variant}/seed{seed}/model.pt, history.csv, train.json, scores.csv
    {results}/{name}/eval/{variant}/seed{seed}/metrics.json, predictions.csv
    {results}/{name}/.checkpoints/{variant}/seed{seed}/   (resumable, outside the outputs)

With cross-validation (``data.split.folds``) each fold trains in its own folder, and the run of
a variant and seed is the k folds taken together: the ``crossval`` job writes their
out-of-fold predictions and metrics where the evaluation of a run lives, and the folds'
combined history and training record where a run's training files live, so every step after
it reads a cross-validated run as it reads a fixed-split one::

    {results}/{name}/train/{variant}/fold{fold}/seed{seed}/   the fold's TRAIN_FILES
    {results}/{name}/train/{variant}/seed{seed}/history.csv, train.json   (the folds combined)
    {results}/{name}/eval/{variant}/seed{seed}/metrics.json, predictions.csv   (out-of-fold),
        crossval.json, test_predictions.csv   (per fold; the fold ensemble on the test split)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

#: Folder of the training checkpoints inside a study folder.
CHECKPOINTS = ".checkpoints"


def run_dir(
    study_dir: Path | str, stage: str, variant: str, seed: int | str, fold: int | str | None = None
) -> Path:
    """``{study_dir}/{stage}/{variant}[/fold{fold}]/seed{seed}``; ``stage`` is ``train`` or
    ``eval``."""
    if stage not in ("train", "eval", CHECKPOINTS):
        raise ValueError(f"run stage {stage!r}: use 'train' or 'eval'")
    folder = Path(study_dir) / stage / str(variant)
    return (folder if fold is None else folder / f"fold{fold}") / f"seed{seed}"


def train_files(
    study_dir: Path | str, variant: str, seed: int | str, fold: int | str | None = None
) -> dict[str, Path]:
    """The training outputs of one run (of one fold of it), by role (``model``, ``history``,
    ``info``, ``scores``)."""
    folder = run_dir(study_dir, "train", variant, seed, fold)
    return {role: folder / name for role, name in TRAIN_FILES.items()}


def crossval_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """What a crossval job writes, by role: the folds' combined ``history`` and ``info``
    (train folder), and ``metrics``, ``predictions``, ``crossval``, ``test_predictions``."""
    train = train_files(study_dir, variant, seed)
    folder = run_dir(study_dir, "eval", variant, seed)
    files = {role: folder / name for role, name in {**EVAL_FILES, **CV_FILES}.items()}
    return {"history": train["history"], "info": train["info"], **files}


def eval_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """The evaluation outputs of one run, by role (``metrics``, ``predictions``)."""
    folder = run_dir(study_dir, "eval", variant, seed)
    return {role: folder / name for role, name in EVAL_FILES.items()}


def checkpoint_dir(
    study_dir: Path | str, variant: str, seed: int | str, fold: int | str | None = None
) -> Path:
    """The per-epoch checkpoint folder of one training run (kept when the job fails)."""
    return run_dir(study_dir, CHECKPOINTS, variant, seed, fold)


@dataclass(frozen=True)
class RunFiles:
    """Paths of the outputs of one (variant, seed) run."""

    variant: str
    seed: int
    train_dir: Path
    eval_dir: Path
    # the file of the test predictions: with cross-validation, the fold ensemble's
    predictions_name: str = EVAL_FILES["predictions"]

    @classmethod
    def of(
        cls, study_dir: Path | str, variant: str, seed: int, crossval: bool = False
    ) -> RunFiles:
        """The run of ``variant`` with ``seed`` in the study folder ``study_dir``;
        ``crossval``: its test predictions are the fold ensemble's (``test_predictions.csv``)."""
        return cls(
            variant=variant,
            seed=int(seed),
            train_dir=run_dir(study_dir, "train", variant, seed),
            eval_dir=run_dir(study_dir, "eval", variant, seed),
            predictions_name=CV_FILES["test_predictions"] if crossval else EVAL_FILES["predictions"],
        )

    @property
    def model(self) -> Path:
        return self.train_dir / TRAIN_FILES["model"]

    @property
    def history(self) -> Path:
        return self.train_dir / TRAIN_FILES["history"]

    @property
    def train_json(self) -> Path:
        return self.train_dir / TRAIN_FILES["info"]

    @property
    def scores(self) -> Path:
        return self.train_dir / TRAIN_FILES["scores"]

    @property
    def metrics(self) -> Path:
        return self.eval_dir / EVAL_FILES["metrics"]

    @property
    def predictions(self) -> Path:
        return self.eval_dir / self.predictions_name


def study_runs(
    study_dir: Path | str, variants: list[str], seeds: list[int], crossval: bool = False
) -> list[RunFiles]:
    """All runs of a study, variant-major, in config order (``crossval``: see RunFiles.of)."""
    return [RunFiles.of(study_dir, v, s, crossval) for v in variants for s in seeds]
