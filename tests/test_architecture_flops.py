"""FLOPs per image in the architecture table: counts done by hand for small models, and the
library's own FlopCounterMode for torchvision and timm backbones."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from biomedclf.report.tables.architecture import (
    architecture_table,
    model_rows,
    write_architecture_table,
)
from biomedclf.train.models import build_model, count_parameters


def _small_cnn() -> nn.Module:
    """2-channel 8 x 8 images: Conv2d(2->3, 3x3) to 6 x 6, pooled to 3 x 3, Linear(27->4)."""
    return nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4)
    )


def test_flops_of_a_convolution_and_a_linear_layer_by_hand() -> None:
    rows = model_rows(_small_cnn(), in_channels=2, image_size=8)
    conv = 2 * 3 * 2 * 3 * 3 * 6 * 6  # 2 * Cout * Cin * k * k * Hout * Wout
    linear = 2 * 27 * 4  # 2 * in * out for one image
    assert [(r["layer"], r["parameters"], r["flops"]) for r in rows] == [
        ("Conv2d-1", 3 * 2 * 9 + 3, conv),
        ("MaxPool2d-2", 0, 0),
        ("Flatten-3", 0, 0),
        ("Linear-4", 27 * 4 + 4, linear),
    ]


def test_parameters_and_flops_outside_the_listed_layers_form_an_other_row() -> None:
    class Projected(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cnn = _small_cnn()
            self.projection = nn.Parameter(torch.zeros(4, 5))  # held by a non-leaf module
            self.unused = nn.Linear(3, 3)  # never called

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cnn(x) @ self.projection

    model = Projected()
    rows = model_rows(model, 2, 8)
    assert rows[-1] == {
        "layer": "Other",
        "output_shape": "",
        "parameters": 4 * 5 + 3 * 3 + 3,
        "flops": 2 * 4 * 5,
    }
    assert sum(r["parameters"] for r in rows) == count_parameters(model)


def test_attention_is_counted_through_its_composite_kernels() -> None:
    """scaled_dot_product_attention's fused CPU kernel and nn.MultiheadAttention's inference
    fast path are not counted by FlopCounterMode; the table counts their matrix products."""
    tokens, dim, heads = 4, 8, 2

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patches = nn.Conv2d(1, dim, 4, stride=4)  # 8 x 8 image -> 4 tokens
            self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.patches(x).flatten(2).transpose(1, 2)
            x = self.mha(x, x, x, need_weights=False)[0]
            q = x.reshape(1, tokens, heads, dim // heads).transpose(1, 2)
            return F.scaled_dot_product_attention(q, q, q).sum(dim=(1, 2))

    fastpath = torch.backends.mha.get_fastpath_enabled()
    rows = model_rows(Attention(), 1, 8)
    assert torch.backends.mha.get_fastpath_enabled() == fastpath  # restored
    products = 2 * 2 * tokens * tokens * dim  # Q K^T and the weighted sum of V
    projections = 2 * tokens * dim * 3 * dim + 2 * tokens * dim * dim  # in_proj, out_proj
    assert rows[0]["flops"] == 2 * dim * 1 * 4 * 4 * tokens
    assert rows[-1]["layer"] == "Other"
    assert rows[-1]["flops"] == projections + products + products  # the MHA, then sdpa


def test_torchvision_backbone_agrees_with_flop_counter_mode() -> None:
    """The rows of torchvision's ResNet-18 add up to FlopCounterMode's total, and each layer's
    count is the one FlopCounterMode gives that module."""
    rows = architecture_table("torchvision/resnet18", {}, 3, 64, n_classes=2)
    model = build_model("torchvision/resnet18", {}, 3, 64, n_classes=2, load_weights=False)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model.eval()(torch.zeros(1, 3, 64, 64))
    assert sum(r["flops"] for r in rows) == counter.get_total_flops() > 0
    modules = dict(model.named_modules())
    per_module = [
        sum(ops.values())
        for name, ops in counter.get_flop_counts().items()
        if name.partition(".")[2] in modules  # "ResNet.layer1.0.conv1" -> "layer1.0.conv1"
        and not list(modules[name.partition(".")[2]].children())
    ]
    assert sorted(r["flops"] for r in rows if r["flops"]) == sorted(per_module)
    assert len(per_module) == 20 + 1  # the convolutions and the classifier


def test_timm_vit_counts_its_attention() -> None:
    """timm's test ViT: FlopCounterMode's count of the model (whose CPU attention kernel it
    does not see) plus the attention products of each block, 4 * tokens^2 * width."""
    pytest.importorskip("timm")
    rows = architecture_table("timm/test_vit", {}, 3, 160, n_classes=2)
    model = build_model("timm/test_vit", {}, 3, 160, n_classes=2, load_weights=False).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, 160, 160))
    tokens = model.patch_embed.num_patches + model.num_prefix_tokens
    attention = len(model.blocks) * 4 * tokens * tokens * model.embed_dim
    assert sum(r["flops"] for r in rows) == counter.get_total_flops() + attention
    assert sum(r["parameters"] for r in rows) == count_parameters(model)


def test_the_table_shows_flops_per_image(tmp_path) -> None:
    specs = {
        "cnn": {"model": "conv", "model_args": {"width": 4, "depth": 1, "fc": 4}},
        "tv": {"model": "torchvision/resnet18", "model_args": {"pretrained": "imagenet"}},
    }
    files = [tmp_path / "architecture.csv", tmp_path / "architecture.md"]
    write_architecture_table(specs, 1, 16, 2, files)  # pretrained weights are not needed
    with files[0].open() as fh:
        rows = list(csv.DictReader(fh))
    cnn = [r for r in rows if r["variant"] == "cnn"]
    # conv: 4 filters of 3 x 3 on 16 x 16 (padded); fc: 4 * 8 * 8 -> 4; head: 4 -> 1
    assert int(cnn[0]["flops"]) == 2 * 4 * 9 * 16 * 16
    assert int(cnn[-1]["flops"]) == 2 * 4 * 9 * 16 * 16 + 2 * 256 * 4 + 2 * 4
    tv = [r for r in rows if r["variant"] == "tv"]
    assert tv[-1]["layer"] == "Total" and int(tv[-1]["flops"]) == sum(
        int(r["flops"]) for r in tv[:-1]
    )
    md = files[1].read_text()
    assert "| Layer | Output shape | Parameters | FLOPs |" in md
    assert "a multiply-add counts as 2 FLOPs" in md
