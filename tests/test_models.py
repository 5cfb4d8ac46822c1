"""Model registry: the homework's parameter counts, forward shapes, errors, loading."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from biomedclf.report.tables.architecture import architecture_table
from biomedclf.train.models import (
    REGISTRY,
    build_model,
    count_parameters,
    load_model,
    output_units,
)


def test_linear_model_matches_homework_fig5() -> None:
    rows = architecture_table("linear", {}, in_channels=1, image_size=256, n_classes=2)
    assert [(r["layer"], r["output_shape"], r["parameters"]) for r in rows] == [
        ("Flatten-1", "[-1, 65536]", 0),
        ("Linear-2", "[-1, 32]", 2_097_184),
        ("Linear-3", "[-1, 32]", 1_056),
        ("Linear-4", "[-1, 32]", 1_056),
        ("Linear-5", "[-1, 1]", 33),
    ]


def test_conv_model_matches_homework_fig6() -> None:
    rows = architecture_table("conv", {"dropout": 0.5}, in_channels=1, image_size=256, n_classes=2)
    assert [(r["layer"], r["output_shape"], r["parameters"]) for r in rows] == [
        ("Conv2d-1", "[-1, 32, 256, 256]", 320),
        ("MaxPool2d-2", "[-1, 32, 128, 128]", 0),
        ("Conv2d-3", "[-1, 32, 128, 128]", 9_248),
        ("MaxPool2d-4", "[-1, 32, 64, 64]", 0),
        ("Conv2d-5", "[-1, 32, 64, 64]", 9_248),
        ("MaxPool2d-6", "[-1, 32, 32, 32]", 0),
        ("Linear-7", "[-1, 32]", 1_048_608),
        ("Linear-8", "[-1, 1]", 33),
    ]


def test_table_sums_to_parameter_count() -> None:
    for name, args in [
        ("linear", {"hidden": [16, 8]}),
        ("conv", {}),
        ("conv_gap", {"width": 64, "batch_norm": True, "dropout": 0.3}),
    ]:
        rows = architecture_table(name, args, 3, 64, n_classes=2)
        model = build_model(name, args, 3, 64, n_classes=2)
        assert sum(r["parameters"] for r in rows) == count_parameters(model), name


def test_resnet18_table() -> None:
    rows = architecture_table("resnet18", {}, 1, 64, n_classes=2)
    assert rows[0] == {
        "layer": "Conv2d-1",
        "output_shape": "[-1, 64, 32, 32]",
        "parameters": 64 * 7 * 7,  # 1-channel stem, no bias
        "flops": 2 * 64 * 7 * 7 * 32 * 32,  # a multiply-add per weight and output pixel
    }
    assert rows[-2]["layer"].startswith("AdaptiveAvgPool2d")
    assert rows[-1]["parameters"] == 512 + 1  # fc -> one logit
    # torchvision's 11,689,512 less the 3-channel stem and 1000-class head, plus ours
    assert sum(r["parameters"] for r in rows) == 11_689_512 - 9408 - 513_000 + 3136 + 513


def test_conv_gap_layers() -> None:
    rows = architecture_table("conv_gap", {"width": 64, "batch_norm": True}, 1, 32, n_classes=2)
    layers = [r["layer"].rsplit("-", 1)[0] for r in rows]
    assert layers == ["Conv2d", "BatchNorm2d", "MaxPool2d"] * 3 + [
        "AdaptiveAvgPool2d",
        "Linear",
    ]
    assert rows[-2]["output_shape"] == "[-1, 64, 1, 1]"
    # no conv bias before BatchNorm: 1*64*9 weights only
    assert rows[0]["parameters"] == 576


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [32, 64, 100])
def test_forward_shapes(name: str, channels: int, size: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, {}, channels, size, n_classes=2).eval()
    with torch.no_grad():
        out = model(torch.randn(2, channels, size, size))
    assert out.shape == (2, 1)
    assert torch.isfinite(out).all()


def test_channels_last_gives_same_output() -> None:
    torch.manual_seed(0)
    model = build_model("conv_gap", {"batch_norm": True}, 1, 32, n_classes=2).eval()
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        ref = model(x)
        model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_model_settings_take_effect() -> None:
    model = build_model(
        "conv", {"width": 8, "depth": 2, "fc": 4, "dropout": 0.25}, 1, 32, n_classes=2
    )
    assert model.fc1.in_features == 8 * 8 * 8
    assert model.fc1.out_features == 4
    assert model.dropout.p == 0.25
    linear = build_model("linear", {"hidden": [5], "dropout": 0.1}, 3, 8, n_classes=2)
    assert [m.out_features for m in linear.modules() if isinstance(m, torch.nn.Linear)] == [5, 1]
    assert any(isinstance(m, torch.nn.Dropout) for m in linear.modules())


def test_unknown_model_and_setting_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"variants\.v1\.model: unknown model 'vgg'.*conv_gap"):
        build_model("vgg", {}, 1, 32, variant="v1", n_classes=2)
    with pytest.raises(
        ValueError, match=r"variants\.v2\.batch_norm: not a setting of model 'conv'"
    ):
        build_model("conv", {"batch_norm": True}, 1, 32, variant="v2", n_classes=2)
    with pytest.raises(ValueError, match=r"allowed: \['depth', 'dropout', 'fc', 'width'\]"):
        build_model("conv", {"batch_norm": True}, 1, 32, n_classes=2)
    with pytest.raises(ValueError, match=r"variants\.v4\.depth: .*shrink"):
        build_model("conv", {"depth": 6}, 1, 16, variant="v4", n_classes=2)
    # the values of the settings are the schema's to check (tests/test_config.py)


def test_resnet18_weights(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"variants\.r\.weights: .*does not exist"):
        build_model(
            "resnet18", {"weights": str(tmp_path / "nope.pt")}, 1, 32, variant="r", n_classes=2
        )
    from torchvision.models import resnet18

    torch.manual_seed(1)
    imagenet_like = resnet18(weights=None)  # 3-channel stem, 1000 classes
    path = tmp_path / "r18.pt"
    torch.save(imagenet_like.state_dict(), path)
    model = build_model("resnet18", {"weights": str(path)}, 1, 32, n_classes=2)
    ref = imagenet_like.state_dict()
    own = model.state_dict()
    torch.testing.assert_close(own["conv1.weight"], ref["conv1.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(own["layer4.1.bn2.weight"], ref["layer4.1.bn2.weight"])
    assert own["fc.weight"].shape == (1, 512)  # trained afresh
    # with load_weights=False (used by load_model) the file is not needed
    build_model(
        "resnet18", {"weights": str(tmp_path / "gone.pt")}, 1, 32, load_weights=False, n_classes=2
    )


def test_load_model_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = {
        "name": "gap",
        "model": "conv_gap",
        "model_args": {"width": 8, "batch_norm": True},
    }
    model = build_model("conv_gap", spec["model_args"], 3, 24, n_classes=2).eval()
    path = tmp_path / "model.pt"
    torch.save(
        {
            "spec": spec,
            "seed": 0,
            "state_dict": model.state_dict(),
            "class_names": ["a", "b"],
            "mean": [0.5] * 3,
            "std": [0.2] * 3,
            "image_size": 24,
            "channels": 3,
            "best_epoch": 1,
        },
        path,
    )
    loaded, ckpt = load_model(path)
    assert not loaded.training
    assert ckpt["class_names"] == ["a", "b"]
    x = torch.randn(3, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    with pytest.raises(FileNotFoundError, match="run the train step"):
        load_model(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    "name, args",
    [("conv", {"width": 8}), ("conv_gap", {"width": 8, "batch_norm": True})],
)
def test_pooling_before_relu_matches_the_homework_order(name: str, args: dict) -> None:
    """The blocks pool before the ReLU; outputs and gradients equal the homework's order."""
    torch.manual_seed(0)
    model = build_model(name, args, 1, 32, n_classes=2).train()
    reference = copy.deepcopy(model)
    blocks = list(reference.features)
    for i, module in enumerate(blocks[:-1]):
        if isinstance(module, nn.MaxPool2d):  # [.., MaxPool, ReLU] -> [.., ReLU, MaxPool]
            blocks[i], blocks[i + 1] = blocks[i + 1], blocks[i]
    assert [type(m) for m in blocks] != [type(m) for m in model.features]
    reference.features = nn.Sequential(*blocks)
    x = torch.randn(4, 1, 32, 32)
    out, ref = model(x), reference(x)
    assert torch.equal(out, ref)
    out.sum().backward()
    ref.sum().backward()
    for (key, p), q in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad), key


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n_classes", [2, 3, 9])
def test_output_size_follows_the_number_of_classes(name: str, n_classes: int) -> None:
    """One logit for two classes (the binary models unchanged), K logits for K > 2."""
    model = build_model(name, {}, 1, 32, n_classes=n_classes).eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 32, 32))
    assert out.shape == (2, output_units(n_classes))
    assert output_units(2) == 1 and output_units(n_classes) == (1 if n_classes == 2 else n_classes)
    rows = architecture_table(name, {}, 1, 32, n_classes=n_classes)
    assert sum(r["parameters"] for r in rows) == count_parameters(model)
    binary = count_parameters(build_model(name, {}, 1, 32, n_classes=2))
    last_in = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].in_features
    assert count_parameters(model) - binary == (output_units(n_classes) - 1) * (last_in + 1)


def test_a_single_class_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two classes"):
        build_model("conv", {}, 1, 32, n_classes=1)
