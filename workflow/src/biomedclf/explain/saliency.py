"""Saliency maps of one trained model with captum, and their sanity check by randomisation.

What the explain job computes for a run (a variant with a seed), on the selected test images
(:mod:`biomedclf.explain.selection`):

* the *map* of each image, at image resolution, explaining the image's true class (so that
  the baseline and the variants of a comparison explain the same decision). Models with
  convolutions: captum's ``LayerGradCam`` on the last ``Conv2d`` (ReLU applied, as in
  Grad-CAM), upsampled to the image with ``LayerAttribution.interpolate`` (bilinear). The
  fully connected ``linear`` model: captum's ``IntegratedGradients`` from a zero input (the
  training mean, after normalisation), summed over channels, its positive part (the evidence
  for the class, as Grad-CAM's ReLU); its first layer's weights are kept as images too.
  Two-class models have one logit: class 1 is attributed through the logit, class 0 through
  its negative (:class:`ClassScores`); K-class models through the class's logit;
* the *sanity check* (Adebayo et al. 2018): the same maps after re-initialising the model's
  layers one after the other from the output layer down (:func:`cascade_groups`; a batch
  norm goes with the convolution before it), each layer with its own default initialisation
  (``reset_parameters``) under the run's seed, and the rank correlation of each step's maps
  with the trained ones (:mod:`biomedclf.explain.sanity`);
* the *error images*: the test images the variant's seed ensemble gets wrong (its
  ``predictions.csv`` of every seed), the most confident first, with their pixels, so that
  the figure job draws the error gallery without reading the data cache (and torch).

Everything runs on the CPU in float32 (a few dozen images). The outputs' formats are in
workflow/CONTRACTS.md ("Saliency maps"); :mod:`biomedclf.explain.files` writes them.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biomedclf.data.cache import CachedSplit, load_split
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
from biomedclf.explain.sanity import map_correlations, sanity_record
from biomedclf.explain.selection import (
    GALLERY_MAX,
    Pick,
    ensemble_errors,
    select_images,
    selection_union,
)
from biomedclf.layout import EXPLAIN_FILES
from biomedclf.train.augment import normalisation_tensors, to_model_input
from biomedclf.train.inference import flat_logits
from biomedclf.train.losses import probabilities
from biomedclf.train.models import load_model

log = logging.getLogger(__name__)

#: First-layer units of a model without convolutions kept in maps.npz (and drawn).
WEIGHT_UNITS = 8

#: Steps of the integrated-gradients path integral (captum's default is 50).
IG_STEPS = 32

#: Images per attribution pass: bounds the memory of a large model at a large image size
#: (a ResNet-18 at 256 px keeps about 25 MB of activations per image for the backward pass).
BATCH = 16

#: What each map explains (stored in maps.npz as ``target``).
TARGET = "true class"


class ClassScores(nn.Module):
    """One score per class: ``[-z, z]`` for a one-logit (two-class) model, so that target 0
    attributes the logit's negative and target 1 the logit; K logits are passed through."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return torch.cat([-out, out], dim=1) if out.shape[1] == 1 else out


@dataclass(frozen=True)
class Method:
    """How a model's maps are computed: ``grad_cam`` on ``layer`` or ``integrated_gradients``."""

    name: str
    layer: str  # module name of the attributed layer; "input" for integrated gradients


def method_for(model: nn.Module) -> Method:
    """Grad-CAM on the last ``Conv2d`` when the model has one, else integrated gradients."""
    convolutions = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if convolutions:
        return Method("grad_cam", convolutions[-1])
    return Method("integrated_gradients", "input")


