"""Classification backbones of torchvision and timm by name, optionally from pretrained weights
read from a local cache (never downloaded).

A variant names one as ``model: torchvision/<name>`` (any model of
``torchvision.models.list_models(module=torchvision.models)``) or ``model: timm/<name>`` (any
of ``timm.list_models()``, a pretrained tag such as ``resnet18.a1_in1k`` allowed), with the
setting ``pretrained``:

- ``null`` (default): trained from scratch (the seed initialises every layer);
- ``imagenet``: the model's default ImageNet weights from the weights cache
  (:func:`cache_folder`): torchvision's file under ``<cache>/hub/checkpoints/`` (where
  ``TORCH_HOME=<cache>`` puts it), timm's in the Hugging Face cache ``<cache>/huggingface/hub``
  (where ``HF_HOME=<cache>/huggingface`` puts it), or for timm weights published by URL only,
  torch's checkpoints folder as for torchvision. A missing file is one error naming the file,
  its URL and where to copy it;
- a path to a ``.pth``/``.pt``/``.bin`` or ``.safetensors`` state dict of the same architecture.

The classifier is replaced for the study's classes (:func:`biomedclf.train.models.
output_units` logits, initialised from the seed). For one-channel images the first
convolution takes one channel; with pretrained weights its filters are the sum of the RGB
filters (as timm's ``adapt_input_conv``): the layer responds to a grey image as the RGB layer
to that image copied into three channels (normalised alike). With pretrained weights images
are normalised with the weights' own mean and std (torchvision's ``weights.transforms()``,
timm's ``pretrained_cfg``; averaged over the channels for one-channel images) instead of the
training split's.
:func:`backbone_record` says which was done; model.pt keeps it (workflow/CONTRACTS.md).
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biomedclf.layout import HF_HUB_CACHE, TORCH_CHECKPOINTS, WEIGHTS_CACHE_ENV
from biomedclf.train.input_sizes import check_input_size

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULTS",
    "architecture",
    "FAMILIES",
    "backbone_record",
    "build_backbone",
    "cache_folder",
    "check_name",
    "head_parameter_names",
    "is_backbone",
    "weights_file",
]

#: The libraries whose models a variant may name as ``<family>/<name>``.
FAMILIES = ("torchvision", "timm")
#: The model settings of a backbone and their defaults.
DEFAULTS: dict[str, Any] = {"pretrained": None}
IMAGENET = "imagenet"
_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")


def is_backbone(name: str) -> bool:
    """Whether ``name`` names a torchvision or timm model (``<family>/<name>``)."""
    family, sep, arch = name.partition("/")
    return bool(sep and arch) and family in FAMILIES


def _split(name: str) -> tuple[str, str]:
    family, _, arch = name.partition("/")
    return family, arch


def _known(family: str) -> list[str]:
    if family == "torchvision":
        import torchvision

        return list(torchvision.models.list_models(module=torchvision.models))
    import timm

    return list(timm.list_models())


def check_name(name: str, key: str) -> None:
    """ValueError naming ``key`` and the closest model names when ``name`` is not a model of
    its family (a timm name may carry a pretrained tag, ``resnet18.a1_in1k``)."""
    family, arch = _split(name)
    if family not in FAMILIES or not arch:
        raise ValueError(f"{key}: '{name}' is not '<family>/<name>' with family in {FAMILIES}")
    known = _known(family)
    base, tagged = arch.partition(".")[::2]
    if arch in known or (family == "timm" and tagged and base in known and _timm_tag(arch)):
        return
    close = difflib.get_close_matches(arch, known, n=5, cutoff=0.5)
    listing = (
        "torchvision.models.list_models(module=torchvision.models)"
        if family == "torchvision"
        else "timm.list_models()"
    )
    raise ValueError(
        f"{key}: unknown {family} model '{arch}'; closest: "
        f"{', '.join(f'{family}/{c}' for c in close) or 'none'} (all names: {listing})"
    )


def _timm_tag(arch: str) -> bool:
    """Whether ``arch`` is ``<timm model>.<a pretrained tag timm knows>``."""
    from timm.models import get_pretrained_cfg

    try:
        return get_pretrained_cfg(arch) is not None
    except RuntimeError:  # timm: "Invalid pretrained tag"
        return False


def cache_folder() -> Path:
    """The weights cache (``weights_cache:``, passed to jobs in :data:`WEIGHTS_CACHE_ENV`)."""
    folder = os.environ.get(WEIGHTS_CACHE_ENV)
    if not folder:
        raise ValueError(
            f"pretrained: '{IMAGENET}' reads the weights cache, but {WEIGHTS_CACHE_ENV} is not "
            "set; run through the workflow (config key weights_cache) or set it to the folder"
        )
    return Path(folder).expanduser()


def _pretrained_cfg(arch: str) -> dict[str, Any]:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    if cfg is None:
        raise ValueError(f"model: timm/{arch} has no pretrained configuration")
    return cfg.to_dict()


def _torchvision_weights(arch: str) -> Any:
    from torchvision.models import get_model_weights

    return get_model_weights(arch).DEFAULT


def imagenet_weights(name: str) -> dict[str, Any]:
    """Where the default ImageNet weights of backbone ``name`` come from, without looking at
    any file: ``library``, ``weights`` (their name), ``url``, and either ``file`` (the torch
    hub file, relative to the cache) or ``hf_repo`` and ``hf_filenames`` (the Hugging Face
    repository and the files timm reads, in its order of preference)."""
    family, arch = _split(name)
    if family == "torchvision":
        weights = _torchvision_weights(arch)
        url = weights.url
        return {
            "library": family,
            "weights": str(weights),
            "url": url,
            "file": (TORCH_CHECKPOINTS / url.rsplit("/", 1)[-1]).as_posix(),
        }
    cfg = _pretrained_cfg(arch)
    if cfg.get("hf_hub_id"):
        repo = cfg["hf_hub_id"]
        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else []
        names = names or ["model.safetensors", "pytorch_model.bin"]
        return {
            "library": family,
            "weights": repo,
            "url": f"https://huggingface.co/{repo}/resolve/main/{names[0]}",
            "hf_repo": repo,
            "hf_filenames": names,
        }
    if cfg.get("url"):
        url = cfg["url"]
        file = (TORCH_CHECKPOINTS / url.rsplit("/", 1)[-1]).as_posix()
        return {"library": family, "weights": f"timm/{arch}", "url": url, "file": file}
    raise ValueError(f"pretrained: timm/{arch} has no published ImageNet weights")


def weights_file(name: str, cache: Path) -> tuple[Path | None, Path, str]:
    """(the cached file or None when missing, where it belongs, its URL) of the ImageNet
    weights of backbone ``name`` in ``cache``. Looks at files only: never a connection."""
    family, arch = _split(name)
    hub = cache / TORCH_CHECKPOINTS
    if family == "torchvision":
        url = _torchvision_weights(arch).url
        path = hub / url.rsplit("/", 1)[-1]
        return (path if path.is_file() else None), path, url
    cfg = _pretrained_cfg(arch)
    if cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        repo, hf_cache = cfg["hf_hub_id"], cache / HF_HUB_CACHE
        names = [cfg["hf_hub_filename"]] if cfg.get("hf_hub_filename") else []
        for filename in names or ["model.safetensors", "pytorch_model.bin"]:
            found = try_to_load_from_cache(repo, filename, cache_dir=hf_cache)
            if isinstance(found, str):
                return Path(found), Path(found), f"https://huggingface.co/{repo}"
        first = (names or ["model.safetensors"])[0]
        where = hf_cache / f"models--{repo.replace('/', '--')}"
        return None, where, f"https://huggingface.co/{repo}/resolve/main/{first}"
    if cfg.get("url"):
        path = hub / cfg["url"].rsplit("/", 1)[-1]
        return (path if path.is_file() else None), path, cfg["url"]
    raise ValueError(f"pretrained: timm/{arch} has no published ImageNet weights")


def _missing(name: str, where: Path, url: str) -> ValueError:
    """The error for ImageNet weights that are not in the cache."""
    arch = _split(name)[1]
    if where.name.startswith("models--"):  # a Hugging Face cache entry
        how = (
            f'on a machine with internet run HF_HOME=DIR python -c "import timm; '
            f"timm.create_model('{arch}', pretrained=True)\" and copy DIR/hub/{where.name} "
            f"to {where}"
        )
    else:  # a torch hub checkpoint file
        how = f"download {url} and copy it to {where}"
    return ValueError(
        f"pretrained: the ImageNet weights of {name} are not in the weights cache "
        f"(expected {where}, from {url}); nothing is downloaded: {how}"
    )


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` or torch file (a ``state_dict``/``model`` entry of
    a checkpoint unwrapped)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"pretrained: {path} holds no state dict; save model.state_dict()")
    return state


def _source(name: str, pretrained: str) -> Path:
    """The weights file ``pretrained`` names for backbone ``name``."""
    if pretrained == IMAGENET:
        found, where, url = weights_file(name, cache_folder())
        if found is None:
            raise _missing(name, where, url)
        return found
    path = Path(pretrained).expanduser()
    if path.suffix not in _SUFFIXES:
        raise ValueError(
            f"pretrained: '{pretrained}' is neither '{IMAGENET}' nor a weights file "
            f"({', '.join(_SUFFIXES)}); use null to train from scratch"
        )
    if not path.is_file():
        raise ValueError(f"pretrained: {path} does not exist; give an existing weights file")
    return path


def _first_conv(model: nn.Module, name: str) -> str:
    """The qualified name of the first convolution of ``model`` (its input layer)."""
    for qualified, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return qualified
    raise ValueError(f"model: {name} has no Conv2d input layer; use data.channels: 3")


def _replace_input(model: nn.Module, name: str, channels: int) -> str:
    """Give the first convolution of a torchvision model ``channels`` input channels."""
    qualified = _first_conv(model, name)
    conv = model.get_submodule(qualified)
    assert isinstance(conv, nn.Conv2d)
    new = nn.Conv2d(
        channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
    )
    parent, _, child = qualified.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, new)
    return qualified


def architecture(name: str, channels: int, outputs: int) -> tuple[nn.Module, str]:
    """(the untrained model with ``outputs`` logits and ``channels`` inputs, the qualified
    name of its first convolution)."""
    family, arch = _split(name)
    if family == "timm":
        import timm

        model = timm.create_model(arch, pretrained=False, num_classes=outputs, in_chans=channels)
        first = model.pretrained_cfg.get("first_conv")
        first = first if isinstance(first, str) else _first_conv(model, name)
        return model, first
    from torchvision.models import get_model

    model = get_model(arch, weights=None, num_classes=outputs)
    if channels == 3:
        return model, _first_conv(model, name)
    return model, _replace_input(model, name, channels)


def _load(model: nn.Module, state: dict[str, torch.Tensor], first: str, path: Path) -> None:
    """Load ``state`` into ``model``: the first convolution's RGB filters summed for one
    channel; layers whose shape differs (the classifier) keep their fresh initialisation."""
    own = model.state_dict()
    key = f"{first}.weight"
    if key in state and key in own and state[key].shape[1] == 3 and own[key].shape[1] == 1:
        state[key] = state[key].float().sum(dim=1, keepdim=True).to(state[key].dtype)
    unexpected = [k for k in state if k not in own]
    if unexpected:
        raise ValueError(
            f"pretrained: {path} does not fit this architecture (unexpected keys "
            f"{unexpected[:3]}); give weights of the same model"
        )
    fresh = sorted(k for k in own if k not in state or state[k].shape != own[k].shape)
    if any(k.startswith(f"{first}.") for k in fresh):
        raise ValueError(f"pretrained: {path}: the input layer {first} does not fit the images")
    model.load_state_dict({k: v for k, v in state.items() if k not in fresh}, strict=False)
    log.info("loaded weights from %s (initialised afresh: %s)", path, fresh or "none")


def _offline() -> None:
    """Keep this process off the network when it loads pretrained weights: huggingface_hub
    offline (``HF_HUB_OFFLINE=1``, read when it is first imported, i.e. before timm is in a
    training job) and torch hub's folder the weights cache (``TORCH_HOME``). The loading reads
    files only anyway; this covers anything a library might try on its own."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    folder = os.environ.get(WEIGHTS_CACHE_ENV)
    if folder:
        os.environ["TORCH_HOME"] = str(Path(folder).expanduser())


