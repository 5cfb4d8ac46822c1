"""Generated studies of any shape for the figure matrix (tests/test_figure_matrix.py).

A :class:`Case` names one shape a config allows: image size (a non-square source padded to a
square with black borders, as the data cache holds it), channels, classes, the models of the
study and their kinds (``linear`` with its first-layer units, ``conv``, ``conv_gap``,
``resnet18``), folds, seeds, ``explain.n_images``, long class, variant and comparison names
(30 characters, or ``name_length``; class names of words with ``spaced``).
:func:`build_runs` writes the run files of workflow/CONTRACTS.md without training
(:func:`aggregate_fixtures.make_study`; with folds, every fold's ``scores.csv``,
``train.json`` and ``history.csv`` combined by the crossval job's own
:func:`biomedclf.crossval.combine.run_crossval`), and :func:`write_explain` the explain job's
``maps.npz``, ``sanity.json`` and ``errors.npz`` of each variant's first seed: Grad-CAM maps
for the convolutional kinds, integrated gradients and first-layer weights for ``linear``.
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
from biomedclf.evaluate.run_results import load_predictions
from biomedclf.explain.files import (
    ERRORS_FORMAT,
    MAPS_FORMAT,
    ErrorImages,
    SaliencyMaps,
    write_errors,
    write_maps,
    write_sanity,
)
from biomedclf.explain.sanity import sanity_record
from biomedclf.explain.selection import GALLERY_MAX, ensemble_errors, select_images, selection_union
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


def _maps(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` smooth non-negative maps (a blob each) at ``size`` x ``size``, float32, rounded:
    exact zeros away from the blob, as cheap to deflate as real maps."""
    grid = np.arange(size) / size
    cy, cx = rng.uniform(0.1, 0.9, (2, n, 1))
    rows, cols = np.exp(-((grid - cy) ** 2) / 0.02), np.exp(-((grid - cx) ** 2) / 0.02)
    return np.round(rows[:, :, None] * cols[:, None, :], 2).astype(np.float32)


def _weights(model: Model, case: Case) -> np.ndarray:
    """First-layer weights (U, C, H, W) of a linear model (smooth stripes), (0, C, H, W) for
    the other kinds."""
    size, units = case.image_size, model.units if model.kind == "linear" else 0
    grid = np.linspace(0, np.pi, size, dtype=np.float32)
    freq = np.arange(1, units + 1, dtype=np.float32)[:, None, None]
    stripes = np.sin(freq * (grid[:, None] + grid[None, :]))[:, None]
    return np.broadcast_to(stripes, (units, case.channels, size, size)).astype(np.float32)


def _saliency(
    v: str, seed: int, model: Model, case: Case, paths: list[str], picks: dict, own: Any
) -> SaliencyMaps:
    """The maps.npz record of variant ``v`` on ``paths`` (the baselines' ``picks``)."""
    rng = np.random.default_rng(len(v) + 7 * seed)
    rows = [own.paths.index(p) for p in paths]
    maps = _maps(len(paths), case.image_size, rng)
    if model.kind == "resnet18":
        maps[0] = 0.0  # an empty map ("(empty)" in its title)
    rho = rng.uniform(-0.2, 0.9 if model.kind == "conv_gap" else 0.3, len(paths))
    row = {p: i for i, p in enumerate(paths)}
    table = [(b, row[p.path], p.outcome, p.rank) for b in sorted(picks) for p in picks[b]]
    method, layer = KINDS[model.kind]
    return SaliencyMaps(
        format=MAPS_FORMAT,
        variant=v,
        seed=seed,
        method=method,
        layer=layer,
        target="true class",
        class_names=np.array(own.class_names),
        paths=np.array(paths),
        labels=own.labels[rows],
        probabilities=own.probs[rows].astype(np.float32),
        images=np.stack([case_image(p, case) for p in paths]),
        maps=maps,
        randomised_maps=maps[::-1].copy(),
        spearman=rho,
        cascade_layers=np.array(["fc", "features"]),
        cascade_spearman=np.stack([rho, rho]),
        selection_baseline=np.array([t[0] for t in table]),
        selection_image=np.array([t[1] for t in table], dtype=np.int64),
        selection_outcome=np.array([t[2] for t in table]),
        selection_rank=np.array([t[3] for t in table], dtype=np.int64),
        first_layer_weights=_weights(model, case),
    )


def _errors(runs: list[layout.RunFiles], v: str, case: Case) -> ErrorImages:
    """The errors.npz record of ``v``: its seed ensemble's errors with the case's images."""
    err = ensemble_errors({r.seed: r.predictions for r in runs if r.variant == v}, v)
    shown = err.paths[:GALLERY_MAX]
    k = len(shown)
    shape = (case.channels, case.image_size, case.image_size)
    return ErrorImages(
        format=ERRORS_FORMAT,
        variant=v,
        seeds=np.array(err.seeds),
        n_test=err.n_test,
        n_errors=len(err.paths),
        class_names=np.array(err.class_names),
        paths=np.array(shown, dtype=str),
        labels=err.labels[:k],
        predicted=err.predicted[:k],
        confidence=err.confidence[:k],
        images=np.stack([case_image(p, case) for p in shown]) if k else np.zeros((0, *shape)),
        confusions=np.array(err.confusions(), dtype=np.int64).reshape(-1, 3),
    )