def attribution_maps(
    model: nn.Module, method: Method, x: torch.Tensor, targets: torch.Tensor
) -> np.ndarray:
    """Maps (n x H x W, float32, >= 0) of ``model`` for the normalised batch ``x``, each
    explaining its image's class in ``targets``; computed :data:`BATCH` images at a time."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam

    scores = ClassScores(model).eval()
    out = []
    with torch.enable_grad():
        for start in range(0, x.shape[0], BATCH):
            xb, tb = x[start : start + BATCH], targets[start : start + BATCH]
            if method.name == "grad_cam":
                cam = LayerGradCam(scores, model.get_submodule(method.layer)).attribute(
                    xb, target=tb, relu_attributions=True
                )
                maps = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")[:, 0]
            else:
                ig = IntegratedGradients(scores).attribute(
                    xb, baselines=torch.zeros_like(xb), target=tb, n_steps=IG_STEPS
                )
                maps = ig.sum(dim=1)
            out.append(maps.detach().float().clamp_min(0).cpu())
    if not out:
        return np.zeros((0, *x.shape[2:]), dtype=np.float32)
    return torch.cat(out).numpy()


def cascade_groups(model: nn.Module) -> list[list[str]]:
    """Modules that own parameters, grouped (a batch norm with the layer before it), from the
    output layer down: the steps of the randomisation cascade."""
    groups: list[list[str]] = []
    for name, module in model.named_modules():
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and groups:
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups[::-1]


def _reinitialise(model: nn.Module, name: str) -> None:
    """Re-initialise one module as PyTorch initialises it (batch norm: statistics too)."""
    module = model.get_submodule(name)
    reset = getattr(module, "reset_parameters", None)
    if reset is None:
        raise ValueError(
            f"module {name} ({type(module).__name__}) has no reset_parameters; the sanity "
            "check cannot re-initialise it - add the module type to biomedclf.explain.saliency"
        )
    reset()


def randomisation_cascade(
    model: nn.Module, method: Method, x: torch.Tensor, targets: torch.Tensor, seed: int
) -> tuple[list[list[str]], list[np.ndarray]]:
    """The cascade's groups and the maps after each step (a copy of ``model`` is changed;
    the global random state is left as it was)."""
    groups = cascade_groups(model)
    random = copy.deepcopy(model).eval()
    steps = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for group in groups:
            for name in group:
                _reinitialise(random, name)
            steps.append(attribution_maps(random, method, x, targets))
    return groups, steps


def first_layer_weights(model: nn.Module, shape: tuple[int, int, int]) -> np.ndarray:
    """The first :data:`WEIGHT_UNITS` units of the first ``Linear`` layer as images
    (units x C x H x W) for a model without convolutions; an empty array otherwise. The
    figure shows these; all 512 units of a wide layer at 256 px would take 134 MB."""
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        for module in model.modules():
            if isinstance(module, nn.Linear) and module.in_features == int(np.prod(shape)):
                w = module.weight.detach()[:WEIGHT_UNITS].float().cpu().numpy()
                return w.reshape(w.shape[0], *shape)
    return np.zeros((0, *shape), dtype=np.float32)


def _selections(
    baselines: Mapping[str, Path | str],
    n_images: int,
    test_paths: list[str],
    test_labels: np.ndarray,
) -> dict[str, list[Pick]]:
    """Each baseline's selection from its predictions.csv (``baselines``: name -> path),
    checked against the test split."""
    index = {p: i for i, p in enumerate(test_paths)}
    out = {}
    for name, predictions in sorted(baselines.items()):
        pred = load_predictions(predictions)
        picks = select_images(pred, n_images)
        for pick in picks:
            if pick.path not in index or int(test_labels[index[pick.path]]) != pick.label:
                raise ValueError(
                    f"{pred.source}: image {pick.path!r} is not in the test split of the data "
                    "cache with this label; rerun the training and evaluation of "
                    f"{name} on the current cache"
                )
        out[name] = picks
    return out


def _selection_table(selections: dict[str, list[Pick]], paths: list[str]) -> dict[str, Any]:
    """The ``selection_*`` arrays of maps.npz."""
    row = {p: i for i, p in enumerate(paths)}
    picks = [(b, p) for b in sorted(selections) for p in selections[b]]
    return {
        "selection_baseline": np.array([b for b, _ in picks], dtype=str),
        "selection_image": np.array([row[p.path] for _, p in picks], dtype=np.int64),
        "selection_outcome": np.array([p.outcome for _, p in picks], dtype=str),
        "selection_rank": np.array([p.rank for _, p in picks], dtype=np.int64),
    }


def _inputs(saved: dict[str, Any], images: torch.Tensor) -> torch.Tensor:
    """The model's normalised float input for uint8 images (the mean/std in model.pt)."""
    mean, std = normalisation_tensors(saved["mean"], saved["std"], torch.device("cpu"))
    return to_model_input(images, mean, std)


def _check_model(
    model_path: Path, saved: dict[str, Any], test_images: torch.Tensor, class_names: list[str]
) -> None:
    """ValueError naming the model file when it was trained on another cache."""
    shape = (int(saved["channels"]), int(saved["image_size"]), int(saved["image_size"]))
    trained = list(saved.get("class_names") or class_names)
    if tuple(test_images.shape[1:]) != shape or trained != list(class_names):
        raise ValueError(
            f"{model_path}: trained on {shape} images of classes {trained}, but the test "
            f"split holds {tuple(test_images.shape[1:])} images of {class_names}; retrain "
            "the variant on the current data cache"
        )


def error_images(
    ensemble: Mapping[int, Path | str], variant: str, images: torch.Tensor, paths: list[str]
) -> ErrorImages:
    """The errors of ``variant``'s seed ensemble (``ensemble``: seed -> its predictions.csv),
    the first :data:`~biomedclf.explain.selection.GALLERY_MAX` with their images from the test
    split."""
    err = ensemble_errors(ensemble, variant)
    index = {p: i for i, p in enumerate(paths)}
    shown = err.paths[:GALLERY_MAX]
    missing = [p for p in shown if p not in index]
    if missing:
        raise ValueError(
            f"test images {missing[:3]} of the predictions of {variant} are not in the data "
            "cache; rerun its training and evaluation on the current cache"
        )
    rows = torch.tensor([index[p] for p in shown], dtype=torch.int64)
    return ErrorImages(
        format=ERRORS_FORMAT,
        variant=variant,
        seeds=np.array(err.seeds, np.int64),
        n_test=err.n_test,
        n_errors=len(err.paths),
        class_names=np.array(err.class_names, str),
        paths=np.array(shown, dtype=str),
        labels=err.labels[: len(shown)].astype(np.int64),
        predicted=err.predicted[: len(shown)].astype(np.int64),
        confidence=err.confidence[: len(shown)].astype(np.float64),
        images=images[rows].numpy(),
        confusions=np.array(err.confusions(), dtype=np.int64).reshape(-1, 3),
    )


