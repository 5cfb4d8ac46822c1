"""The model registry: the classifiers a study compares, as configurable variants.

Every model maps a float batch ``N x C x H x W`` to its logits: one per image (``N x 1``) for
two classes, where label 1 is the positive class, and one per class (``N x K``) for K > 2
classes (:func:`output_units`). Models are built by name from a variant's ``model:`` and its
model settings (``dropout``, ``width``, ...), see :data:`REGISTRY`:

- ``linear``: flatten, hidden fully connected layers with ReLU (a multilayer perceptron).
- ``conv``: 3x3 convolutions (padding 1) each with ReLU and 2x2 max-pooling, fc, output,
  with optional dropout between the two fully connected layers.

In the convolution blocks max-pooling comes before the ReLU. The two commute (ReLU is
monotone, so ``relu(maxpool(x)) == maxpool(relu(x))`` element for element, gradients
included), but the ReLU then runs on a quarter of the values and the pooling's input is not
kept for a ReLU backward: about 13% faster training of ``conv`` at 256 px on a CPU
(``tests/benchmarks``). The architecture tables therefore list MaxPool before ReLU.
- ``conv_gap``: convolution blocks, global average pooling, dropout, linear head (section 3).
- ``resnet18``: torchvision's ResNet-18 from scratch, stem taking ``in_channels``; optional
  local weights file (never a download).
- ``torchvision/<name>``, ``timm/<name>``: any classification model of those libraries, from
  scratch or from pretrained weights in a local cache (:mod:`biomedclf.train.backbones`).

:func:`biomedclf.report.tables.architecture.architecture_table` lists layers, output shapes and
parameter counts; :func:`load_model` rebuilds a trained model from its ``model.pt`` alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)

__all__ = [
    "REGISTRY",
    "LinearModel",
    "ConvModel",
    "ConvGAP",
    "build_model",
    "count_parameters",
    "load_model",
    "output_units",
    "registry_entry",
    "uses_convolutions",
]


class LinearModel(nn.Module):
    """Fully connected network on the flattened image (a multilayer perceptron).

    ``Flatten -> [Linear -> ReLU -> Dropout] x len(hidden) -> Linear(1)``.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        hidden: list[int] | tuple[int, ...],
        dropout: float,
        outputs: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_channels * image_size * image_size
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _pooled_size(image_size: int, depth: int, key: str) -> int:
    """Spatial size after ``depth`` 2x2 max-pools (floor), or a ValueError naming ``key``."""
    size = image_size
    for _ in range(depth):
        size //= 2
    if size < 1:
        raise ValueError(
            f"{key}: {depth} pooling stages shrink a {image_size}px image to nothing; "
            f"use depth <= {max(image_size.bit_length() - 1, 0)} or a larger data.image_size"
        )
    return size


class ConvModel(nn.Module):
    """A plain CNN: ``depth`` x [Conv3x3(pad 1) -> MaxPool2x2 -> ReLU], fc, out.

    The flattened size is computed from ``image_size``, so any input size works. Dropout sits
    between fc1 and fc2. Flattening is done in ``forward`` (not a module) so the architecture
    table lists only the layers that hold parameters or pool (pooling and ReLU swapped, see
    the module docstring).
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        width: int,
        depth: int,
        fc: int,
        dropout: float,
        outputs: int,
    ) -> None:
        super().__init__()
        side = _pooled_size(image_size, depth, "depth")
        blocks: list[nn.Module] = []
        channels = in_channels
        for _ in range(depth):
            blocks += [
                nn.Conv2d(channels, width, kernel_size=3, stride=1, padding=1),
                nn.MaxPool2d(2),
                nn.ReLU(inplace=True),
            ]
            channels = width
        self.features = nn.Sequential(*blocks)
        self.fc1 = nn.Linear(width * side * side, fc)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(fc, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.features(x), 1)
        x = self.dropout(self.relu(self.fc1(x)))
        return self.fc2(x)


class ConvGAP(nn.Module):
    """CNN with global average pooling.

    ``depth`` x [Conv3x3 -> BatchNorm (optional) -> MaxPool2x2 -> ReLU] -> GAP -> Dropout ->
    Linear(1). A wider, regularised version is e.g. ``width: 64, batch_norm: true,
    dropout: 0.3``.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        width: int,
        depth: int,
        batch_norm: bool,
        dropout: float,
        outputs: int,
    ) -> None:
        super().__init__()
        _pooled_size(image_size, depth, "depth")
        blocks: list[nn.Module] = []
        channels = in_channels
        for _ in range(depth):
            blocks.append(
                nn.Conv2d(
                    channels,
                    width,
                    kernel_size=3,
                    stride=1,
                    padding=1,
                    bias=not batch_norm,
                )
            )
            if batch_norm:
                blocks.append(nn.BatchNorm2d(width))
            blocks += [nn.MaxPool2d(2), nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*blocks)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.gap(self.features(x)), 1)
        return self.head(self.dropout(x))


