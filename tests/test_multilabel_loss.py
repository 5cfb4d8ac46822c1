"""The masked multi-label loss against torch's binary cross-entropy on the kept entries."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from biomedclf.train.losses import MaskedBCEWithLogits, make_multilabel_loss, multilabel_pos_weight


def batch(seed: int = 0, n: int = 40, labels: int = 5) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, labels, generator=g) * 3
    targets = (torch.rand(n, labels, generator=g) < 0.3).float()
    mask = torch.rand(n, labels, generator=g) > 0.25
    return logits, targets, mask


def test_mean_over_kept_entries_equals_torch_on_kept_only() -> None:
    logits, targets, mask = batch()
    got = MaskedBCEWithLogits()(logits, targets, mask)
    want = F.binary_cross_entropy_with_logits(logits[mask], targets[mask])
    assert torch.allclose(got, want, rtol=1e-6)


def test_without_mask_it_is_bce_with_logits() -> None:
    logits, targets, _ = batch(1)
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5])
    got = MaskedBCEWithLogits(pw)(logits, targets)
    want = torch.nn.BCEWithLogitsLoss(pos_weight=pw)(logits, targets)
    assert torch.allclose(got, want, rtol=1e-6)


def test_pos_weight_per_label_on_kept_entries() -> None:
    logits, targets, mask = batch(2)
    pw = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5])
    got = MaskedBCEWithLogits(pw)(logits, targets, mask)
    want = F.binary_cross_entropy_with_logits(
        logits[mask], targets[mask], pos_weight=pw.expand_as(logits)[mask]
    )
    assert torch.allclose(got, want, rtol=1e-6)


def test_ignored_entries_get_no_gradient_whatever_their_target() -> None:
    logits, targets, mask = batch(3)
    targets = targets.clone()
    targets[~mask] = float("nan")  # e.g. an unknown label stored as NaN
    logits.requires_grad_(True)
    loss = MaskedBCEWithLogits()(logits, targets, mask)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(logits.grad[~mask] == 0)
    assert torch.all(logits.grad[mask] != 0)


def test_batch_without_kept_entries_is_zero_and_shapes_are_checked() -> None:
    logits, targets, mask = batch(4)
    assert MaskedBCEWithLogits()(logits, targets, torch.zeros_like(mask)).item() == 0.0
    with pytest.raises(ValueError, match="one logit per label"):
        MaskedBCEWithLogits()(logits[:, :3], targets, mask)


def test_balanced_pos_weight_is_negatives_over_positives_of_kept() -> None:
    targets = torch.tensor([[1, 0], [0, 0], [0, 1], [1, 0], [0, 1]], dtype=torch.float32)
    mask = torch.tensor([[1, 1], [1, 0], [1, 1], [0, 1], [1, 1]], dtype=torch.bool)
    # label 0 kept: 1, 0, 0, 0 -> 3 / 1; label 1 kept: 0, 1, 0, 1 -> 2 / 2
    assert multilabel_pos_weight(targets, mask).tolist() == [3.0, 1.0]
    assert multilabel_pos_weight(targets).tolist() == [1.5, 1.5]
    loss = make_multilabel_loss(targets, mask, "balanced", torch.device("cpu"))
    assert loss.pos_weight.tolist() == [3.0, 1.0]
    assert make_multilabel_loss(targets, mask, None, torch.device("cpu")).pos_weight is None


def test_balanced_needs_both_values_of_each_label() -> None:
    targets = torch.tensor([[1, 0], [0, 0]], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"label column\(s\) \[1\] have \[0\] positive"):
        multilabel_pos_weight(targets)


def test_pos_weight_moves_with_the_module() -> None:
    loss = MaskedBCEWithLogits(torch.tensor([2.0]))
    assert "pos_weight" in dict(loss.named_buffers())
    assert loss.to(torch.float64).pos_weight.dtype == torch.float64
