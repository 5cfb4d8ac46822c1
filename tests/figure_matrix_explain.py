"""The explain job's files of the figure matrix's generated studies
(tests/test_figure_matrix.py, tests/test_mosaic_shapes.py).

:func:`write_explain` writes ``maps.npz``, ``sanity.json`` and ``errors.npz`` of each variant's
first seed: Grad-CAM maps for the convolutional kinds, integrated gradients and first-layer
weights for ``linear``; :func:`memory_maps` and :func:`memory_errors` build the same records
in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from figure_matrix_fixtures import (
    KINDS,
    Case,
    Model,
    case_image,
    class_names,
    comparisons,
    variant_names,
)

from biomedclf import layout
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