def build_backbone(
    name: str,
    in_channels: int,
    image_size: int,
    *,
    outputs: int,
    pretrained: str | None,
    load_weights: bool = True,
) -> nn.Module:
    """Backbone ``name`` (``torchvision/<name>`` or ``timm/<name>``) with ``outputs`` logits for
    ``in_channels`` x ``image_size``^2 images, from ``pretrained`` weights unless
    ``load_weights`` is False (a trained state dict is loaded over it anyway). ValueError
    names the setting (``model`` or ``pretrained``)."""
    if pretrained and load_weights:
        _offline()
    check_name(name, "model")
    check_input_size(name, image_size, in_channels, "model")
    if pretrained and in_channels not in (1, 3):
        raise ValueError(f"pretrained: RGB weights fit 1 or 3 channels, not {in_channels}")
    model, first = architecture(name, in_channels, outputs)
    if pretrained and load_weights:
        path = _source(name, pretrained)
        _load(model, _read_state(path), first, path)
    return model


def _normalisation(name: str) -> tuple[list[float], list[float], str]:
    """(mean, std, where from) of the default ImageNet weights of backbone ``name``."""
    family, arch = _split(name)
    if family == "torchvision":
        weights = _torchvision_weights(arch)
        transform = weights.transforms()
        return list(transform.mean), list(transform.std), f"torchvision {weights}"
    cfg = _pretrained_cfg(arch)
    return list(cfg["mean"]), list(cfg["std"]), f"timm {cfg.get('hf_hub_id') or arch}"


