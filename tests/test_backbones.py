"""torchvision and timm backbones by name: heads, one-channel input, pretrained weights from a
local cache only (checked against the libraries' own offline loading), config errors, and a
training run that ``biomedclf predict`` reproduces."""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import data_config, data_files, train_files, variant_spec
from PIL import Image

from biomedclf import layout
from biomedclf.cli import main
from biomedclf.config.specs import prepare_config
from biomedclf.data.decode_settings import decode_settings
from biomedclf.data.prepare import prepare_dataset
from biomedclf.errors import ConfigError
from biomedclf.train.loop import run_training
from biomedclf.train.models import build_model, output_units

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"

#: Small models of each library: (name, qualified name of the first convolution).
SMALL = [("torchvision/mobilenet_v3_small", "features.0.0"), ("timm/test_resnet", "conv1.0")]
#: timm's test_resnet: its default pretrained tag's Hugging Face repository.
TIMM_REPO = "timm/test_resnet.r160_in1k"


@pytest.fixture(autouse=True)
def _environment() -> Iterator[None]:
    """Loading pretrained weights sets HF_HUB_OFFLINE and TORCH_HOME for the process (a
    training job's); each test leaves the environment as it found it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty weights cache that jobs find as the workflow hands it to them."""
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv(layout.WEIGHTS_CACHE_ENV, str(folder))
    return folder


def seeded_imagenet_state(name: str) -> dict[str, torch.Tensor]:
    """The state dict of ``name`` with 3 channels and 1000 classes from seed 123: a stand-in
    for its ImageNet weights that the test knows."""
    family, arch = name.split("/")
    torch.manual_seed(123)
    if family == "timm":
        import timm

        model = timm.create_model(arch, pretrained=False)
    else:
        from torchvision.models import get_model

        model = get_model(arch, weights=None)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def write_weights(name: str, cache: Path) -> dict[str, torch.Tensor]:
    """Write the seeded state of ``name`` where torchvision (``$TORCH_HOME/hub/checkpoints/``
    + the file name of its weights URL) or timm (the Hugging Face cache of its default tag
    under ``huggingface/hub``) look for it; returns the state. Several models may share a
    cache."""
    state = seeded_imagenet_state(name)
    family, arch = name.split("/")
    if family == "torchvision":
        from torchvision.models import get_model_weights

        url = get_model_weights(arch).DEFAULT.url
        (cache / "hub" / "checkpoints").mkdir(parents=True, exist_ok=True)
        torch.save(state, cache / "hub" / "checkpoints" / url.rsplit("/", 1)[-1])
    else:
        from safetensors.torch import save_file
        from timm.models import get_pretrained_cfg

        repo = get_pretrained_cfg(arch).hf_hub_id
        entry = cache / "huggingface" / "hub" / f"models--{repo.replace('/', '--')}"
        commit = "0123456789abcdef0123456789abcdef01234567"
        (entry / "snapshots" / commit).mkdir(parents=True)
        (entry / "refs").mkdir()
        (entry / "refs" / "main").write_text(commit)
        save_file(state, entry / "snapshots" / commit / "model.safetensors")
    return state


@pytest.mark.parametrize("name, first", SMALL)
@pytest.mark.parametrize("n_classes, channels", [(2, 1), (3, 3), (3, 1)])
def test_a_model_by_name_gets_the_studys_head_and_input(name, first, n_classes, channels):
    model = build_model(name, {}, channels, 32, n_classes=n_classes, variant="v").eval()
    assert model.get_submodule(first).in_channels == channels
    out = model(torch.rand(2, channels, 32, 32))
    assert out.shape == (2, output_units(n_classes))


