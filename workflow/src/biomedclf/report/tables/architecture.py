"""The architecture table: the layers of each variant at the configured input size.

:func:`architecture_table` lists a model's layers (name, output shape, parameters of each
layer that holds parameters or pools, in execution order), found with forward hooks on a
batch of one; :func:`write_architecture_table` writes them for every variant, with a
``Total`` row each, as CSV and Markdown (the ``architecture`` rule). Needs no run and no
statistics; torch is imported only by :func:`architecture_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.report.rendering import fmt_int, markdown_table, write_csv, write_text

log = logging.getLogger(__name__)


def _shown_in_table(module: Any) -> bool:
    """Leaf modules with parameters, pooling layers and Flatten: the rows of the table."""
    from torch import nn

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
    n_classes: int,
) -> list[dict[str, Any]]:
    """Layer rows of model ``name`` at the given input size (layer, output shape, parameters).

    Each row is ``{"layer": "Conv2d-1", "output_shape": "[-1, 32, 256, 256]",
    "parameters": 320}``, in execution order, found with forward hooks on a batch of one.
    """
    import torch

    from biomedclf.train.models import build_model

    model = build_model(
        name, model_args, in_channels, image_size, load_weights=False, n_classes=n_classes
    ).eval()
    rows: list[dict[str, Any]] = []

    def hook(module: Any, _inputs: Any, output: Any) -> None:
        shape = output.shape if isinstance(output, torch.Tensor) else output[0].shape
        rows.append(
            {
                "layer": f"{type(module).__name__}-{len(rows) + 1}",
                "output_shape": "[" + ", ".join(["-1", *map(str, shape[1:])]) + "]",
                "parameters": sum(p.numel() for p in module.parameters(recurse=False)),
            }
        )

    handles = [m.register_forward_hook(hook) for m in model.modules() if _shown_in_table(m)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, in_channels, image_size, image_size))
    finally:
        for handle in handles:
            handle.remove()
    return rows


def _shape_text(shape: Any) -> str:
    """An output shape as ``[-1, 32, 16, 16]``."""
    if shape is None:
        return ""
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(str(x) for x in shape) + "]"
    return str(shape)


def _architecture_rows(variant: str, layers: list[dict]) -> tuple[list[list[Any]], list[list]]:
    """CSV rows and Markdown rows of one variant's layers, with a ``Total`` row."""
    csv_rows: list[list[Any]] = []
    md_rows: list[list[Any]] = []
    total = 0
    for i, layer in enumerate(layers):
        missing = [k for k in ("layer", "output_shape", "parameters") if k not in layer]
        if missing:
            raise ValueError(
                f"architecture of {variant}, row {i}: missing keys {missing}; "
                "architecture_table rows need layer, output_shape and parameters"
            )
        params = int(layer["parameters"] or 0)
        total += params
        shape = _shape_text(layer["output_shape"])
        csv_rows.append([variant, layer["layer"], shape, params])
        md_rows.append([layer["layer"], shape, fmt_int(params)])
    csv_rows.append([variant, "Total", "", total])
    md_rows.append(["**Total**", "", f"**{fmt_int(total)}**"])
    return csv_rows, md_rows


def write_architecture_rows(
    rows_by_variant: dict[str, list[dict]], files: Sequence[Path | str]
) -> list[Path]:
    """Write the architecture table to ``files`` ([CSV, Markdown]): layer, output shape and
    parameters per variant, from :func:`architecture_table` rows by variant, with a
    ``Total`` row per variant."""
    csv_path, md_path = map(Path, files)
    csv_rows: list[list[Any]] = []
    sections = [
        "# Architecture of each variant\n\n"
        "Layers at the configured input size (output shape with batch dimension -1).\n"
    ]
    for variant, layers in rows_by_variant.items():
        variant_csv, md_rows = _architecture_rows(variant, layers)
        csv_rows += variant_csv
        sections.append(
            f"## {variant}\n\n"
            + markdown_table(["Layer", "Output shape", "Parameters"], md_rows, ["l", "l", "r"])
        )
    paths = [
        write_csv(csv_path, ["variant", "layer", "output_shape", "parameters"], csv_rows),
        write_text(md_path, "\n".join(sections)),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


def write_architecture_table(
    specs: dict[str, dict[str, Any]],
    channels: int,
    image_size: int,
    n_classes: int,
    files: Sequence[Path | str],
) -> list[Path]:
    """Write the architecture table of every variant to ``files`` ([CSV, Markdown]).

    ``specs`` maps a variant to its resolved spec (``model``, ``model_args``); the models
    take ``channels`` x ``image_size`` x ``image_size`` images and give ``n_classes``
    classes.
    """
    rows = {
        name: architecture_table(spec["model"], spec["model_args"], channels, image_size, n_classes)
        for name, spec in specs.items()
    }
    return write_architecture_rows(rows, files)
