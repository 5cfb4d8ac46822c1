"""The state of a training run that changes from epoch to epoch, and its checkpoint.

:class:`TrainState` holds the model, the optimiser, the learning-rate scheduler (with the
freezing plan, :mod:`biomedclf.train.schedule`), the random generators (batch order and
augmentation) and the progress (epoch, history, best epoch so far, early-stopping counter).
It saves itself after every epoch and restores itself into a freshly built run, so a job that
is killed and started again ends with the same model as one that never stopped. A checkpoint
is only resumed when its key (spec, seed, data and device type) matches the run's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biomedclf.data.cache import CachedSplit
from biomedclf.io import atomic_path
from biomedclf.train.optimizers import Optimizer
from biomedclf.train.schedule import FineTuning

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What a restarted job must know about the epochs already run."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    train_phase_seconds: float = 0.0
    images_trained: int = 0


@dataclass
class TrainState:
    """Model, optimiser, learning-rate schedule, generators and progress of one run."""

    model: nn.Module
    optimizer: Optimizer  # biomedclf.train.optimizers' on the CPU, torch.optim's elsewhere
    perm_gen: torch.Generator
    aug_gen: torch.Generator | None
    tuning: FineTuning  # learning-rate scheduler and freezing plan
    progress: Progress = field(default_factory=Progress)
    best_state: dict[str, torch.Tensor] | None = None

    def record(self, val_loss: float, patience: int | None) -> None:
        """Keep the weights when ``val_loss`` is the lowest so far; count epochs without
        improvement and stop early after ``patience`` of them."""
        p = self.progress
        if math.isfinite(val_loss) and val_loss < p.best_val_loss:
            p.best_val_loss, p.best_epoch, p.bad_epochs = val_loss, p.epoch, 0
            self.best_state = cpu_state(self.model.state_dict())
        else:
            p.bad_epochs += 1
        if patience is not None and p.bad_epochs >= patience:
            p.stopped_early = True

    def keep_last_if_none_best(self) -> None:
        """When no epoch had a finite validation loss, the last epoch's weights are kept."""
        if self.best_state is None:
            log.warning("no finite validation loss in any epoch; saving the last epoch's model")
            self.best_state = cpu_state(self.model.state_dict())
            self.progress.best_epoch = self.progress.epoch

    def save(self, path: Path, key: str, device: torch.device) -> None:
        """Write the checkpoint atomically (a killed job leaves the previous one intact)."""
        state = {
            "key": key,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.tuning.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "perm_rng": self.perm_gen.get_state(),
            "aug_rng": self.aug_gen.get_state() if self.aug_gen is not None else None,
            "progress": {f.name: getattr(self.progress, f.name) for f in fields(Progress)},
            "best_state": self.best_state,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def restore(self, path: Path, key: str, device: torch.device) -> bool:
        """Load the checkpoint at ``path`` into this (fresh) state; False when it does not
        fit this run (unreadable, another key, or shapes that differ), which is logged."""
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a truncated or foreign file: start again rather than fail
            log.warning("%s: unreadable checkpoint (%s); training from the start", path, exc)
            return False
        if saved.get("key") != key:
            log.warning(
                "%s: checkpoint of a different spec, seed or data; training from the start",
                path,
            )
            return False
        try:
            self._load(saved, device)
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            log.warning(
                "%s: checkpoint does not fit this run (%s); training from the start", path, exc
            )
            return False
        return True

    def _load(self, saved: dict[str, Any], device: torch.device) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.tuning.scheduler.load_state_dict(saved["scheduler"])
        self.progress = Progress(**saved["progress"])
        torch.set_rng_state(saved["torch_rng"])
        if device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], device)
        self.perm_gen.set_state(saved["perm_rng"])
        if self.aug_gen is not None:
            self.aug_gen.set_state(saved["aug_rng"])
        self.best_state = saved.get("best_state")


def cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a state dict."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def data_fingerprint(*splits: CachedSplit) -> str:
    """Cheap identity of the data a run trains on (shapes, labels, paths, normalisation; the
    mask of a multi-label split)."""
    h = hashlib.sha256()
    for s in splits:
        h.update(repr((tuple(s.images.shape), s.mean, s.std, s.class_names)).encode())
        h.update(s.labels.to(torch.int64).numpy().tobytes())
        h.update("\n".join(s.paths).encode())
        if s.mask is not None:
            h.update(b"mask" + s.mask.to(torch.bool).numpy().tobytes())
    return h.hexdigest()


def resume_key(spec: dict[str, Any], seed: int, fingerprint: str, device_type: str) -> str:
    """What a checkpoint must match to be resumed (random states do not carry across devices)."""
    text = json.dumps(
        {"spec": spec, "seed": seed, "data": fingerprint, "device": device_type},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()
