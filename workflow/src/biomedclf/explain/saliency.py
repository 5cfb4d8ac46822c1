"""Saliency maps of one trained model with captum, and their sanity check by randomisation.

What the explain job computes for a run (a variant with a seed), on the selected test images
(:mod:`biomedclf.explain.selection`):

* the *map* of each image, at image resolution, explaining the image's true class (so that
  the baseline and the variants of a comparison explain the same decision); in a multi-label
  study, the logit of the label ``explain.label`` chooses (by default each image's most
  probable positive label for the explained model: :mod:`biomedclf.explain.multilabel`). Models with
  convolutions: captum's ``LayerGradCam`` on the last ``Conv2d`` (ReLU applied, as in
  Grad-CAM), upsampled to the image with ``LayerAttribution.interpolate`` (bilinear). The
  fully connected ``linear`` model: captum's ``IntegratedGradients`` from a zero input (the
  training mean, after normalisation), summed over channels, its positive part (the evidence
  for the class, as Grad-CAM's ReLU); its first layer's weights are kept as images too.
  Two-class models have one logit: class 1 is attributed through the logit, class 0 through
  its negative (:class:`ClassScores`); K-class models through the class's logit, multi-label
  models through the label's;
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
from biomedclf.explain.choice import error_images, selections
from biomedclf.explain.files import (
    MAPS_FORMAT,
    SaliencyMaps,
    write_errors,
    write_maps,
    write_sanity,
)
from biomedclf.explain.multilabel import IGNORED, check_label, explained_labels, target_text
from biomedclf.explain.sanity import map_correlations, sanity_record
from biomedclf.explain.selection import Pick, selection_union
from biomedclf.layout import EXPLAIN_FILES
from biomedclf.train.augment import normalisation_tensors, to_model_input
from biomedclf.train.inference import flat_logits
from biomedclf.train.losses import probabilities
from biomedclf.train.models import load_model
from biomedclf.train.multilabel import label_probabilities

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
    attributes the logit's negative and target 1 the logit; K logits are passed through, and
    so are a multi-label model's logits (one per label, even a single one)."""

    def __init__(self, model: nn.Module, multilabel: bool = False) -> None:
        super().__init__()
        self.model = model
        self.multilabel = multilabel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        return torch.cat([-out, out], dim=1) if out.shape[1] == 1 and not self.multilabel else out


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
    model: nn.Module,
    method: Method,
    x: torch.Tensor,
    targets: torch.Tensor,
    multilabel: bool = False,
) -> np.ndarray:
    """Maps (n x H x W, float32, >= 0) of ``model`` for the normalised batch ``x``, each
    explaining its image's class (``multilabel``: label) in ``targets``; computed
    :data:`BATCH` images at a time."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam

    scores = ClassScores(model, multilabel).eval()
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
    model: nn.Module,
    method: Method,
    x: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
    multilabel: bool = False,
) -> tuple[list[list[str]], list[np.ndarray]]:
    """The cascade's groups and the maps after each step (a copy of ``model`` is changed;
    the global random state is left as it was); ``targets`` as :func:`attribution_maps`."""
    groups = cascade_groups(model)
    random = copy.deepcopy(model).eval()
    steps = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for group in groups:
            for name in group:
                _reinitialise(random, name)
            steps.append(attribution_maps(random, method, x, targets, multilabel))
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


def _selection_table(selections: dict[str, list[Pick]], paths: list[str]) -> dict[str, Any]:
    """The ``selection_*`` arrays of maps.npz."""
    row = {p: i for i, p in enumerate(paths)}
    picks = [(b, p) for b in sorted(selections) for p in selections[b]]
    return {
        "selection_baseline": np.array([b for b, _ in picks], dtype=str),
        "selection_image": np.array([row[p.path] for _, p in picks], dtype=np.int64),
        "selection_outcome": np.array([p.outcome for _, p in picks], dtype=str),
        "selection_rank": np.array([p.rank for _, p in picks], dtype=np.int64),
        "selection_label": np.array([p.label for _, p in picks], dtype=np.int64),
    }


def _inputs(saved: dict[str, Any], images: torch.Tensor) -> torch.Tensor:
    """The model's normalised float input for uint8 images (the mean/std in model.pt)."""
    mean, std = normalisation_tensors(saved["mean"], saved["std"], torch.device("cpu"))
    return to_model_input(images, mean, std)