@pytest.mark.parametrize("name, first", SMALL)
@pytest.mark.parametrize("channels", [1, 3])
def test_pretrained_weights_come_from_the_cache_exactly(
    name, first, channels, cache: Path, no_network: list
):
    state = write_weights(name, cache)
    model = build_model(name, {"pretrained": "imagenet"}, channels, 32, n_classes=2)
    own = model.state_dict()
    key = f"{first}.weight"
    if channels == 1:  # the RGB filters summed into one
        assert torch.equal(own[key], state[key].sum(dim=1, keepdim=True))
    head = {k for k in own if own[k].shape != state[k].shape} - {key}
    assert head  # a new head: one logit for two classes
    for k in own.keys() - head - ({key} if channels == 1 else set()):
        assert torch.equal(own[k], state[k]), k
    assert no_network == []


@pytest.mark.parametrize("channels", [1, 3])
def test_timm_loads_the_same_cached_weights_itself(
    channels, cache: Path, no_network: list, monkeypatch: pytest.MonkeyPatch
):
    """timm's own pretrained loading, offline, from the same cache (its adapt_input_conv for
    one channel) gives the same tensors but the new head's."""
    import huggingface_hub.constants
    import timm

    write_weights("timm/test_resnet", cache)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    ours = build_model("timm/test_resnet", {"pretrained": "imagenet"}, channels, 32, n_classes=3)
    theirs = timm.create_model(
        "test_resnet",
        pretrained=True,
        in_chans=channels,
        num_classes=3,
        cache_dir=str(cache / "huggingface" / "hub"),
    )
    a, b = ours.state_dict(), theirs.state_dict()
    assert {k for k in a if not torch.equal(a[k], b[k])} == {"fc.weight", "fc.bias"}
    assert no_network == []


def test_torchvision_finds_the_cached_file_itself(
    cache: Path, no_network: list, monkeypatch: pytest.MonkeyPatch
):
    from torchvision.models import get_model_weights

    state = write_weights("torchvision/mobilenet_v3_small", cache)
    monkeypatch.setenv("TORCH_HOME", str(cache))
    loaded = get_model_weights("mobilenet_v3_small").DEFAULT.get_state_dict(progress=False)
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert no_network == []


@pytest.mark.parametrize(
    "name, url",
    [
        ("torchvision/mobilenet_v3_small", "https://download.pytorch.org/models/mobilenet_v3"),
        ("timm/test_resnet", f"https://huggingface.co/{TIMM_REPO}/"),
    ],
)
def test_missing_weights_stop_at_once_naming_file_url_and_fix(
    name, url, cache: Path, no_network: list
):
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        build_model(name, {"pretrained": "imagenet"}, 1, 32, n_classes=2, variant="tl")
    seconds = time.perf_counter() - start
    message = str(err.value)
    assert message.startswith("variants.tl.pretrained: the ImageNet weights of")
    assert str(cache) in message and url in message and "copy" in message
    assert no_network == [] and seconds < 10


def test_unset_cache_and_bad_pretrained_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.delenv(layout.WEIGHTS_CACHE_ENV, raising=False)
    with pytest.raises(ValueError, match="variants.v.pretrained: .*weights_cache"):
        build_model("timm/test_resnet", {"pretrained": "imagenet"}, 1, 32, n_classes=2, variant="v")
    with pytest.raises(ValueError, match="variants.v.pretrained: 'imagenet21k' is neither"):
        build_model(
            "timm/test_resnet", {"pretrained": "imagenet21k"}, 1, 32, n_classes=2, variant="v"
        )
    gone = tmp_path / "gone.pth"
    with pytest.raises(ValueError, match=f"variants.v.pretrained: {gone} does not exist"):
        build_model("timm/test_resnet", {"pretrained": str(gone)}, 1, 32, n_classes=2, variant="v")


