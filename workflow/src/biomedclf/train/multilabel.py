"""Training on a multi-label cache (several findings per image, ``CachedSplit.multilabel``).

A multi-label model has one logit per label (:func:`biomedclf.train.models.output_units`, the
same head code as K classes, pretrained backbones included). What differs from a single-label
run is gathered here:

- the labels training reads on its device (:func:`device_targets`): int64 N x L holding the
  label (1/0) where the cache's mask keeps the entry and :data:`IGNORED` (-1) where it ignores
  it, so the mask travels with the labels into every batch, resident or streamed, by the same
  indexing;
- the objective (:class:`MultilabelObjective`): :class:`~biomedclf.train.losses.
  MaskedBCEWithLogits` over the kept entries, ``class_weights: balanced`` as a ``pos_weight``
  per label from the train split's kept entries; its accuracy (history.csv) is the fraction of
  kept entries whose call (sigmoid > 0.5, i.e. logit > 0) equals the target. Label smoothing is
  refused;
- the probabilities (:func:`label_probabilities`: the sigmoid of each logit) and the per-label
  thresholds chosen on validation (:func:`biomedclf.train.threshold.choose_thresholds`), which
  model.pt and train.json keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from biomedclf.data.cache import CachedSplit
from biomedclf.train.losses import Objective, make_multilabel_loss, make_objective
from biomedclf.train.threshold import choose_thresholds

if TYPE_CHECKING:
    from biomedclf.train.inputs import TrainingData
    from biomedclf.train.settings import TrainingSettings

#: The target of an entry the mask ignores, in :func:`device_targets`.
IGNORED = -1
#: train.json's and model.pt's ``task`` of a multi-label run.
TASK = "multilabel"


def device_targets(split: CachedSplit, device: torch.device) -> torch.Tensor:
    """The labels training reads, on ``device``: a single-label split's int64 labels, or a
    multi-label split's N x L labels with :data:`IGNORED` where its mask is False."""
    labels = split.labels.to(torch.int64)
    if split.multilabel:
        labels = labels.masked_fill(~split.mask.to(torch.bool), IGNORED)
    return labels.to(device=device)


class MultilabelObjective(Objective):
    """The masked binary cross-entropy of one logit per label, against :func:`device_targets`
    (``n_classes``: the number of labels)."""

    @property
    def binary(self) -> bool:
        return False

    @property
    def name(self) -> str:
        """train.json's ``loss``."""
        return "masked binary cross-entropy"

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean loss over the batch's kept entries (0 without any)."""
        kept = labels >= 0
        return self.criterion(logits.reshape(labels.shape), labels.clamp(min=0), kept)

    def correct(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Kept entries whose call (logit > 0) equals the target (0-d int64 on the device)."""
        called = (logits.reshape(labels.shape) > 0).to(torch.int64)
        return ((called == labels) & (labels >= 0)).sum()

    def entries(self, labels: torch.Tensor) -> torch.Tensor:
        """The kept entries of a batch (the accuracy's denominator)."""
        return (labels >= 0).sum()


def multilabel_objective(
    train: CachedSplit, class_weights: str | None, label_smoothing: float, device: torch.device
) -> MultilabelObjective:
    """The objective of a multi-label run; ValueError for label smoothing."""
    if label_smoothing:
        raise ValueError(
            f"training.label_smoothing: {label_smoothing} is not defined for a multi-label study "
            "(several findings per image, one sigmoid each); set it to 0"
        )
    criterion = make_multilabel_loss(train.labels, train.mask, class_weights, device)
    return MultilabelObjective(len(train.class_names), criterion, 0.0)


def training_objective(
    data: TrainingData, settings: TrainingSettings, device: torch.device
) -> Objective:
    """What a run minimises: :func:`multilabel_objective` for a multi-label cache, else
    :func:`biomedclf.train.losses.make_objective`."""
    s = settings
    if data.train.multilabel:
        return multilabel_objective(data.train, s.class_weights, s.label_smoothing, device)
    return make_objective(
        data.n_classes, data.train.labels, s.class_weights, s.label_smoothing, device
    )


def label_probabilities(logits: torch.Tensor, n_labels: int) -> torch.Tensor:
    """``N x L`` probabilities: the sigmoid of each label's logit."""
    return torch.sigmoid(logits.float().reshape(-1, n_labels))


def split_thresholds(
    labels: Sequence[Sequence[int]], probabilities: Sequence[Sequence[float]], mask: np.ndarray
) -> list[float]:
    """Per-label thresholds (:func:`~biomedclf.train.threshold.choose_thresholds`) of the
    validation split's scores, as plain floats."""
    return [float(t) for t in choose_thresholds(np.asarray(labels), probabilities, mask)]


def check_multilabel_splits(where: str, train: CachedSplit, others: list[CachedSplit]) -> None:
    """Raise ``ValueError`` naming ``where`` unless every split is multi-label with the train
    split's labels: one column per label name, 0/1 entries."""
    n_labels = len(train.class_names)
    for split in (train, *others):
        shape_ok = split.multilabel and int(split.labels.shape[1]) == n_labels
        if (
            not shape_ok
            or split.class_names != train.class_names
            or (len(split) and not bool(((split.labels == 0) | (split.labels == 1)).all()))
        ):
            raise ValueError(
                f"{where}: the splits' label lists or multi-label labels disagree (labels "
                f"{train.class_names}, 0/1 in one column each); delete the cache and rerun "
                "prepare"
            )