def _resnet18(
    in_channels: int,
    image_size: int,
    weights: str | None,
    *,
    outputs: int,
    load_weights: bool,
) -> nn.Module:
    """torchvision's ResNet-18 with a stem for ``in_channels`` and one output logit.

    ``weights`` is an optional local ``.pt`` state dict (e.g. torchvision's ImageNet file saved
    beforehand); nothing is downloaded. A 3-channel stem in the file is summed over its input
    channels for a 1-channel model; a classifier of another size is skipped (trained afresh).
    """
    from torchvision.models import resnet18

    model = resnet18(weights=None, num_classes=outputs)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if weights and load_weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(
                f"weights: {path} does not exist; give the path of a local ResNet-18 state dict "
                "(.pt) or remove 'weights' to train from scratch (nothing is downloaded)"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        own = model.state_dict()
        stem = state.get("conv1.weight")
        if stem is not None and stem.shape[1] != in_channels and in_channels == 1:
            state["conv1.weight"] = stem.sum(dim=1, keepdim=True)
        skipped = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
        unexpected = [k for k in state if k not in own]
        if unexpected:
            raise ValueError(
                f"weights: {path} is not a ResNet-18 state dict (unexpected keys "
                f"{unexpected[:5]}...); save torchvision.models.resnet18().state_dict()"
            )
        state = {k: v for k, v in state.items() if k not in skipped}
        missing = model.load_state_dict(state, strict=False).missing_keys
        log.info(
            "loaded ResNet-18 weights from %s (trained afresh: %s)",
            path,
            missing or "none",
        )
    return model


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder and the defaults of its settings (workflow/CONTRACTS.md)."""

    builder: Callable[..., nn.Module]
    defaults: dict[str, Any]
    convolutional: bool


#: name -> entry; the keys are the values ``model:`` accepts.
REGISTRY: dict[str, ModelEntry] = {
    "linear": ModelEntry(LinearModel, {"hidden": [32, 32, 32], "dropout": 0.0}, False),
    "conv": ModelEntry(ConvModel, {"width": 32, "depth": 3, "fc": 32, "dropout": 0.0}, True),
    "conv_gap": ModelEntry(
        ConvGAP, {"width": 32, "depth": 3, "batch_norm": False, "dropout": 0.0}, True
    ),
    "resnet18": ModelEntry(_resnet18, {"weights": None}, True),
}


def registry_entry(name: str) -> ModelEntry:
    """The entry of model ``name``: a :data:`REGISTRY` key, or a torchvision or timm model
    named ``<family>/<name>`` (:mod:`biomedclf.train.backbones`); KeyError otherwise."""
    from biomedclf.train import backbones

    if backbones.is_backbone(name):
        return ModelEntry(backbones.build_backbone, dict(backbones.DEFAULTS), True)
    return REGISTRY[name]


def _check_args(name: str, args: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Merge ``args`` over the defaults of model ``name``; ValueError on a setting the model
    does not have (the schema checks the values of the settings it has)."""
    entry = registry_entry(name)
    unknown = sorted(set(args) - set(entry.defaults))
    if unknown:
        raise ValueError(
            f"{prefix}.{unknown[0]}: not a setting of model '{name}'; "
            f"allowed: {sorted(entry.defaults)}"
        )
    return {**entry.defaults, **args}


def output_units(n_classes: int, multilabel: bool = False) -> int:
    """Logits per image: one for two classes (sigmoid, BCE), else one per class (softmax);
    ``multilabel``: one per label (``n_classes`` labels, each its own sigmoid)."""
    if multilabel:
        if n_classes < 1:
            raise ValueError(f"a multi-label classifier needs at least one label, got {n_classes}")
        return n_classes
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least two classes, got {n_classes}")
    return 1 if n_classes == 2 else n_classes


def build_model(
    name: str,
    model_args: dict[str, Any] | None,
    in_channels: int,
    image_size: int,
    *,
    n_classes: int,
    variant: str | None = None,
    load_weights: bool = True,
    multilabel: bool = False,
) -> nn.Module:
    """Build model ``name`` with ``model_args`` for ``in_channels`` x ``image_size``^2 input,
    with :func:`output_units` logits (``multilabel``: one per label of ``n_classes``).

    Unknown models or settings raise ValueError naming the config key
    (``variants.<variant>.<key>``) and what is allowed. ``load_weights=False`` skips a
    ``resnet18`` weights file or a backbone's pretrained weights (used when a trained state
    dict is loaded over it anyway).
    """
    prefix = f"variants.{variant or '<variant>'}"
    try:
        entry = registry_entry(name)
    except KeyError:
        raise ValueError(
            f"{prefix}.model: unknown model '{name}'; allowed: {sorted(REGISTRY)}, "
            "torchvision/<name> or timm/<name>"
        ) from None
    if in_channels < 1 or image_size < 1:
        raise ValueError(
            f"data.channels/data.image_size: must be positive, got {in_channels}, {image_size}"
        )
    args = _check_args(name, dict(model_args or {}), prefix)
    outputs = output_units(n_classes, multilabel)
    try:
        if name not in REGISTRY:  # a torchvision or timm backbone
            return entry.builder(
                name, in_channels, image_size, load_weights=load_weights, outputs=outputs, **args
            )
        if name == "resnet18":
            return _resnet18(
                in_channels, image_size, load_weights=load_weights, outputs=outputs, **args
            )
        return entry.builder(in_channels, image_size, outputs=outputs, **args)
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(prefix) else f"{prefix}.{msg}") from None


def uses_convolutions(name: str) -> bool:
    """True for models that profit from channels_last memory format."""
    return registry_entry(name).convolutional


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (all, or only those with requires_grad)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def load_model(
    path: Path | str, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the trained model saved in ``model.pt`` (workflow/CONTRACTS.md).

    Returns (model, dict).

    The model is in eval mode on ``map_location``; the dict holds spec, seed, class names,
    normalisation (mean/std), image size, channels and best epoch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file; run the train step first")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    for key in ("spec", "state_dict", "image_size", "channels", "class_names"):
        if key not in checkpoint:
            raise ValueError(f"{path}: not a biomedclf model.pt (no '{key}'); retrain it")
    spec = checkpoint["spec"]
    model = build_model(
        spec["model"],
        spec["model_args"],
        int(checkpoint["channels"]),
        int(checkpoint["image_size"]),
        variant=spec["name"],
        load_weights=False,
        n_classes=len(checkpoint["class_names"]),
        multilabel=checkpoint.get("task") == "multilabel",
    )
    model.load_state_dict(checkpoint["state_dict"])
    model.to(map_location).eval()
    return model, checkpoint