def test_a_local_weights_file_is_used_as_given(tmp_path: Path):
    state = seeded_imagenet_state("torchvision/mobilenet_v3_small")
    path = tmp_path / "mine.pth"
    torch.save({"state_dict": state}, path)
    model = build_model(
        "torchvision/mobilenet_v3_small", {"pretrained": str(path)}, 3, 32, n_classes=2
    )
    own = model.state_dict()
    same = [k for k in own if own[k].shape == state[k].shape]
    assert all(torch.equal(own[k], state[k]) for k in same)
    assert len(own) - len(same) == 2  # the new last layer's weight and bias


@pytest.mark.parametrize(
    "model, key, closest",
    [
        ("torchvision/resnet81", "variants.a.model", "torchvision/resnet18"),
        ("timm/convnext_tinyy", "variants.a.model", "timm/convnext_tiny"),
        ("timm/resnet18.no_such_tag", "variants.a.model", "timm/resnet18"),
    ],
)
def test_an_unknown_name_fails_validation_with_the_closest_names(model, key, closest):
    config = {"name": "x", "variants": {"a": {"model": model}}}
    with pytest.raises(ConfigError) as err:
        prepare_config(config, [], SCHEMA)
    assert str(err.value).startswith(f"{key}: unknown ")
    assert closest in str(err.value)


def test_known_names_and_tags_pass_validation():
    variants = {
        "a": {"model": "torchvision/densenet121", "pretrained": "imagenet"},
        "b": {"model": "timm/resnet18.a1_in1k", "pretrained": None},
        "c": {"model": "conv"},
    }
    config = prepare_config({"name": "x", "variants": variants}, [], SCHEMA)
    assert config["weights_cache"] == "results/weights"


