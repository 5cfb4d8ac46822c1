"""On-device batch transforms: uint8 cache -> float, optional augmentation, normalisation.

Training slices batches out of the uint8 cache that sits on the training device; these
functions turn such a batch into the model's input without leaving the device.

Augmentation draws its own random parameters *per image* from a ``torch.Generator`` on the
training device (saved in the checkpoint, so a resumed run repeats them exactly):
a horizontal flip (p = 0.5), a small affine (rotation +-10 degrees, translation +-5 %,
scale 0.95-1.05, bilinear, black fill) and an intensity jitter (brightness and contrast
+-10 %). Why not ``torchvision.transforms.v2``: its transforms draw one parameter set per call,
so a call on a whole batch transforms every image the same way, and a call per image costs a
chain of small kernels per image. The affine uses torch's ``affine_grid``/``grid_sample``, the
same primitives torchvision's tensor affine is built on, batched with one matrix per image.
Vertical flips are left out on purpose: anatomy has an up and a down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the random transforms (defaults: small, label-preserving changes)."""

    hflip: float = 0.5
    degrees: float = 10.0
    translate: float = 0.05
    scale: float = 0.05
    brightness: float = 0.1
    contrast: float = 0.1


def _uniform(
    n: int, spread: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """``n`` values uniform in [-spread, spread]."""
    return (torch.rand(n, generator=generator, device=device) * 2 - 1) * spread


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    settings: AugmentSettings = AugmentSettings(),
) -> torch.Tensor:
    """Randomly flip, transform and jitter each image of ``x`` (float N x C x H x W in [0, 1]).

    All random numbers come from ``generator`` (which must live on ``x.device``).
    """
    n, device = x.shape[0], x.device
    if n == 0:
        return x
    flip = torch.rand(n, generator=generator, device=device) < settings.hflip
    x = torch.where(flip.view(n, 1, 1, 1), x.flip(-1), x)

    angle = _uniform(n, math.radians(settings.degrees), generator, device)
    scale = 1 + _uniform(n, settings.scale, generator, device)
    shift = _uniform(2 * n, 2 * settings.translate, generator, device).view(n, 2)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, shift[:, 0]], 1),
            torch.stack([sin, cos, shift[:, 1]], 1),
        ],
        1,
    ).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    contrast = (1 + _uniform(n, settings.contrast, generator, device)).view(n, 1, 1, 1)
    brightness = (1 + _uniform(n, settings.brightness, generator, device)).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast.to(x.dtype) + mean) * brightness.to(x.dtype)
    return x.clamp_(0, 1)


def to_model_input(
    images: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    channels_last: bool = False,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 batch -> normalised float batch ``((x / 255) - mean) / std`` on its own device.

    ``mean``/``std`` are per-channel tensors shaped ``1 x C x 1 x 1`` on the same device.
    With a ``generator`` the batch is augmented (:func:`augment_batch`) before normalising.
    ``out`` (a float32 buffer of at least the batch's images, from :func:`input_buffer`):
    the batch is written into its first rows and those are returned (the same numbers):
    evaluation reuses one buffer for all its batches instead of allocating a batch-sized
    block each time, which a process that keeps freed memory
    (:func:`biomedclf.train.speedups.keep_freed_memory`) would otherwise let fragment into
    several such blocks (measured: 5 extra blocks of 49 MB scoring 4,000 images at 224 px).
    """
    if out is not None and generator is None:
        x = out[: images.shape[0]]
        x.copy_(images)
        x.div_(255)
        x.sub_(mean).div_(std)
        return x
    x = images.float().div_(255)
    if generator is not None:
        x = augment_batch(x, generator)
    # in place on the batch's own float copy: one batch-sized temporary, not three (the same
    # numbers; an evaluation batch of 256 images at 224 px is 51 MB)
    x.sub_(mean).div_(std)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def input_buffer(images: torch.Tensor, rows: int, *, channels_last: bool = False) -> torch.Tensor:
    """A float32 buffer for :func:`to_model_input`'s ``out``: ``rows`` images shaped like
    those of ``images`` (``N x C x H x W``), on their device, channels_last when asked."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    shape = (min(rows, images.shape[0]), *images.shape[1:])
    return torch.empty(shape, dtype=torch.float32, device=images.device, memory_format=fmt)


def normalisation_tensors(
    mean: list[float], std: list[float], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean/std lists -> ``1 x C x 1 x 1`` tensors on ``device`` (std floored)."""
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1).clamp_min(1e-6)
    return m, s
