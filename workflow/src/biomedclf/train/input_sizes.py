"""Whether a torchvision or timm backbone runs on the study's image size, checked before any
training (when the config is checked, and again when the model is built).

Most classifiers pool globally and take any size; some do not:

- fixed sizes: torchvision's ``vit_*`` (224 x 224, as built without weights) and ``maxvit_t``
  (224; its attention windows are laid out for it), timm's models whose ``pretrained_cfg``
  says ``fixed_input_size`` (most ViTs, Swin, MaxViT, CoAtNet, LeViT, MLP-Mixer: the size of
  their ``input_size``, which timm builds them for);
- minimum sizes: torchvision's weights metadata ``min_size`` (``inception_v3`` 75,
  ``alexnet`` 63, ...), timm's ``min_input_size``.

The metadata alone decides which models are looked at; it is not always right (timm's
``test_vit`` and ``crossvit_*`` say ``fixed_input_size`` but adapt, torchvision's Swin says
``min_size`` 224 but runs at 8), so a flagged model is built on the meta device (no memory,
no random numbers) and run once on an empty batch of the study's size. Only a size that fails
there while a declared size works is refused: with the variant's key, the model's size and
the fix (``data.image_size: N``). A model that cannot be built or run on the meta device is
not refused (its library then reports at training).
"""

from __future__ import annotations

import functools
import logging
import warnings

log = logging.getLogger(__name__)

__all__ = ["check_input_size", "input_size_problem"]

#: torchvision families whose input size is fixed by construction (the weights' metadata
#: gives it as ``min_size``).
TORCHVISION_FIXED = ("vit_", "maxvit_")


def _declared(name: str, image_size: int) -> tuple[list[int], str, str] | None:
    """(the sizes the model is declared for, ``fixed`` or ``minimum``, what says so), or None
    when nothing restricts ``image_size``. Metadata only: nothing is built."""
    family, _, arch = name.partition("/")
    if family == "torchvision":
        from torchvision.models import get_model_weights

        try:
            members = list(get_model_weights(arch))
        except ValueError:  # no published weights: no metadata
            return None
        sizes = sorted({int(w.meta.get("min_size", (1, 1))[0]) for w in members})
        if arch.startswith(TORCHVISION_FIXED):
            return sorted({224, *sizes}), "fixed", f"as torchvision builds {arch}"
        minimum = int(members[0].meta.get("min_size", (1, 1))[0])
        if image_size >= min(sizes + [minimum]):
            return None
        return sizes, "minimum", f"torchvision's weights metadata: min_size {minimum}"
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    if cfg is None:
        return None
    size = int(cfg.input_size[-1])
    minimum = int(cfg.min_input_size[-1]) if cfg.min_input_size else None
    if cfg.fixed_input_size:
        return [size], "fixed", f"timm's pretrained_cfg: input_size {size}, fixed_input_size"
    if minimum and image_size < minimum:
        return (
            sorted({minimum, size}),
            "minimum",
            f"timm's pretrained_cfg: min_input_size {minimum}",
        )
    return None


@functools.lru_cache(maxsize=64)
def _runs(name: str, channels: int, size: int) -> str | None:
    """None when backbone ``name`` runs on a ``channels`` x ``size``^2 batch on the meta
    device, else the library's error ("" when it cannot be built there)."""
    import torch

    from biomedclf.train.backbones import architecture

    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the libraries' notes on initialisation
            model, _ = architecture(name, channels, 1)
    except Exception as err:  # a model that cannot live on the meta device: not checked
        log.debug("%s: not built on the meta device (%s)", name, err)
        return ""
    try:
        with torch.no_grad():
            model.eval()(torch.empty(1, channels, size, size, device="meta"))
    except Exception as err:  # the library's own complaint about the size
        return f"{type(err).__name__}: {err}".strip()
    return None


def input_size_problem(name: str, image_size: int, channels: int) -> str | None:
    """What is wrong with ``image_size`` for backbone ``name`` (None when it runs): the
    model's size, what declares it, the library's error and the fix."""
    declared = _declared(name, image_size)
    if declared is None:
        return None
    sizes, kind, source = declared
    error = _runs(name, channels, image_size)
    if not error:
        return None
    works = [s for s in sizes if s != image_size and _runs(name, channels, s) is None]
    if not works:  # no declared size runs either: the failure is not about the size
        log.debug(
            "%s fails at %d and at %s too (%s): not a size problem", name, image_size, sizes, error
        )
        return None
    best = min(works, key=lambda s: (abs(s - image_size), s))
    what = f"its {kind} input size is {best} x {best} pixels ({source})"
    return (
        f"{name} does not run on {image_size} x {image_size} images (data.image_size): {what}; "
        f"set data.image_size: {best} or choose another model ({error.splitlines()[0][:160]})"
    )


def check_input_size(name: str, image_size: int, channels: int, key: str) -> None:
    """ValueError starting with ``key`` when backbone ``name`` does not run on
    ``image_size`` (:func:`input_size_problem`)."""
    problem = input_size_problem(name, image_size, channels)
    if problem:
        raise ValueError(f"{key}: {problem}")
