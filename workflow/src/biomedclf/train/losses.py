"""What training minimises and how its predictions are read, for two or more classes.

Two classes keep one logit per image: ``BCEWithLogitsLoss`` (``pos_weight`` for balanced
class weights), the sigmoid as the probability of class 1, and a call of class 1 when the
logit is above 0. K > 2 classes use K logits: ``CrossEntropyLoss`` (class weights, label
smoothing), the softmax and the arg-max. Label smoothing of ``eps`` for two classes moves the
targets to ``eps / 2`` and ``1 - eps / 2``, as cross-entropy smoothing does with two classes.

Multi-label studies (several findings per image) use one logit per label:
:class:`MaskedBCEWithLogits`, the binary cross-entropy averaged over the entries the label mask
keeps (uncertain or unknown labels set to ``ignore`` add nothing), with a ``pos_weight`` per
label for balanced class weights (:func:`multilabel_pos_weight`); a multi-label run's objective
is :class:`biomedclf.train.multilabel.MultilabelObjective`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def balanced_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse class frequency, ``n / (K * n_k)`` (scikit-learn's "balanced"), float32 CPU."""
    counts = torch.bincount(labels.to(torch.int64).cpu(), minlength=n_classes).double()
    if bool((counts == 0).any()):
        missing = [k for k in range(n_classes) if counts[k] == 0]
        raise ValueError(
            f"training.class_weights: balanced needs every class in the training split; "
            f"classes {missing} have no training image"
        )
    return (counts.sum() / (n_classes * counts)).float()


@dataclass
class Objective:
    """The loss of a classifier with ``n_classes`` classes, and how its logits are read."""

    n_classes: int
    criterion: nn.Module
    label_smoothing: float

    @property
    def binary(self) -> bool:
        return self.n_classes == 2

    @property
    def name(self) -> str:
        """What the loss is called (train.json's ``loss``): ``binary cross-entropy`` for two
        classes (one logit, ``BCEWithLogitsLoss``), else ``cross-entropy``."""
        return "binary cross-entropy" if self.binary else "cross-entropy"

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Loss targets for int64 labels: smoothed floats (two classes) or the labels."""
        if not self.binary:
            return labels
        y = labels.to(torch.float32)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / 2
        return y

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch of logits (``N`` or ``N x K``) against int64 labels."""
        return self.criterion(logits, self.targets(labels))

    def correct(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """How many of the batch's calls are right (a 0-d int64 tensor on its device)."""
        return (predicted(logits) == labels).sum()

    def entries(self, labels: torch.Tensor) -> int | torch.Tensor:
        """How many calls :meth:`correct` counts in a batch: one per image."""
        return int(labels.shape[0])


def make_objective(
    n_classes: int,
    train_labels: torch.Tensor,
    class_weights: str | None,
    label_smoothing: float,
    device: torch.device,
) -> Objective:
    """The loss for the training settings; balanced weights come from ``train_labels``."""
    weights = balanced_weights(train_labels, n_classes) if class_weights == "balanced" else None
    if n_classes == 2:
        pos_weight = None if weights is None else (weights[1] / weights[0]).reshape(1)
        criterion = nn.BCEWithLogitsLoss(
            reduction="mean", pos_weight=None if pos_weight is None else pos_weight.to(device)
        )
    else:
        criterion = nn.CrossEntropyLoss(
            weight=None if weights is None else weights.to(device),
            label_smoothing=float(label_smoothing),
        )
    return Objective(n_classes, criterion, float(label_smoothing))


def predicted(logits: torch.Tensor) -> torch.Tensor:
    """Called class per image: logit > 0 (one logit) or the arg-max (K logits)."""
    if logits.dim() == 1:
        return (logits > 0).to(torch.int64)
    return logits.argmax(dim=1)


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """``N x K`` class probabilities: ``[1 - p, p]`` with the sigmoid ``p`` for one logit,
    else the softmax. Column 1 of a binary model is exactly the sigmoid."""
    if logits.dim() == 1:
        p = torch.sigmoid(logits)
        return torch.stack([1 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def multilabel_pos_weight(targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per label, negatives / positives among the kept entries (``class_weights: balanced``
    for a multi-label study), float32 CPU; ``targets`` and ``mask`` are N x L (the train split).
    Raises ValueError naming the labels without a kept positive or negative."""
    y = targets.detach().to(torch.float64).cpu()
    kept = torch.ones_like(y, dtype=torch.bool) if mask is None else mask.detach().cpu().bool()
    pos = ((y == 1) & kept).sum(dim=0).double()
    neg = ((y == 0) & kept).sum(dim=0).double()
    bad = [j for j in range(y.shape[1]) if pos[j] == 0 or neg[j] == 0]
    if bad:
        raise ValueError(
            "training.class_weights: balanced needs a positive and a negative of every label in "
            f"the training split (kept entries); label column(s) {bad} have "
            f"{[int(pos[j]) for j in bad]} positive(s) and {[int(neg[j]) for j in bad]} "
            "negative(s). Drop class_weights, or the label from data.classes"
        )
    return (neg / pos).float()


class MaskedBCEWithLogits(nn.Module):
    """Binary cross-entropy of one logit per label (``N x L`` logits, 0/1 targets), averaged over
    the kept entries only (``mask`` True); ignored entries add nothing to the loss or its
    gradient, whatever their target holds. ``pos_weight`` (L) weighs each label's positives, as
    ``BCEWithLogitsLoss``'s does. A batch without a kept entry has loss 0."""

    def __init__(self, pos_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("pos_weight", None if pos_weight is None else pos_weight.float())

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if logits.shape != targets.shape:
            raise ValueError(
                f"logits of shape {tuple(logits.shape)} for targets {tuple(targets.shape)}; a "
                "multi-label model has one logit per label"
            )
        kept = torch.ones_like(logits, dtype=torch.bool) if mask is None else mask.bool()
        y = torch.where(kept, targets.to(logits.dtype), torch.zeros_like(logits))
        per_entry = nn.functional.binary_cross_entropy_with_logits(
            logits, y, pos_weight=self.pos_weight, reduction="none"
        )
        per_entry = torch.where(kept, per_entry, torch.zeros_like(per_entry))
        return per_entry.sum() / kept.sum().clamp(min=1)


def make_multilabel_loss(
    train_targets: torch.Tensor,
    train_mask: torch.Tensor | None,
    class_weights: str | None,
    device: torch.device,
) -> MaskedBCEWithLogits:
    """The masked loss for the training settings; ``balanced`` weights come from the train
    split's kept entries (:func:`multilabel_pos_weight`)."""
    weight = (
        multilabel_pos_weight(train_targets, train_mask) if class_weights == "balanced" else None
    )
    return MaskedBCEWithLogits(weight).to(device)
