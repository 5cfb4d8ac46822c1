"""Generated studies of any shape for the figure matrix (tests/test_figure_matrix.py).

A :class:`Case` names one shape a config allows: image size (a non-square source padded to a
square with black borders, as the data cache holds it), channels, classes, the models of the
study and their kinds (``linear`` with its first-layer units, ``conv``, ``conv_gap``,
``resnet18``), folds, seeds, ``explain.n_images``, long class, variant and comparison names
(30 characters, or ``name_length``; class names of words with ``spaced``).
:func:`build_runs` writes the run files of workflow/CONTRACTS.md without training
(:func:`aggregate_fixtures.make_study`; with folds, every fold's ``scores.csv``,
``train.json`` and ``history.csv`` combined by the crossval job's own
:func:`biomedclf.crossval.combine.run_crossval`); tests/figure_matrix_explain.py writes the
explain job's files.
"""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aggregate_fixtures import fake_image, fake_probabilities, make_study

from biomedclf import layout
from biomedclf.crossval.combine import run_crossval
from biomedclf.train.history import HISTORY_COLUMNS
from biomedclf.train.scores import score_columns

#: Per model kind: the saliency method and the attributed layer its explain job records.
KINDS = {
    "linear": ("integrated_gradients", "input"),
    "conv": ("grad_cam", "features.6"),
    "conv_gap": ("grad_cam", "features.9"),
    "resnet18": ("grad_cam", "layer4.1.conv2"),
}

#: Length of the long class, variant and comparison names.
LONG = 30


@dataclass(frozen=True)
class Model:
    """A variant of a case: its model kind and, for ``linear``, its first-layer units."""

    kind: str
    units: int = 0


LIN32, LIN512 = Model("linear", 32), Model("linear", 512)
CONV, GAP, RESNET = Model("conv"), Model("conv_gap"), Model("resnet18")


@dataclass(frozen=True)
class Case:
    """One shape of study; ``comparisons`` list each comparison's members by their index in
    ``models`` (baseline first)."""

    id: str
    models: tuple[Model, ...]
    comparisons: tuple[tuple[int, ...], ...]
    image_size: int = 28
    padded: bool = False
    channels: int = 1
    n_classes: int = 2
    folds: int | None = None
    seeds: int = 1
    n_images: int = 16
    long_names: bool = False
    name_length: int = LONG  # of the long names
    spaced: bool = False  # long class names of words (a folder name may hold spaces)
    n_test: int = 60
    architecture: bool = False  # write the architecture table (builds the models with torch)


