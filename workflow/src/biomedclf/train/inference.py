"""Apply a model to uint8 images: logits in eval mode, and probabilities from a ``model.pt``.

Training uses :func:`predict_logits` for its validation pass and for the probabilities it
writes to ``scores.csv``; :func:`predict_probabilities` gives the same numbers from the model
file alone (normalised with the mean/std stored in it).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn

from biomedclf.train.augment import input_buffer, normalisation_tensors, to_model_input
from biomedclf.train.losses import probabilities
from biomedclf.train.models import load_model, uses_convolutions
from biomedclf.train.multilabel import TASK, label_probabilities

#: Batch size of prediction passes (no gradients, so larger than training batches is fine).
EVAL_BATCH_SIZE = 256


def autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``amp``; nothing elsewhere (bf16 on CPU is slower here)."""
    if device.type == "cuda" and amp:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def wants_channels_last(model_name: str, device: torch.device) -> bool:
    """Convolutional models run in channels_last on CPU and CUDA (about 1.45x on CPU here)."""
    return uses_convolutions(model_name) and device.type in ("cpu", "cuda")


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    channels_last: bool = False,
    amp: bool = False,
    batch_size: int = EVAL_BATCH_SIZE,
) -> torch.Tensor:
    """Logits (float32, on the images' device) of ``model`` in eval mode for a uint8 tensor:
    shape ``N`` for a one-logit (two-class) model, else ``N x K``."""
    model.eval()
    out = []
    buffer = input_buffer(images, batch_size, channels_last=channels_last)
    for start in range(0, images.shape[0], batch_size):
        x = to_model_input(
            images[start : start + batch_size],
            mean,
            std,
            channels_last=channels_last,
            out=buffer,
        )
        with autocast(images.device, amp):
            out.append(flat_logits(model(x)))
    if not out:
        return torch.zeros(0, device=images.device)
    return torch.cat(out)


def flat_logits(output: torch.Tensor) -> torch.Tensor:
    """float32 logits, ``N x 1`` flattened to ``N`` (one logit per image), ``N x K`` kept."""
    output = output.float()
    return output.reshape(-1) if output.shape[1] == 1 else output


def predict_probabilities(
    model_path: Path | str,
    images: torch.Tensor,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Class probabilities (``N x K``, float32, CPU; for two classes column 1 is the sigmoid
    of the one logit; a multi-label model: ``N x L``, the sigmoid of each label's logit) of
    the model in ``model_path`` for a uint8 ``N x C x H x W`` tensor,
    normalised with the mean/std stored in the model file: the numbers ``scores.csv`` holds,
    from the model file alone."""
    device = torch.device(device) if isinstance(device, str) else device
    model, saved = load_model(model_path, map_location=device)
    expected = (int(saved["channels"]), int(saved["image_size"]), int(saved["image_size"]))
    if tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"images are {tuple(images.shape[1:])} but {model_path} was trained on "
            f"{expected}; predict with the data cache the model was trained on"
        )
    channels_last = wants_channels_last(saved["spec"]["model"], device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    mean, std = normalisation_tensors(saved["mean"], saved["std"], device)
    logits = predict_logits(model, images.to(device), mean, std, channels_last=channels_last)
    if saved.get("task") == TASK:  # one sigmoid per label
        return label_probabilities(logits, len(saved["class_names"])).cpu()
    return probabilities(logits).cpu()
