"""Where one run's files live: the shared vocabulary of the aggregate steps.

A *run* is one training of one variant with one seed, followed by its evaluation on the test
split. The workflow lays the files out as DESIGN.md says::

    {results}/{name}/train/{variant}/seed{seed}/model.pt, history.csv, train.json
    {results}/{name}/eval/{variant}/seed{seed}/metrics.json, predictions.csv
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunFiles:
    """Paths of the outputs of one (variant, seed) run."""

    variant: str
    seed: int
    train_dir: Path
    eval_dir: Path

    @property
    def model(self) -> Path:
        return self.train_dir / "model.pt"

    @property
    def history(self) -> Path:
        return self.train_dir / "history.csv"

    @property
    def train_json(self) -> Path:
        return self.train_dir / "train.json"

    @property
    def metrics(self) -> Path:
        return self.eval_dir / "metrics.json"

    @property
    def predictions(self) -> Path:
        return self.eval_dir / "predictions.csv"


def study_runs(study_dir: Path | str, variants: list[str], seeds: list[int]) -> list[RunFiles]:
    """All runs of a study, variant-major, in config order."""
    study_dir = Path(study_dir)
    return [
        RunFiles(
            variant=v,
            seed=int(s),
            train_dir=study_dir / "train" / v / f"seed{s}",
            eval_dir=study_dir / "eval" / v / f"seed{s}",
        )
        for v in variants
        for s in seeds
    ]
