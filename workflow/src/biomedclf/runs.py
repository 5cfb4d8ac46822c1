"""Where one run's files live: the run layout, defined once for the rules and the library.

A *run* is one training of one variant with one seed, followed by its evaluation on the test
split. The workflow's rules build their paths with these functions (``variant`` and ``seed``
may be Snakemake wildcards such as ``"{variant}"``), and the library reads and writes the
same names::

    {results}/{name}/train/{variant}/seed{seed}/model.pt, history.csv, train.json, scores.csv
    {results}/{name}/eval/{variant}/seed{seed}/metrics.json, predictions.csv
    {results}/{name}/.checkpoints/{variant}/seed{seed}/   (resumable, outside the outputs)
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

#: Folder of the training checkpoints inside a study folder.
CHECKPOINTS = ".checkpoints"


def run_dir(study_dir: Path | str, stage: str, variant: str, seed: int | str) -> Path:
    """``{study_dir}/{stage}/{variant}/seed{seed}``; ``stage`` is ``train`` or ``eval``."""
    if stage not in ("train", "eval", CHECKPOINTS):
        raise ValueError(f"run stage {stage!r}: use 'train' or 'eval'")
    return Path(study_dir) / stage / str(variant) / f"seed{seed}"


def train_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """The training outputs of one run, by role (``model``, ``history``, ``info``, ``scores``)."""
    folder = run_dir(study_dir, "train", variant, seed)
    return {role: folder / name for role, name in TRAIN_FILES.items()}


def eval_files(study_dir: Path | str, variant: str, seed: int | str) -> dict[str, Path]:
    """The evaluation outputs of one run, by role (``metrics``, ``predictions``)."""
    folder = run_dir(study_dir, "eval", variant, seed)
    return {role: folder / name for role, name in EVAL_FILES.items()}


def checkpoint_dir(study_dir: Path | str, variant: str, seed: int | str) -> Path:
    """The per-epoch checkpoint folder of one training run (kept when the job fails)."""
    return run_dir(study_dir, CHECKPOINTS, variant, seed)


@dataclass(frozen=True)
class RunFiles:
    """Paths of the outputs of one (variant, seed) run."""

    variant: str
    seed: int
    train_dir: Path
    eval_dir: Path

    @classmethod
    def of(cls, study_dir: Path | str, variant: str, seed: int) -> RunFiles:
        """The run of ``variant`` with ``seed`` in the study folder ``study_dir``."""
        return cls(
            variant=variant,
            seed=int(seed),
            train_dir=run_dir(study_dir, "train", variant, seed),
            eval_dir=run_dir(study_dir, "eval", variant, seed),
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
        return self.eval_dir / EVAL_FILES["predictions"]


def study_runs(study_dir: Path | str, variants: list[str], seeds: list[int]) -> list[RunFiles]:
    """All runs of a study, variant-major, in config order."""
    return [RunFiles.of(study_dir, v, s) for v in variants for s in seeds]