def _check_arguments(ensemble: Any, outputs: Mapping[str, Path | str]) -> None:
    """TypeError or ValueError naming what a caller of :func:`explain_run` must change."""
    if not isinstance(ensemble, Mapping):
        raise TypeError(
            "explain_run: ensemble must map each seed to its predictions.csv "
            "({seed: path}); the explain rule's script passes "
            "dict(zip(params.seeds, input.ensemble, strict=True))"
        )
    missing = [role for role in EXPLAIN_FILES if role not in outputs]
    if missing:
        raise ValueError(f"explain outputs: no path for {missing}; name one per role")


def _saliency_maps(
    model: nn.Module,
    saved: dict[str, Any],
    test: CachedSplit,
    selections: dict[str, list[Pick]],
) -> tuple[SaliencyMaps, dict[str, Any]]:
    """The maps of the selected images and the sanity record of their cascade."""
    paths = selection_union(selections)
    index = {p: i for i, p in enumerate(test.paths)}
    rows = torch.tensor([index[p] for p in paths], dtype=torch.int64)
    images, labels = test.images[rows], test.labels[rows]
    x = _inputs(saved, images)
    method = method_for(model)
    with torch.no_grad():
        probs = probabilities(flat_logits(model(x))).numpy()
    maps = attribution_maps(model, method, x, labels)
    groups, steps = randomisation_cascade(model, method, x, labels, int(saved["seed"]))
    correlations = [map_correlations(maps, s) for s in steps]
    head = {
        "variant": str(saved["spec"]["name"]),
        "seed": int(saved["seed"]),
        "method": method.name,
        "layer": method.layer,
    }
    result = SaliencyMaps(
        format=MAPS_FORMAT,
        **head,
        target=TARGET,
        class_names=np.array(test.class_names, dtype=str),
        paths=np.array(paths, dtype=str),
        labels=labels.numpy().astype(np.int64),
        probabilities=probs.astype(np.float32),
        images=images.numpy(),
        maps=maps,
        randomised_maps=steps[-1],
        spearman=correlations[-1],
        cascade_layers=np.array([",".join(g) for g in groups]),
        cascade_spearman=np.stack(correlations),
        **_selection_table(selections, paths),
        first_layer_weights=first_layer_weights(model, tuple(images.shape[1:])),
    )
    return result, sanity_record({**head, "n_images": len(paths)}, groups, correlations)


def explain_run(
    model: Path | str,
    test: Path | str,
    baselines: Mapping[str, Path | str],
    ensemble: Mapping[int, Path | str],
    n_images: int,
    outputs: Mapping[str, Path | str],
    threads: int = 1,
) -> dict[str, Path]:
    """Write one run's ``maps.npz``, ``sanity.json`` and ``errors.npz`` to ``outputs`` (by
    role: ``maps``, ``sanity``, ``errors``, as :func:`biomedclf.layout.explain_files`).

    ``model`` is the run's model.pt and ``test`` the data cache's test split (test.pt).
    ``baselines`` maps each baseline of the comparisons the variant belongs to (the variant
    itself when it is in none) to its predictions.csv with the same seed: the maps cover the
    union of their selections of ``n_images`` (``explain.n_images``;
    :func:`biomedclf.explain.selection.selection_union`). ``ensemble`` maps each seed of the
    variant to its predictions.csv (errors.npz). Returns the written paths by role.
    """
    _check_arguments(ensemble, outputs)
    torch.set_num_threads(max(1, int(threads)))
    net, saved = load_model(model)
    split = load_split(Path(test), mmap=True)  # a few images of a large split
    _check_model(Path(model), saved, split.images, split.class_names)
    selections = _selections(baselines, n_images, split.paths, split.labels.numpy())
    result, record = _saliency_maps(net, saved, split, selections)
    log.info(
        "%s seed %s: %d images, %s on %s; %s",
        result.variant,
        result.seed,
        len(result.paths),
        result.method,
        result.layer,
        record["verdict"],
    )
    errors = error_images(ensemble, result.variant, split.images, split.paths)
    return {
        "maps": write_maps(outputs["maps"], result),
        "sanity": write_sanity(outputs["sanity"], record),
        "errors": write_errors(outputs["errors"], errors),
    }
