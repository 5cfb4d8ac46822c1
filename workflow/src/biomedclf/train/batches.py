"""Where a training job's images sit, and the batches drawn from them.

The cache's splits arrive memory-mapped (:func:`biomedclf.train.inputs.load_training_data`):
every job on a machine reads the same pages of the page cache. :func:`place` then decides,
per split (train first, then val), within the budget of ``training.device_cache``
(:func:`device_budget`):

- *resident*: the split is copied to the training device once (a GPU's memory; on CPU a private
  copy) and batches are indexed there;
- *streamed*: the split stays mapped in host memory; each batch's rows are gathered from it
  (copying that batch alone) and, on CUDA, copied to the GPU through one of two pinned
  buffers on a side stream, the next batch's copy running while the current one trains.

Both give the same batches in the same order, hence the same numbers: the permutation is
drawn the same way and the images are the same bytes. Evaluation passes run in chunks of
:data:`~biomedclf.train.inference.EVAL_BATCH_SIZE`, the batches
:func:`~biomedclf.train.inference.predict_logits` uses, so their logits agree too.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from biomedclf.data.cache import ImageRows
from biomedclf.train.inference import EVAL_BATCH_SIZE, predict_logits
from biomedclf.train.settings import DEVICE_CACHE_ENV, device_cache_bytes

log = logging.getLogger(__name__)

#: ``device_cache: auto`` on CUDA: the share of the GPU's free memory (when the data is
#: loaded) the train and val images may take; the rest is left to the model, its activations
#: and the optimiser.
AUTO_FRACTION = 0.5

Images = torch.Tensor | ImageRows


@dataclass(frozen=True)
class DeviceImages:
    """A split's uint8 images as training reads them: on ``device`` when ``resident``, else
    in host memory (mapped), each batch copied to ``device`` when drawn."""

    images: Images
    device: torch.device
    resident: bool

    @property
    def shape(self) -> torch.Size:
        return self.images.shape

    def __len__(self) -> int:
        return int(self.images.shape[0])


def nbytes(images: Images) -> int:
    """Bytes the images take."""
    return math.prod(images.shape) * images.dtype.itemsize


def device_budget(device: torch.device, setting: str | None = None) -> int:
    """Bytes of ``device`` memory the train and val images may take: ``setting`` (a
    ``training.device_cache`` value), by default the one the workflow hands the job
    (:data:`~biomedclf.train.settings.DEVICE_CACHE_ENV`; unset: ``auto``).

    ``auto``: on CUDA :data:`AUTO_FRACTION` of the free memory, on CPU 0 (the mapped cache
    already is in memory, shared with other jobs), elsewhere (MPS: memory shared with the host)
    no limit.
    """
    text = os.environ.get(DEVICE_CACHE_ENV) if setting is None else setting
    size = None if text is None else device_cache_bytes(text)
    if size is not None:
        return size
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(AUTO_FRACTION * free)
    return 0 if device.type == "cpu" else sys.maxsize


def place(images: Images, device: torch.device, budget: int) -> tuple[DeviceImages, int]:
    """``images`` resident on ``device`` when they fit ``budget`` bytes, else streamed; and
    the budget left."""
    size = nbytes(images)
    if size > budget:
        return DeviceImages(images, device, resident=False), budget
    if device.type == "cpu":  # a private copy (the in-memory path; auto never takes it)
        copy = images.clone() if isinstance(images, torch.Tensor) else images[:]
    else:
        copy = images.to(device)
    return DeviceImages(copy, device, resident=True), budget - size


def streamed(images: Images, device: torch.device) -> DeviceImages:
    """``images`` streamed to ``device`` batch by batch (scoring the splits after training)."""
    return DeviceImages(images, device, resident=False)


def _gather(images: Images, positions: torch.Tensor, out: torch.Tensor | None = None):
    """Rows ``positions`` of host ``images``, copied (into ``out`` when given)."""
    if isinstance(images, ImageRows):
        return images.index_select(positions, out=out)
    if out is None:
        return torch.index_select(images, 0, positions)
    return torch.index_select(images, 0, positions, out=out)


def _stream(
    images: Images, device: torch.device, order: torch.Tensor, bounds: list[tuple[int, int]]
) -> Iterator[torch.Tensor]:
    """Rows ``order[a:b]`` of host ``images`` on ``device`` for each ``(a, b)`` of ``bounds``.

    On CUDA each batch is gathered into one of two pinned buffers and copied on a side stream
    one batch ahead: batch i + 1 is on its way while batch i trains.
    """
    if device.type != "cuda":
        for a, b in bounds:
            yield _gather(images, order[a:b]).to(device)
        return
    main, side = torch.cuda.current_stream(device), torch.cuda.Stream(device)
    rows = max((b - a for a, b in bounds), default=0)
    pinned = [
        torch.empty((rows, *images.shape[1:]), dtype=images.dtype, pin_memory=True)
        for _ in range(2)
    ]
    copied: list[torch.cuda.Event | None] = [None, None]

    def stage(i: int) -> tuple[torch.Tensor, torch.cuda.Event]:
        a, b = bounds[i]
        if copied[i % 2] is not None:  # its buffer's last copy must be done before reuse
            copied[i % 2].synchronize()
        host = _gather(images, order[a:b], out=pinned[i % 2][: b - a])
        with torch.cuda.stream(side):
            batch = host.to(device, non_blocking=True)
            event = torch.cuda.Event()
            event.record(side)
        copied[i % 2] = event
        return batch, event

    ahead = stage(0) if bounds else None
    for i in range(len(bounds)):
        batch, event = ahead  # type: ignore[misc]
        if i + 1 < len(bounds):
            ahead = stage(i + 1)
        main.wait_event(event)
        batch.record_stream(main)  # allocated on the side stream, used on the main one
        yield batch


def training_batches(
    x: DeviceImages, labels: torch.Tensor, perm: torch.Tensor, n_used: int, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images, labels) on the device of each training batch: the rows
    ``perm[start : start + batch_size]`` (``perm`` on the CPU) for the starts up to
    ``n_used``; ``labels`` sit on the device."""
    perm_on_device = perm.to(x.device)
    bounds = [(a, min(a + batch_size, n_used)) for a in range(0, n_used, batch_size)]
    if x.resident:
        for a, b in bounds:
            idx = perm_on_device[a:b]
            yield x.images[idx], labels[idx]
        return
    for (a, b), images in zip(bounds, _stream(x.images, x.device, perm, bounds)):
        yield images, labels[perm_on_device[a:b]]