def write_folder(root: Path, classes: tuple[str, ...], n: int = 16) -> Path:
    """Class k's grey images have a bright square in the k-th corner."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 90, (24, 24)).astype(np.uint8)
            r, c = (k // 2) * 12, (k % 2) * 12
            img[r : r + 10, c : c + 10] = 230
            Image.fromarray(img).save(root / name / f"{name}_{i:02d}.png")
    return root


def weights_normalisation(name: str) -> tuple[list[float], list[float]]:
    """The mean and std of the default ImageNet weights of ``name``, from its library."""
    family, arch = name.split("/")
    if family == "timm":
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(arch)
        return list(cfg.mean), list(cfg.std)
    from torchvision.models import get_model_weights

    transform = get_model_weights(arch).DEFAULT.transforms()
    return list(transform.mean), list(transform.std)


@pytest.mark.parametrize(
    "name, classes",
    [
        ("torchvision/mobilenet_v3_small", ("normal", "tumour")),
        ("torchvision/mobilenet_v3_small", ("a", "b", "c")),
        ("timm/test_resnet", ("normal", "tumour")),
    ],
    ids=["torchvision-2", "torchvision-3", "timm-2"],
)
def test_a_pretrained_backbone_trains_and_predict_reproduces_its_scores(
    tmp_path: Path, cache: Path, no_network: list, monkeypatch: pytest.MonkeyPatch, name, classes
):
    write_weights(name, cache)
    root = write_folder(tmp_path / "images", classes)
    cfg = data_config(
        source="folder",
        path=str(root),
        image_size=32,
        channels=1,
        split={"val": 0.25, "test": 0.25, "seed": 0},
    )
    data = data_files(tmp_path / "data")
    prepare_dataset(cfg, data)
    spec = variant_spec(
        name, {"pretrained": "imagenet"}, name="tl", epochs=2, batch_size=8, device="cpu"
    )
    run = tmp_path / "run"
    cache_roles = {r: data[r] for r in ("train", "val", "test")}
    run_training(
        spec, 0, cache_roles, train_files(run), tmp_path / "ck", decoding=decode_settings(cfg)
    )
    saved = torch.load(run / "model.pt", weights_only=True)
    # the weights' own normalisation (torchvision's transforms, timm's pretrained_cfg),
    # averaged for one channel
    mean, std = weights_normalisation(name)
    assert saved["mean"] == pytest.approx([float(np.mean(mean))])
    assert saved["std"] == pytest.approx([float(np.mean(std))])
    assert saved["backbone"]["input_layer"] == "RGB filters summed into one channel"
    # predict needs the model file alone, not the weights cache
    monkeypatch.delenv(layout.WEIGHTS_CACHE_ENV)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run / "model.pt"), str(root), "--out", str(out)]) == 0
    with out.open(newline="") as fh:
        predicted = {Path(r["path"]).relative_to(root).as_posix(): r for r in csv.DictReader(fh)}
    with (run / "scores.csv").open(newline="") as fh:
        test_rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    assert test_rows
    for row in test_rows:
        got = predicted[row["path"]]
        assert [got[f"prob_{c}"] for c in classes] == [
            row[f"prob_{k}"] for k in range(len(classes))
        ]
    assert no_network == []


@pytest.mark.parametrize(
    "model, size, fix",
    [
        ("torchvision/vit_b_16", 64, "data.image_size: 224"),  # fixed: ViT's position table
        ("torchvision/maxvit_t", 128, "data.image_size: 224"),  # fixed: its attention windows
        ("torchvision/inception_v3", 64, "data.image_size: 75"),  # a minimum size
        ("timm/vit_tiny_patch16_224.augreg_in21k", 128, "data.image_size: 224"),
        ("timm/test_vit3", 32, "data.image_size: 160"),
    ],
)
def test_a_model_that_cannot_take_the_image_size_fails_validation_with_the_fix(model, size, fix):
    config = {"name": "x", "data": {"image_size": size}, "variants": {"vt": {"model": model}}}
    with pytest.raises(ConfigError) as err:
        prepare_config(config, [], SCHEMA)
    message = str(err.value)
    assert message.startswith(f"variants.vt.model: {model} does not run on {size} x {size}")
    assert fix in message and "data.image_size" in message


@pytest.mark.parametrize(
    "model, size",
    [
        ("torchvision/swin_t", 64),  # metadata min_size 224, but it runs at any size
        ("timm/test_vit", 32),  # fixed_input_size in its cfg, but dynamic_img_size
        ("torchvision/vit_b_16", 224),
        ("torchvision/densenet121", 32),
    ],
)
def test_models_that_take_the_size_pass_validation(model, size):
    config = {"name": "x", "data": {"image_size": size}, "variants": {"v": {"model": model}}}
    prepare_config(config, [], SCHEMA)


@pytest.mark.parametrize(
    "model, too_small, fits", [("timm/test_vit3", 32, 160), ("torchvision/squeezenet1_1", 16, 17)]
)
def test_the_size_check_agrees_with_the_real_model(model, too_small, fits):
    """The real model (small ones) fails where the check refuses and runs at its fix."""
    from biomedclf.train.input_sizes import input_size_problem

    assert f"data.image_size: {fits} " in (input_size_problem(model, too_small, 1) or "")
    assert input_size_problem(model, fits, 1) is None
    model_at = build_model(model, {}, 1, fits, n_classes=2).eval()
    with torch.no_grad():
        assert model_at(torch.zeros(1, 1, fits, fits)).shape == (1, 1)
        with pytest.raises((RuntimeError, AssertionError)):
            model_at(torch.zeros(1, 1, too_small, too_small))
    with pytest.raises(ValueError, match=f"^variants.s.model: {model} does not run on"):
        build_model(model, {}, 1, too_small, n_classes=2, variant="s")


def test_models_nothing_restricts_are_not_built_to_check_the_size(
    monkeypatch: pytest.MonkeyPatch,
):
    from biomedclf.train import backbones
    from biomedclf.train.input_sizes import input_size_problem

    def built(*args: object) -> None:
        raise AssertionError(f"built {args} to check the size")

    monkeypatch.setattr(backbones, "architecture", built)
    for model in ("torchvision/resnet18", "torchvision/densenet121", "timm/resnet50"):
        assert input_size_problem(model, 48, 1) is None