def backbone_record(name: str, args: dict[str, Any], channels: int) -> dict[str, Any] | None:
    """What model.pt records of a backbone (None for the registry's own models): the
    weights, how the input layer was adapted and, with pretrained weights, the mean and std
    the images are normalised with (one value each for one channel); ``mean`` is None when
    the training split's are used."""
    if not is_backbone(name):
        return None
    pretrained = args.get("pretrained")
    record: dict[str, Any] = {"model": name, "pretrained": pretrained, "mean": None, "std": None}
    if pretrained and channels == 1:
        record["input_layer"] = "RGB filters summed into one channel"
    elif channels == 3:
        record["input_layer"] = "as built (RGB)"
    else:
        record["input_layer"] = f"new {channels}-channel layer, initialised from the seed"
    if pretrained:
        mean, std, source = _normalisation(name)
        if channels == 1:
            mean, std = [sum(mean) / len(mean)], [sum(std) / len(std)]
        record.update(mean=mean, std=std, normalisation=source)
    return record


def head_parameter_names(model: nn.Module, name: str, channels: int, outputs: int) -> list[str]:
    """The qualified names of the parameters of the head of backbone ``name`` (``model``, as
    :func:`build_backbone` built it for ``channels`` and ``outputs``): the classifier built for
    the study's classes. timm: ``model.get_classifier()``; torchvision: the parameters whose
    shape depends on the number of classes (found by building the architecture with one
    more output on the meta device: no memory, no random numbers), auxiliary classifiers
    included."""
    family, _ = _split(name)
    if family == "timm":
        heads = model.get_classifier()  # type: ignore[operator]
        modules = heads if isinstance(heads, tuple) else (heads,)
        ids = {id(p) for module in modules for p in module.parameters()}
        return [n for n, p in model.named_parameters() if id(p) in ids]
    with torch.device("meta"):
        other, _ = architecture(name, channels, outputs + 1)
    shapes = {n: p.shape for n, p in other.named_parameters()}
    return [n for n, p in model.named_parameters() if shapes.get(n, p.shape) != p.shape]