def write_explain(
    root: Path, runs: list[layout.RunFiles], case: Case
) -> tuple[dict[str, Path], dict[str, Path], dict[tuple[str, int], Path]]:
    """maps.npz, errors.npz and sanity.json of each variant's first seed, as the explain job
    writes them (its selection made by :mod:`biomedclf.explain.selection` from ``runs``'
    predictions: with folds, the fold ensemble's test predictions). Returns variant ->
    maps.npz, variant -> errors.npz, (variant, seed) -> sanity.json."""
    comps = comparisons(case)
    models = dict(zip(variant_names(case), case.models))
    first = {r.variant: r for r in sorted(runs, key=lambda r: -r.seed)}
    maps, errors, sanity = {}, {}, {}
    for v, run in first.items():
        bases = sorted(
            {c["baseline"] for c in comps.values() if v in [c["baseline"], *c["variants"]]}
        ) or [v]
        picks = {
            b: select_images(load_predictions(first[b].predictions), case.n_images) for b in bases
        }
        own = load_predictions(run.predictions)
        record = _saliency(v, run.seed, models[v], case, selection_union(picks), picks, own)
        files = layout.explain_files(root, v, run.seed)
        maps[v] = write_maps(files["maps"], record)
        errors[v] = write_errors(files["errors"], _errors(runs, v, case))
        head = {"variant": v, "seed": run.seed, "method": record.method, "layer": record.layer}
        head["n_images"] = len(record.paths)
        rho = record.spearman
        sanity[(v, run.seed)] = write_sanity(
            files["sanity"], sanity_record(head, [["fc"], ["features"]], [rho, rho])
        )
    return maps, errors, sanity


# --------------------------------------------------------------------------------------------
# The same records in memory, for shapes drawn by hypothesis
# --------------------------------------------------------------------------------------------


def memory_maps(v: str, model: Model, case: Case, baseline: str, seed: int = 0) -> SaliencyMaps:
    """A maps.npz record of ``v`` on ``case.n_images`` test images chosen from ``baseline``'s
    predictions (alternately right and wrong), without files; first-layer weights as a view of
    one unit (no memory for 512 units at 256 px)."""
    n, k = case.n_images, case.n_classes
    rng = np.random.default_rng(seed + len(v))
    names = class_names(case)
    labels = np.arange(n) % k
    paths = [f"test/{names[y]}/img{i:04d}.png" for i, y in enumerate(labels)]
    probs = rng.dirichlet(np.ones(k), n).astype(np.float32)
    maps = _maps(n, case.image_size, rng)
    rho = rng.uniform(-0.2, 0.9, n)
    one = _weights(Model("linear", 1), case)
    units = model.units if model.kind == "linear" else 0
    method, layer = KINDS[model.kind]
    return SaliencyMaps(
        format=MAPS_FORMAT,
        variant=v,
        seed=seed,
        method=method,
        layer=layer,
        target="true class",
        class_names=np.array(names),
        paths=np.array(paths),
        labels=labels,
        probabilities=probs,
        images=np.stack([case_image(p, case) for p in paths]),
        maps=maps,
        randomised_maps=maps,
        spearman=rho,
        cascade_layers=np.array(["fc"]),
        cascade_spearman=rho[None],
        selection_baseline=np.array([baseline] * n),
        selection_image=np.arange(n),
        selection_outcome=np.array(["correct", "wrong"] * n)[:n],
        selection_rank=np.arange(n) // (2 * k),
        first_layer_weights=np.broadcast_to(one, (units, *one.shape[1:])),
    )


def memory_errors(v: str, case: Case, shown: int, n_errors: int, seeds: int) -> ErrorImages:
    """An errors.npz record of ``v`` with ``shown`` of ``n_errors`` errors, without files."""
    k = case.n_classes
    names = class_names(case)
    labels = np.arange(shown) % k
    predicted = (labels + 1) % k
    paths = [f"test/{names[y]}/err{i:04d}.png" for i, y in enumerate(labels)]
    images = [case_image(p, case) for p in paths]
    shape = (case.channels, case.image_size, case.image_size)
    pairs = sorted({(int(t), int(p)) for t, p in zip(labels, predicted)})[:5]
    return ErrorImages(
        format=ERRORS_FORMAT,
        variant=v,
        seeds=np.arange(seeds),
        n_test=max(n_errors, 1) * 3,
        n_errors=n_errors,
        class_names=np.array(names),
        paths=np.array(paths, dtype=str),
        labels=labels,
        predicted=predicted,
        confidence=np.linspace(0.99, 0.5, shown),
        images=np.stack(images) if shown else np.zeros((0, *shape), np.uint8),
        confusions=np.array([(t, p, 3) for t, p in pairs], dtype=np.int64).reshape(-1, 3),
    )
