"""Fine-tuning controls of a training run: the optimiser with its parameter groups, the learning
rate per epoch, and the epochs that train the head only.

The training settings (``workflow/schemas/config.schema.yaml``, workflow/CONTRACTS.md):

- ``scheduler`` with ``warmup_epochs``: the learning rate of epoch ``e`` (from 0) is the group's
  rate times :func:`lr_factor`: ``(e + 1) / (warmup_epochs + 1)`` during the warm-up, then
  1 (``constant``), ``(1 + cos(pi * t / (epochs - warmup_epochs))) / 2`` (``cosine``, ``t`` the
  epochs since the warm-up; it would reach 0 after the last epoch) or
  ``step_gamma ** (t // step_size)`` (``step``). :class:`biomedclf.train.optimizers.EpochLr`
  applies it as ``torch.optim.lr_scheduler.LambdaLR`` would, stepped once after every epoch;
  its state is part of the checkpoint.
- ``freeze_epochs``: the epochs ``e < freeze_epochs`` train the head only: every other
  parameter has ``requires_grad`` off (no gradient, so the optimiser leaves it and its
  weight decay alone, and keeps no state for it until it trains), and the BatchNorm layers
  outside the head run in eval mode: they normalise with their running statistics and do not
  update them, so the frozen backbone is one fixed function (its pretrained statistics are
  kept). Then every parameter trains and every layer is in train mode. Freezing depends on
  the epoch alone, so a resumed run freezes exactly as an uninterrupted one.
- ``backbone_lr_factor``: null gives one parameter group (every parameter at ``lr``);
  a number gives two, the head's first (at ``lr``; history.csv's ``lr`` column is this
  group's) and the other parameters' (at ``lr`` times the factor), scheduled alike.

The head (:func:`head_parameter_names`) is the classifier a torchvision or timm model got for
the study's classes (:func:`biomedclf.train.backbones.head_parameter_names`), and the last
``Linear`` layer of the registry's own models (``linear``, ``conv``, ``conv_gap``,
``resnet18``). It is only looked for when ``freeze_epochs`` or ``backbone_lr_factor`` asks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from biomedclf.train.optimizers import EpochLr, Optimizer, make_optimizer
from biomedclf.train.settings import TrainingSettings

log = logging.getLogger(__name__)

__all__ = ["FineTuning", "fine_tuning", "head_parameter_names", "lr_factor"]

#: The normalisation layers with running statistics (timm's BatchNormAct2d subclasses one).
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def lr_factor(s: TrainingSettings) -> Callable[[int], float]:
    """The factor of each group's learning rate in epoch ``e`` (from 0), as the settings'
    scheduler and warm-up give it."""
    warmup, scheduler = s.warmup_epochs, s.scheduler
    span = s.epochs - warmup  # >= 1: the settings refuse warmup_epochs >= epochs
    step_size, gamma = s.step_size, s.step_gamma

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        t = epoch - warmup
        if scheduler == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * t / span))
        if scheduler == "step":
            return gamma ** (t // step_size)
        return 1.0

    return factor


def head_parameter_names(
    model: nn.Module, name: str, channels: int, outputs: int, variant: str
) -> list[str]:
    """The qualified parameter names of the head of ``model`` (model ``name``): a torchvision
    or timm model's classifier for the study's ``outputs`` logits, else the last ``Linear``
    layer. ValueError naming the settings when there is none."""
    from biomedclf.train import backbones

    if backbones.is_backbone(name):
        names = backbones.head_parameter_names(model, name, channels, outputs)
    else:
        last = [q for q, m in model.named_modules() if isinstance(m, nn.Linear)][-1:]
        names = [f"{q}.{n}" for q in last for n, _ in model.get_submodule(q).named_parameters()]
    if not names:
        raise ValueError(
            f"variants.{variant}.freeze_epochs/backbone_lr_factor: model {name} has no head "
            "these settings can tell from the rest; set freeze_epochs: 0 and "
            "backbone_lr_factor: null"
        )
    return names


def _optimizer(model: nn.Module, s: TrainingSettings, head: frozenset[str]) -> Optimizer:
    """The settings' optimiser (:func:`biomedclf.train.optimizers.make_optimizer`: torch.optim's
    update without its compiler import on the CPU): one parameter group, or with
    ``backbone_lr_factor`` the head's (``lr``) and then the other parameters' (``lr`` times
    the factor)."""
    params: object = model.parameters()
    if s.backbone_lr_factor is not None:
        named = list(model.named_parameters())
        params = [
            {"params": [p for n, p in named if n in head], "lr": s.lr},
            {"params": [p for n, p in named if n not in head], "lr": s.lr * s.backbone_lr_factor},
        ]
    return make_optimizer(
        s.optimizer, params, lr=s.lr, weight_decay=s.weight_decay, momentum=s.momentum
    )


@dataclass
class FineTuning:
    """The learning-rate scheduler and the freezing plan of one run."""

    scheduler: EpochLr
    freeze_epochs: int
    head: frozenset[str]  # parameter names of the head (empty when nothing asks for it)

    def frozen(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (from 0) trains the head only."""
        return epoch < self.freeze_epochs

    def start_epoch(self, model: nn.Module, epoch: int) -> None:
        """Freeze or unfreeze for epoch ``epoch`` (from 0); call after ``model.train()``."""
        if not self.freeze_epochs:
            return
        frozen = self.frozen(epoch)
        for name, param in model.named_parameters():
            if name not in self.head:
                param.requires_grad_(not frozen)
        if frozen:
            for qualified, module in model.named_modules():
                if isinstance(module, BATCH_NORMS) and not self._in_head(qualified, module):
                    module.eval()
        if epoch == self.freeze_epochs and epoch > 0:
            log.info("epoch %d: every layer trains from now on", epoch + 1)

    def _in_head(self, qualified: str, module: nn.Module) -> bool:
        prefix = f"{qualified}." if qualified else ""
        return any(f"{prefix}{n}" in self.head for n, _ in module.named_parameters())

    def end_epoch(self) -> None:
        """Set the learning rates of the next epoch."""
        self.scheduler.step()


def fine_tuning(
    model: nn.Module, spec: dict, s: TrainingSettings, channels: int, outputs: int
) -> tuple[Optimizer, FineTuning]:
    """The optimiser and the fine-tuning plan of a freshly built ``model`` of the resolved
    variant ``spec``, before its first epoch (the first epoch's learning rates are set)."""
    head: frozenset[str] = frozenset()
    if s.freeze_epochs or s.backbone_lr_factor is not None:
        names = head_parameter_names(model, spec["model"], channels, outputs, spec["name"])
        head = frozenset(names)
        log.info(
            "head: %s; head only for %d epochs; backbone lr factor %s",
            ", ".join(names),
            s.freeze_epochs,
            s.backbone_lr_factor,
        )
        args = spec["model_args"]
        if s.freeze_epochs and not (args.get("pretrained") or args.get("weights")):
            log.warning(
                "freeze_epochs: %d epochs train the head on a backbone with untrained weights "
                "(no pretrained or weights setting)",
                s.freeze_epochs,
            )
    optimizer = _optimizer(model, s, head)
    return optimizer, FineTuning(EpochLr(optimizer, lr_factor(s)), s.freeze_epochs, head)
