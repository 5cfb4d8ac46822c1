"""The synthetic multi-label set, and a known answer through the multi-label library core: a
logistic model trained with the masked loss finds the drawn findings (AUROC near 1) and not
the noise label (AUROC near 0.5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biomedclf.data.multilabel_split import assign_multilabel_splits
from biomedclf.data.synthetic_multilabel import (
    FINDINGS,
    NOISE_LABEL,
    make_multilabel_images,
)
from biomedclf.evaluate.multilabel import choose_thresholds, multilabel_metrics
from biomedclf.train.losses import make_multilabel_loss

#: The generator's settings the tests share (n_findings given per test).
SETTINGS = {"image_size": 32, "prevalence": 0.3, "difficulty": 0.3, "seed": 0}
SMALL = {"image_size": 16, "n_findings": 4, "prevalence": 0.4, "difficulty": 0.3}


def test_shapes_names_and_determinism() -> None:
    s = make_multilabel_images(50, **{**SMALL, "seed": 3})
    assert s.images.shape == (50, 16, 16) and s.images.dtype == np.uint8
    assert s.labels.shape == (50, 5) and s.labels.dtype == np.int8
    assert set(np.unique(s.labels).tolist()) == {0, 1}
    assert s.names == (*FINDINGS[:4], NOISE_LABEL)
    assert s.patients.shape == (50,) and all(p.startswith("patient") for p in s.patients)
    assert 1 < len(set(s.patients)) < 50  # several images per patient
    again = make_multilabel_images(50, **{**SMALL, "seed": 3})
    assert np.array_equal(s.images, again.images) and np.array_equal(s.labels, again.labels)
    other = make_multilabel_images(50, **{**SMALL, "seed": 4})
    assert not np.array_equal(s.images, other.images)


def test_each_finding_brightens_its_own_place() -> None:
    """Mean image of the images with a finding minus those without: its largest difference
    lies where the finding is drawn, a different place for each finding."""
    s = make_multilabel_images(600, **SETTINGS, n_findings=5)
    x = s.images.astype(np.float64)
    peaks = []
    for j in range(5):
        diff = x[s.labels[:, j] == 1].mean(0) - x[s.labels[:, j] == 0].mean(0)
        peaks.append(np.unravel_index(np.argmax(np.abs(diff)), diff.shape))
    assert len(set(peaks)) == 5
    # nodule upper left, effusion lower right, cardiomegaly lower left, streak upper right
    (ny, nx), (ey, ex), (cy, cx), (sy, sx) = peaks[:4]
    assert ny < 16 and nx < 16 and ey >= 16 and ex >= 16 and cy >= 16 and cx < 16
    assert sy < 16 and sx >= 16


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_images": 0}, "n_images"),
        ({"image_size": 4}, "image_size"),
        ({"n_findings": 6}, "n_findings: 6; use 1..5"),
        ({"prevalence": 1.0}, "prevalence"),
    ],
)
def test_bad_settings(kwargs: dict, match: str) -> None:
    args = {"n_images": 10, **SETTINGS, "n_findings": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_multilabel_images(**args)


def test_known_answer_visible_findings_near_one_noise_near_half() -> None:
    """600 images at 32 px, 10% of the label entries ignored; a patient-grouped stratified split,
    a logistic model on the 2 x 2-pooled pixels trained full-batch with the masked, balanced
    loss, thresholds chosen on validation, metrics on test. (Seeds 0-3 of the generator gave
    findings 0.977-1.0 and noise 0.458-0.558.)"""
    torch.manual_seed(0)
    s = make_multilabel_images(600, **SETTINGS, n_findings=3)
    mask = np.random.default_rng(1).random(s.labels.shape) > 0.1
    split = assign_multilabel_splits(s.labels, mask, s.patients, 0.15, 0.2, 0, s.names)
    images = torch.tensor(s.images, dtype=torch.float32)[:, None] / 255
    x = torch.nn.functional.avg_pool2d(images, 2).flatten(1)  # 16 x 16 features: fast
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)
    y, m = torch.tensor(s.labels, dtype=torch.float32), torch.tensor(mask)
    train = torch.tensor(split == "train")
    model = torch.nn.Linear(x.shape[1], len(s.names))
    loss_fn = make_multilabel_loss(y[train], m[train], "balanced", torch.device("cpu"))
    opt = torch.optim.Adam(model.parameters(), lr=0.03, weight_decay=1e-3)
    for _ in range(60):
        opt.zero_grad()
        loss_fn(model(x[train]), y[train], m[train]).backward()
        opt.step()
    with torch.no_grad():
        p = torch.sigmoid(model(x)).numpy()
    val, test = split == "val", split == "test"
    thresholds = choose_thresholds(s.labels[val], p[val], mask[val])
    result = multilabel_metrics(s.labels[test], p[test], thresholds, s.names, mask[test])
    auroc = {row["label"]: row["auroc"] for row in result["per_label"]}
    assert all(auroc[name] > 0.9 for name in FINDINGS[:3]), auroc
    assert auroc[NOISE_LABEL] == pytest.approx(0.5, abs=0.15), auroc
    assert result["mean_auroc"] == pytest.approx(np.mean(list(auroc.values())))
