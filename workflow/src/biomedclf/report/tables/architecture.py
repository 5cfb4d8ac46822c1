"""The architecture table: the layers of each variant at the configured input size.

:func:`architecture_table` lists a model's layers (name, output shape, parameters and FLOPs
per image of each layer that holds parameters or pools, in execution order), found with
forward hooks on a batch of one under torch's
:class:`~torch.utils.flop_counter.FlopCounterMode` (:func:`model_rows`; a multiply-add
counts as 2 FLOPs); :func:`write_architecture_table` writes them for every variant, with a
``Total`` row each, as CSV and Markdown (the ``architecture`` rule). Needs no run and no
statistics; torch is imported only by :func:`model_rows` and :func:`architecture_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def _composite_attention() -> Iterator[None]:
    """Attention computed from matrix products that FlopCounterMode counts: PyTorch's math
    kernel of ``scaled_dot_product_attention`` (its fused CPU kernel is not counted) and
    ``nn.MultiheadAttention`` without its fused inference fast path."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def model_rows(model: Any, in_channels: int, image_size: int) -> list[dict[str, Any]]:
    """Layer rows of ``model`` on one ``in_channels`` x ``image_size``^2 image (layer, output
    shape, parameters, FLOPs), in execution order.

    The model runs once in eval mode on CPU without gradients, under
    :class:`torch.utils.flop_counter.FlopCounterMode` (attention through its composite
    kernels: :func:`_composite_attention`); forward hooks on the listed layers
    (:func:`_shown_in_table`) record each call's output shape and the FLOPs counted during
    it (a multiply-add is 2 FLOPs; biases, activations, normalisation and pooling count
    nothing). Parameters held and FLOPs spent outside the listed layers (a ViT's position
    embedding and attention products, layers that do not run in eval mode) form one last
    row, ``Other``, when there are any, so the rows add up to the model's parameters and
    FLOPs.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = model.cpu().eval()
    counter = FlopCounterMode(display=False)
    rows: list[dict[str, Any]] = []
    started: list[int] = []
    seen: set[int] = set()  # the parameters of the layers that ran

    def before(_module: Any, _inputs: Any) -> None:
        started.append(counter.get_total_flops())

    def after(module: Any, _inputs: Any, output: Any) -> None:
        shape = output.shape if isinstance(output, torch.Tensor) else output[0].shape
        own = list(module.parameters(recurse=False))
        seen.update(id(p) for p in own)
        rows.append(
            {
                "layer": f"{type(module).__name__}-{len(rows) + 1}",
                "output_shape": "[" + ", ".join(["-1", *map(str, shape[1:])]) + "]",
                "parameters": sum(p.numel() for p in own),
                "flops": counter.get_total_flops() - started.pop(),
            }
        )

    shown = [m for m in model.modules() if _shown_in_table(m)]
    handles = [m.register_forward_pre_hook(before) for m in shown]
    handles += [m.register_forward_hook(after) for m in shown]
    try:
        with torch.no_grad(), _composite_attention(), counter:
            model(torch.zeros(1, in_channels, image_size, image_size))
    finally:
        for handle in handles:
            handle.remove()
    parameters = sum(p.numel() for p in model.parameters() if id(p) not in seen)
    flops = counter.get_total_flops() - sum(r["flops"] for r in rows)
    if parameters or flops:
        rows.append(
            {"layer": "Other", "output_shape": "", "parameters": parameters, "flops": flops}
        )
    return rows


def architecture_table(
    name: str,
    model_args: dict[str, Any] | None,
    in_channels: int,
    image_size: int,
    n_classes: int,
) -> list[dict[str, Any]]:
    """Layer rows of model ``name`` at the given input size (:func:`model_rows`).

    Each row is ``{"layer": "Conv2d-1", "output_shape": "[-1, 32, 256, 256]",
    "parameters": 320, "flops": 37748736}``, in execution order. The model is built without
    pretrained weights (``load_weights=False``): the counts do not depend on them.
    """
    from biomedclf.train.models import build_model

    model = build_model(
        name, model_args, in_channels, image_size, load_weights=False, n_classes=n_classes
    )
    return model_rows(model, in_channels, image_size)


def _shape_text(shape: Any) -> str:
    """An output shape as ``[-1, 32, 16, 16]``."""
    if shape is None:
        return ""
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(str(x) for x in shape) + "]"
    return str(shape)


_KEYS = ("layer", "output_shape", "parameters", "flops")

#: What the FLOPs column counts (the Markdown table's notes, workflow/report/architecture.rst).
FLOPS_CONVENTION = (
    "FLOPs per image: counted by torch.utils.flop_counter.FlopCounterMode on one image at "
    "the configured size and channels (eval mode, CPU, no gradients); a multiply-add counts "
    "as 2 FLOPs, and only matrix products and convolutions count (biases, activations, "
    "normalisation and pooling add nothing)."
)


def _scaled(value: int) -> str:
    """``3.64 G``, ``11.2 M``, ``4.75 k``: three significant digits."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {unit}"
    return str(value)


def _architecture_rows(
    variant: str, layers: list[dict]
) -> tuple[list[list[Any]], list[list], tuple[int, int]]:
    """CSV rows and Markdown rows of one variant's layers, with a ``Total`` row, and the
    totals (parameters, FLOPs)."""
    csv_rows: list[list[Any]] = []
    md_rows: list[list[Any]] = []
    total = flops = 0
    for i, layer in enumerate(layers):
        missing = [k for k in _KEYS if k not in layer]
        if missing:
            raise ValueError(
                f"architecture of {variant}, row {i}: missing keys {missing}; "
                "architecture_table rows need layer, output_shape, parameters and flops"
            )
        params, layer_flops = int(layer["parameters"] or 0), int(layer["flops"] or 0)
        total += params
        flops += layer_flops
        shape = _shape_text(layer["output_shape"])
        csv_rows.append([variant, layer["layer"], shape, params, layer_flops])
        md_rows.append([layer["layer"], shape, fmt_int(params), fmt_int(layer_flops)])
    csv_rows.append([variant, "Total", "", total, flops])
    md_rows.append(["**Total**", "", f"**{fmt_int(total)}**", f"**{fmt_int(flops)}**"])
    return csv_rows, md_rows, (total, flops)


def write_architecture_rows(
    rows_by_variant: dict[str, list[dict]], files: Sequence[Path | str]
) -> list[Path]:
    """Write the architecture table to ``files`` ([CSV, Markdown]): layer, output shape,
    parameters and FLOPs per image per variant, from :func:`architecture_table` rows by
    variant, with a ``Total`` row per variant."""
    csv_path, md_path = map(Path, files)
    csv_rows: list[list[Any]] = []
    sections = [
        "# Architecture of each variant\n\n"
        "Layers at the configured input size (output shape with batch dimension -1), their "
        "parameters and FLOPs per image; an `Other` row, where there is one, holds the "
        "parameters and FLOPs outside the listed layers (position embeddings, attention "
        "products, layers that do not run in eval mode).\n\n" + FLOPS_CONVENTION + "\n"
    ]
    for variant, layers in rows_by_variant.items():
        variant_csv, md_rows, (params, flops) = _architecture_rows(variant, layers)
        csv_rows += variant_csv
        sections.append(
            f"## {variant}\n\n{_scaled(params)} parameters, {_scaled(flops)} FLOPs per image.\n\n"
            + markdown_table(
                ["Layer", "Output shape", "Parameters", "FLOPs"], md_rows, ["l", "l", "r", "r"]
            )
        )
    paths = [
        write_csv(csv_path, ["variant", "layer", "output_shape", "parameters", "flops"], csv_rows),
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