def _check_model(model_path: Path, saved: dict[str, Any], test: CachedSplit) -> None:
    """ValueError naming the model file when it was trained on another cache."""
    shape = (int(saved["channels"]), int(saved["image_size"]), int(saved["image_size"]))
    class_names, test_images = list(test.class_names), test.images
    trained = list(saved.get("class_names") or class_names)
    multilabel = saved.get("task") == "multilabel"
    if multilabel != test.multilabel:
        kinds = {True: "multi-label", False: "single-label"}
        raise ValueError(
            f"{model_path}: a {kinds[multilabel]} model, but the test split is "
            f"{kinds[test.multilabel]}; retrain the variant on the current data cache"
        )
    if multilabel and "thresholds" not in saved:
        raise ValueError(
            f"{model_path}: a multi-label model without its per-label thresholds; retrain it"
        )
    if tuple(test_images.shape[1:]) != shape or trained != class_names:
        raise ValueError(
            f"{model_path}: trained on {shape} images of classes {trained}, but the test "
            f"split holds {tuple(test_images.shape[1:])} images of {class_names}; retrain "
            "the variant on the current data cache"
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


def _targets(
    model: nn.Module,
    saved: dict[str, Any],
    x: torch.Tensor,
    test: CachedSplit,
    rows: torch.Tensor,
    label: str | None,
) -> dict[str, Any]:
    """The fields of maps.npz on what each map explains: ``target``, ``labels``,
    ``probabilities`` and ``explained`` (the true class, or the label ``explain.label``
    chooses from the model's own probabilities and thresholds)."""
    with torch.no_grad():
        logits = flat_logits(model(x))
    if not test.multilabel:
        labels = test.labels[rows].numpy().astype(np.int64)
        probs = probabilities(logits).numpy()
        return {"target": TARGET, "labels": labels, "probabilities": probs, "explained": labels}
    names = list(test.class_names)
    probs = label_probabilities(logits, len(names)).numpy()
    labels = np.where(test.mask[rows].numpy(), test.labels[rows].numpy(), IGNORED)
    return {
        "target": target_text(label),
        "labels": labels.astype(np.int64),
        "probabilities": probs,
        "explained": explained_labels(probs, saved["thresholds"], names, label),
    }


def _saliency_maps(
    model: nn.Module,
    saved: dict[str, Any],
    test: CachedSplit,
    selections: dict[str, list[Pick]],
    label: str | None,
) -> tuple[SaliencyMaps, dict[str, Any]]:
    """The maps of the selected images and the sanity record of their cascade."""
    paths = selection_union(selections)
    index = {p: i for i, p in enumerate(test.paths)}
    rows = torch.tensor([index[p] for p in paths], dtype=torch.int64)
    images = test.images[rows]
    x = _inputs(saved, images)
    method = method_for(model)
    explained = _targets(model, saved, x, test, rows, label)
    chosen, ml = torch.from_numpy(explained["explained"]), test.multilabel
    maps = attribution_maps(model, method, x, chosen, ml)
    groups, steps = randomisation_cascade(model, method, x, chosen, int(saved["seed"]), ml)
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
        target=explained["target"],
        class_names=np.array(test.class_names, dtype=str),
        paths=np.array(paths, dtype=str),
        labels=explained["labels"],
        probabilities=explained["probabilities"].astype(np.float32),
        images=images.numpy(),
        maps=maps,
        randomised_maps=steps[-1],
        spearman=correlations[-1],
        cascade_layers=np.array([",".join(g) for g in groups]),
        cascade_spearman=np.stack(correlations),
        **_selection_table(selections, paths),
        first_layer_weights=first_layer_weights(model, tuple(images.shape[1:])),
        explained=explained["explained"],
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
    label: str | None = None,
) -> dict[str, Path]:
    """Write one run's ``maps.npz``, ``sanity.json`` and ``errors.npz`` to ``outputs`` (by
    role: ``maps``, ``sanity``, ``errors``, as :func:`biomedclf.layout.explain_files`).

    ``model`` is the run's model.pt and ``test`` the data cache's test split (test.pt).
    ``baselines`` maps each baseline of the comparisons the variant belongs to (the variant
    itself when it is in none) to its predictions.csv with the same seed: the maps cover the
    union of their selections of ``n_images`` (``explain.n_images``;
    :func:`biomedclf.explain.selection.selection_union`). ``ensemble`` maps each seed of the
    variant to its predictions.csv (errors.npz). ``label`` (``explain.label``, multi-label
    studies only) names the label every map explains; ``None``: the true class, or in a
    multi-label study each image's most probable positive label
    (:func:`biomedclf.explain.multilabel.explained_labels`). Returns the written paths by role.
    """
    _check_arguments(ensemble, outputs)
    torch.set_num_threads(max(1, int(threads)))
    net, saved = load_model(model)
    split = load_split(Path(test), mmap=True)  # a few images of a large split
    _check_model(Path(model), saved, split)
    check_label(label, split.class_names, split.multilabel)
    result, record = _saliency_maps(
        net, saved, split, selections(baselines, n_images, split), label
    )
    log.info(
        "%s seed %s: %d images, %s on %s; %s",
        result.variant,
        result.seed,
        len(result.paths),
        result.method,
        result.layer,
        record["verdict"],
    )
    errors = error_images(ensemble, result.variant, split)
    return {
        "maps": write_maps(outputs["maps"], result),
        "sanity": write_sanity(outputs["sanity"], record),
        "errors": write_errors(outputs["errors"], errors),
    }