def eval_logits(
    model: nn.Module,
    x: DeviceImages,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    channels_last: bool = False,
    amp: bool = False,
) -> torch.Tensor:
    """:func:`~biomedclf.train.inference.predict_logits` of ``x`` on its device, streamed in
    its own batches when ``x`` is not resident (the same numbers either way). A mapped tensor
    on the CPU is read in place: its slices are views of the mapping."""
    on_cpu = x.device.type == "cpu" and isinstance(x.images, torch.Tensor)
    if x.resident or on_cpu:
        return predict_logits(model, x.images, mean, std, channels_last=channels_last, amp=amp)
    n = len(x)
    bounds = [(a, min(a + EVAL_BATCH_SIZE, n)) for a in range(0, n, EVAL_BATCH_SIZE)]
    chunks = [
        predict_logits(model, batch, mean, std, channels_last=channels_last, amp=amp)
        for batch in _stream(x.images, x.device, torch.arange(n), bounds)
    ]
    return torch.cat(chunks) if chunks else torch.zeros(0, device=x.device)


def describe(name: str, x: DeviceImages) -> str:
    """Where a split's images sit, for the job's log."""
    where = f"on {x.device}" if x.resident else f"streamed to {x.device} from mapped host memory"
    return f"{name} images {nbytes(x.images) / 1e6:.0f} MB {where}"
