"""Runs of a sweep's points written as training jobs write them (scores.csv, history.csv,
train.json), with validation and test accuracies chosen by the test, for the tests of the
selection, the selected runs, the sweep's table, figure and summary section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from biomedclf.train.history import write_history
from biomedclf.train.scores import write_scores

#: Images per split of the generated runs.
N_IMAGES = 20


def split_rows(split: str, accuracy: float, n: int = N_IMAGES) -> tuple[list, list, list]:
    """``n`` two-class rows of which round(accuracy * n) are called right (threshold 0.5)."""
    right = round(accuracy * n)
    paths = [f"{split}/img{i}.png" for i in range(n)]
    labels = [i % 2 for i in range(n)]
    probs = []
    for i, y in enumerate(labels):
        p1 = 0.8 if (y == 1) == (i < right) else 0.2
        probs.append([1 - p1, p1])
    return paths, labels, probs


def write_run(
    folder: Path, point: str, seed: int, val: float, test: float, gap: float, seconds: float = 1.0
) -> dict[str, Path]:
    """One run's training files in ``folder`` (validation and test accuracy ``val`` and
    ``test``; training accuracy ``val + gap`` at the saved epoch 2 of 3), by role."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        r: folder / n
        for r, n in (
            ("model", "model.pt"),
            ("history", "history.csv"),
            ("scores", "scores.csv"),
            ("info", "train.json"),
        )
    }
    files["model"].write_bytes(f"model of {point} seed {seed}".encode())
    write_scores(files["scores"], {"val": split_rows("val", val), "test": split_rows("test", test)})
    rows = [
        {
            "epoch": e,
            "train_loss": 0.5,
            "train_accuracy": val + gap if e == 2 else 0.5,
            "val_loss": 0.6,
            "val_accuracy": val if e == 2 else 0.4,
            "lr": 0.001,
            "seconds": 0.1,
        }
        for e in (1, 2, 3)
    ]
    write_history(files["history"], rows)
    info = {"variant": point, "seed": seed, "best_epoch": 2, "train_seconds": seconds}
    files["info"].write_text(json.dumps(info))
    return files


def sweep_params(
    name: str, points: dict[str, dict[str, Any]], seeds: list[int], **settings: Any
) -> dict[str, Any]:
    """A sweep's job parameters (as :meth:`biomedclf.config.sweeps.Sweep.params` gives them);
    ``points`` in ascending order of their values."""
    keys = sorted(next(iter(points.values())))
    return {
        "kind": settings.get("kind", "grid"),
        "name": name,
        "base": "cnn",
        "points": [[p, v] for p, v in points.items()],
        "prefer": settings.get("prefer", "smaller"),
        "scales": settings.get("scales", {k: "linear" for k in keys}),
        "seeds": seeds,
        "select": settings.get("select", "best"),
        "selected": f"{name}.selected",
        "settings": keys,
    }


def write_sweep_runs(
    root: Path, params: dict[str, Any], numbers: dict[str, list[tuple[float, float, float]]]
) -> tuple[list[list], dict[str, list[Path]]]:
    """Every run of the sweep under ``root``: ``numbers`` holds per point one (validation,
    test, gap) per seed. Returns the runs ``[point, seed, None]`` and their files by role, as
    the selection rule hands them."""
    runs, files = [], {"scores": [], "history": [], "info": [], "model": []}
    for point, per_seed in numbers.items():
        for seed, (val, test, gap) in zip(params["seeds"], per_seed, strict=True):
            run = write_run(root / point / f"seed{seed}", point, seed, val, test, gap)
            runs.append([point, seed, None])
            for role in files:
                files[role].append(run[role])
    return runs, files


def specs_of(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A resolved spec per point (the base's with the point's values in model_args)."""
    return {
        p: {"name": p, "model": "conv", "model_args": dict(v), "training": {"epochs": 1}}
        for p, v in params["points"]
    }