def long_name(prefix: str, i: int, length: int = LONG) -> str:
    """A name of exactly ``length`` characters that starts with ``prefix`` and ends with
    ``i``."""
    tail = f"_{i:02d}"
    filler = "_with_a_long_descriptive_name" * (length // 20 + 1)
    return (prefix + filler)[: length - len(tail)] + tail


def variant_names(case: Case) -> list[str]:
    """The case's variant names, in model order."""
    if case.long_names:
        return [long_name(m.kind, i, case.name_length) for i, m in enumerate(case.models)]
    return [f"{m.kind}{m.units or ''}_{i}" for i, m in enumerate(case.models)]


def class_names(case: Case) -> list[str]:
    """The case's class names."""
    if case.long_names:
        names = [
            long_name("Class-" + "ABCDEFGHIJK"[k % 11], k, case.name_length)
            for k in range(case.n_classes)
        ]
        return [n.replace("_", " ") for n in names] if case.spaced else names
    return [f"class {k}" for k in range(case.n_classes)]


def comparisons(case: Case) -> dict[str, dict[str, Any]]:
    """The case's comparisons as the config writes them."""
    names = variant_names(case)
    out = {}
    for c, members in enumerate(case.comparisons):
        key = long_name("comparison", c, case.name_length) if case.long_names else f"comp{c}"
        out[key] = {"baseline": names[members[0]], "variants": [names[i] for i in members[1:]]}
    return out


@functools.lru_cache(maxsize=1024)
def case_image(path: str, case: Case) -> np.ndarray:
    """The uint8 C x H x W test image of ``path``: a blob; with ``padded``, a landscape
    source padded to the square with black bands above and below; tinted with 3 channels."""
    image = fake_image(path, case.image_size, case.channels).astype(np.float64)
    if case.channels == 3:
        image *= np.array([1.0, 0.8, 0.6])[:, None, None]
    if case.padded:
        band = case.image_size // 4
        image[:, :band] = 0
        image[:, case.image_size - band :] = 0
    return image.astype(np.uint8)


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _write_fold(
    files: dict[str, Path], fold: int, k: int, record: dict[str, Any], rng: np.random.Generator
) -> None:
    """One fold's scores.csv (val, heldout, test rows), train.json and history.csv, as a
    fold's training job writes them; ``record`` is the run's train.json."""
    names = record["class_names"]
    n = int(record["n_test"])
    labels = np.arange(n) % len(names)
    pool = [f"pool/{names[y]}/img{i:04d}.png" for i, y in enumerate(labels)]
    test = [f"test/{names[y]}/img{i:04d}.png" for i, y in enumerate(labels)]
    splits = {
        "val": [i for i in range(n) if i % k == (fold + 1) % k][:10],
        "heldout": [i for i in range(n) if i % k == fold],
        "test": list(range(n)),
    }
    rows = []
    for split, index in splits.items():
        probs = fake_probabilities(labels[index], record["accuracy"], rng, n_classes=len(names))
        paths = test if split == "test" else pool
        rows += [[split, paths[i], int(labels[i]), *map(float, p)] for i, p in zip(index, probs)]
    _write_csv(files["scores"], score_columns(len(names)), rows)
    info = {**record, "fold": fold, "n_heldout": len(splits["heldout"]), "peak_memory_mb": 100.0}
    files["info"].write_text(json.dumps(info))
    history = [
        [e, 1.0 / e + 0.1 * fold, 0.6 + 0.05 * e, 1.2 / e, 0.55 + 0.04 * e, 1e-3, 0.5]
        for e in range(1, record["epochs_run"] + 1)
    ]
    _write_csv(files["history"], list(HISTORY_COLUMNS), history)


def cross_validate(root: Path, runs: list[layout.RunFiles], k: int, accuracy: dict) -> None:
    """Replace every run's files by those of ``k`` folds combined by the crossval job."""
    for run in runs:
        record = json.loads(run.train_json.read_text())
        n_test = json.loads(run.metrics.read_text())["n_test"]
        record = {**record, "n_test": n_test, "accuracy": accuracy[run.variant]}
        rng = np.random.default_rng(run.seed)
        folds = [layout.train_files(root, run.variant, run.seed, f) for f in range(k)]
        for f, files in enumerate(folds):
            files["info"].parent.mkdir(parents=True, exist_ok=True)
            _write_fold(files, f, k, record, rng)
        run_crossval(
            [f["scores"] for f in folds],
            [f["info"] for f in folds],
            [f["history"] for f in folds],
            layout.crossval_files(root, run.variant, run.seed),
            ordinal=False,
        )


def build_runs(root: Path, case: Case) -> tuple[list[layout.RunFiles], dict[str, Any]]:
    """Write the run files of ``case`` under ``root``; returns the runs (as the aggregate
    rules list them) and the study dict (:func:`aggregate_fixtures.make_study`, with the
    case's ``folds``, image size and channels)."""
    names = variant_names(case)
    accuracy = {v: 0.55 + 0.05 * (i % 6) for i, v in enumerate(names)}
    variants = {
        v: (m.kind, accuracy[v], 1.0 + i) for i, (v, m) in enumerate(zip(names, case.models))
    }
    runs, study = make_study(
        root,
        variants,
        seeds=list(range(case.seeds)),
        n_test=case.n_test,
        comparisons=comparisons(case),
        n_classes=case.n_classes,
        names=class_names(case),
    )
    for v, m in zip(names, case.models):
        if m.kind == "linear":
            study["variants"][v]["model_args"] = {"hidden": [m.units]}
    data = study["data_summary"]
    data.update(image_size=case.image_size, channels=case.channels, n_classes=case.n_classes)
    data["split"] = {"val": 0.2, "test": 0.2, "seed": 0, "group": None, "group_pattern": None}
    if case.folds:
        cross_validate(root, runs, case.folds, accuracy)
        data["folds"] = {"k": case.folds, "seed": 0, "inner_val": 0.2}
    study["folds"] = case.folds
    layout.data_file(root, "summary").write_text(json.dumps(study["data_summary"]))
    return runs, study
