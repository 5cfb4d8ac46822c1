"""Evaluate one trained run on the test split: ``metrics.json`` and ``predictions.csv``.

Entry point: :func:`run_evaluation` (called by the workflow's evaluate adapter). The model is
rebuilt from ``model.pt`` alone; probabilities are ``sigmoid(logit)`` of the positive class.
Metrics (:mod:`biomedclf.metrics`) are reported at threshold 0.5 and at the threshold that
maximises Youden's J on the *validation* split (never on the test split).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import torch

from biomedclf.augment import channel_stats
from biomedclf.devices import select_device
from biomedclf.io import atomic_path, write_json
from biomedclf.metrics import binary_metrics, youden_threshold
from biomedclf.models import load_model, uses_convolutions
from biomedclf.train import load_cached_split, predict_logits

log = logging.getLogger(__name__)


def predict_probabilities(
    model_path: Path | str,
    images: torch.Tensor,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Positive-class probabilities (float32, CPU) of the model in ``model_path`` for a uint8
    ``N x C x H x W`` tensor, normalised with the mean/std stored in the model file."""
    device = torch.device(device) if isinstance(device, str) else device
    model, ckpt = load_model(model_path, map_location=device)
    return _probabilities(model, ckpt, images, device)


def _probabilities(
    model: torch.nn.Module,
    ckpt: dict[str, Any],
    images: torch.Tensor,
    device: torch.device,
) -> torch.Tensor:
    channels_last = uses_convolutions(ckpt["spec"]["model"]) and device.type in (
        "cpu",
        "cuda",
    )
    if channels_last:
        model.to(memory_format=torch.channels_last)
    expected = (int(ckpt["channels"]), int(ckpt["image_size"]), int(ckpt["image_size"]))
    if tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"images are {tuple(images.shape[1:])} but the model was trained on {expected}; "
            "evaluate with the data cache the model was trained on"
        )
    mean, std = channel_stats(ckpt["mean"], ckpt["std"], device)
    logits = predict_logits(
        model, images.to(device), mean, std, channels_last=channels_last
    )
    return torch.sigmoid(logits).cpu()


def run_evaluation(
    model_path: Path,
    data_dir: Path,
    out_dir: Path,
    threads: int = 1,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate ``model_path`` on ``{data_dir}/test.pt``; write metrics.json, predictions.csv.

    Returns the metrics.json dict (CONTRACTS.md). Evaluation runs in float32 (no autocast),
    so the probabilities are those a user gets from the model file on the same device type.
    """
    model_path, data_dir, out_dir = Path(model_path), Path(data_dir), Path(out_dir)
    torch.set_num_threads(max(1, int(threads)))
    dev = select_device(device)
    model, ckpt = load_model(model_path, map_location=dev)
    spec = ckpt["spec"]
    class_names = list(ckpt.get("class_names") or ["0", "1"])

    val = load_cached_split(data_dir, "val")
    test = load_cached_split(data_dir, "test")
    if list(test.class_names) != class_names:
        raise ValueError(
            f"{data_dir / 'test.pt'}: classes {test.class_names} differ from the model's "
            f"{class_names} ({model_path}); retrain on this data cache"
        )
    val_prob = _probabilities(model, ckpt, val.images, dev).double().numpy()
    test_prob = _probabilities(model, ckpt, test.images, dev).double().numpy()
    val_labels = val.labels.numpy()
    test_labels = test.labels.numpy()

    threshold = youden_threshold(val_labels, val_prob)
    metrics = {
        "variant": spec.get("name"),
        "seed": ckpt.get("seed"),
        "n_test": int(test_labels.shape[0]),
        "positive_class": class_names[1] if len(class_names) > 1 else None,
        "threshold_0.5": binary_metrics(test_labels, test_prob, 0.5),
        "threshold_youden": binary_metrics(test_labels, test_prob, threshold),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(out_dir / "predictions.csv") as tmp,
        tmp.open("w", newline="") as f,
    ):
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "label", "probability"])
        for path, label, prob in zip(
            test.paths, test_labels.tolist(), test_prob.tolist()
        ):
            writer.writerow([path, int(label), repr(float(prob))])
    write_json(out_dir / "metrics.json", metrics)
    m05, my = metrics["threshold_0.5"], metrics["threshold_youden"]
    log.info(
        "%s seed %s on %d test images: accuracy %.3f at 0.5, %.3f at Youden threshold %.3f "
        "(from val), AUROC %s",
        spec.get("name"), ckpt.get("seed"), metrics["n_test"], m05["accuracy"], my["accuracy"],
        threshold, "n/a" if m05["auroc"] is None else f"{m05['auroc']:.3f}",
    )  # fmt: skip
    return metrics
