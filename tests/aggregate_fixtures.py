"""Fake run files for the aggregate tests (stats, tables, plots, summary).

``make_study`` writes, for each (variant, seed), the four per-run files of workflow/CONTRACTS.md
(``history.csv``, ``train.json``, ``metrics.json``, ``predictions.csv``) under a temporary
study folder, with a chosen expected test accuracy per variant (or, with ``exact=True``, an
exact one: the first ``round(accuracy * n_test)`` images right), and returns the runs and a
``study`` dict as the summary adapter passes it. ``study_stats`` computes the statistics and
reads them back through stats.json, as the workflow's aggregate steps do.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.io import write_json
from biomedclf.metrics import binary_metrics
from biomedclf.runs import RunFiles, study_runs
from biomedclf.stats import study_statistics
from biomedclf.stats_file import StudyStats, read_stats

#: A three-variant suite at fake scale: name -> (model, expected test accuracy, seconds).
DEFAULT_VARIANTS: dict[str, tuple[str, float, float]] = {
    "ann": ("linear", 0.70, 0.4),
    "cnn": ("conv", 0.75, 2.4),
    "cnn_dropout": ("conv", 0.85, 2.5),
}

DEFAULT_COMPARISONS: dict[str, dict[str, Any]] = {
    "dropout": {
        "baseline": "cnn",
        "variants": ["cnn_dropout"],
        "claim": "Dropout raised test accuracy from 72% to 77%.",
    },
    "ann_vs_cnn": {"baseline": "ann", "variants": ["cnn"]},
}


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def fake_probabilities(
    labels: np.ndarray, accuracy: float, rng: np.random.Generator, exact: bool = False
) -> np.ndarray:
    """Probabilities that are right (on the right side of 0.5) with chance ``accuracy``.

    With ``exact``, image ``i`` is right if and only if ``i < round(accuracy * n)``: two
    variants with the same accuracy are right on the same images, whatever the seed.
    """
    if exact:
        correct = np.arange(labels.size) < round(accuracy * labels.size)
    else:
        correct = rng.random(labels.size) < accuracy
    margin = rng.uniform(0.01, 0.49, labels.size)
    towards_label = np.where(labels == 1, 0.5 + margin, 0.5 - margin)
    away = np.where(labels == 1, 0.5 - margin, 0.5 + margin)
    return np.round(np.where(correct, towards_label, away), 6)


def write_run(
    run: RunFiles,
    labels: np.ndarray,
    paths: list[str],
    probs: np.ndarray,
    *,
    model: str = "conv",
    seconds: float = 1.0,
    epochs: int = 4,
    rng: np.random.Generator,
) -> None:
    """Write the four per-run files of one fake run."""
    _write_csv(
        run.predictions,
        ["path", "label", "probability"],
        [[p, int(y), float(q)] for p, y, q in zip(paths, labels, probs)],
    )
    youden = binary_metrics(labels, probs, 0.45)
    metrics = {
        "variant": run.variant,
        "seed": run.seed,
        "n_test": int(labels.size),
        "positive_class": "PNEUMONIA",
        "threshold_0.5": binary_metrics(labels, probs, 0.5),
        "threshold_youden": youden,
    }
    run.metrics.write_text(json.dumps(metrics))
    rows = []
    for e in range(1, epochs + 1):
        train_acc = min(1.0, 0.6 + 0.1 * e + rng.uniform(0, 0.02))
        val_acc = 0.6 + 0.04 * e + rng.uniform(0, 0.02)
        rows.append([e, 1.0 / e, train_acc, 1.2 / e + 0.1, val_acc, 0.001, seconds / epochs])
    _write_csv(
        run.history,
        ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"],
        rows,
    )
    params = 2_100_000 if model == "linear" else 1_067_000
    train = {
        "variant": run.variant,
        "seed": run.seed,
        "model": model,
        "train_seconds": seconds * (1 + 0.05 * run.seed),
        "best_epoch": epochs,
        "epochs_run": epochs,
        "stopped_early": False,
        "parameters": params,
        "device": "cpu",
        "device_name": "Fake CPU",
        "threads": 1,
        "torch_version": "2.4.0",
        "torchvision_version": "0.19.0",
        "python_version": "3.11.0",
        "platform": "Linux-fake",
        "peak_memory_mb": None,
        "images_per_second": 100.0 / seconds,
        "n_train": 100,
        "n_val": 20,
        "image_size": 16,
        "channels": 1,
    }
    run.train_json.write_text(json.dumps(train))


def make_study(
    root: Path,
    variants: dict[str, tuple[str, float, float]] | None = None,
    seeds: tuple[int, ...] | list[int] = (0, 1, 2),
    n_test: int = 80,
    epochs: int = 4,
    comparisons: dict[str, dict[str, Any]] | None = None,
    name: str = "fake",
    exact: bool = False,
) -> tuple[list[RunFiles], dict[str, Any]]:
    """Write a fake study under ``root``; return (runs, study dict).

    ``exact``: each variant is right on exactly its first ``round(accuracy * n_test)`` images.
    """
    variants = DEFAULT_VARIANTS if variants is None else variants
    comparisons = DEFAULT_COMPARISONS if comparisons is None else comparisons
    seeds = list(seeds)
    labels = np.array([i % 2 for i in range(n_test)])
    paths = [f"{'PNEUMONIA' if y else 'NORMAL'}/img{i:04d}.png" for i, y in enumerate(labels)]
    runs = study_runs(root, list(variants), seeds)
    for k, run in enumerate(runs):
        model, acc, seconds = variants[run.variant]
        rng = np.random.default_rng(1000 + k)
        probs = fake_probabilities(labels, acc, rng, exact)
        write_run(run, labels, paths, probs, model=model, seconds=seconds, epochs=epochs, rng=rng)
    study = {
        "name": name,
        "data_summary": {
            "counts": {
                "train": {"NORMAL": 50, "PNEUMONIA": 50},
                "val": {"NORMAL": 10, "PNEUMONIA": 10},
                "test": {"NORMAL": n_test // 2, "PNEUMONIA": n_test - n_test // 2},
            },
            "image_size": 16,
            "channels": 1,
            "class_names": ["NORMAL", "PNEUMONIA"],
            "positive_class": "PNEUMONIA",
            "duplicates": {
                "sets": 0,
                "images": 0,
                "rejected_conflicting_label": 0,
                "rejected_across_splits": 0,
                "kept_copies": 0,
            },
            "rejected": 0,
            "source": "synthetic",
        },
        "variants": {
            v: {
                "name": v,
                "model": m,
                "model_args": {"dropout": 0.5} if "dropout" in v else {},
                "training": {
                    "epochs": epochs,
                    "batch_size": 16,
                    "optimizer": "adam",
                    "lr": 0.001,
                    "weight_decay": 0.0,
                },
            }
            for v, (m, _, _) in variants.items()
        },
        "comparisons": comparisons,
        "seeds": seeds,
    }
    return runs, study


def study_stats(
    runs: list[RunFiles], comparisons: dict[str, Any], path: Path, **statistics: Any
) -> StudyStats:
    """Statistics of ``runs`` written to stats.json at ``path`` and read back typed."""
    write_json(path, study_statistics(runs, comparisons, **statistics))
    return read_stats(path)
