"""A model's layers as a table: name, output shape and parameters of each layer that holds
parameters or pools, in execution order, at a given input size (``tables/architecture.*``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from biomedclf.train.models import build_model


def _shown_in_table(module: nn.Module) -> bool:
    """Leaf modules with parameters, pooling layers and Flatten: the rows of the table."""
    if any(True for _ in module.children()):
        return False
    if isinstance(module, nn.Flatten):
        return True
    if type(module).__module__ == "torch.nn.modules.pooling":
        return True
    return any(True for _ in module.parameters(recurse=False))


def architecture_table(
    name: str,
    model_args: dict[str, Any] | None,
    in_channels: int,
    image_size: int,
    n_classes: int = 2,
) -> list[dict[str, Any]]:
    """Layer rows of model ``name`` at the given input size (layer, output shape, parameters).

    Each row is ``{"layer": "Conv2d-1", "output_shape": "[-1, 32, 256, 256]",
    "parameters": 320}``, in execution order, found with forward hooks on a batch of one.
    """
    model = build_model(
        name, model_args, in_channels, image_size, load_weights=False, n_classes=n_classes
    ).eval()
    rows: list[dict[str, Any]] = []
    handles = []

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        shape = output.shape if isinstance(output, torch.Tensor) else output[0].shape
        rows.append(
            {
                "layer": f"{type(module).__name__}-{len(rows) + 1}",
                "output_shape": "[" + ", ".join(["-1", *map(str, shape[1:])]) + "]",
                "parameters": sum(p.numel() for p in module.parameters(recurse=False)),
            }
        )

    for module in model.modules():
        if _shown_in_table(module):
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_channels, image_size, image_size))
    finally:
        for handle in handles:
            handle.remove()
    return rows
