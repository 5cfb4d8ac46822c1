"""The synthetic generator: real files, deterministic, and a signal that is local, not global."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import data_config, data_files
from torch import nn

from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.synthetic import (
    CLASS_NAMES,
    GROUP_PATTERN,
    SYNTHETIC_CLASSES,
    generate_synthetic,
    make_images,
    synthetic_class_names,
)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_writes_class_folder_tree_of_pngs(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    generate_synthetic(out, n_per_class=10, image_size=24, difficulty=0.5, seed=0, n_classes=2)
    assert sorted(p.name for p in out.iterdir()) == list(CLASS_NAMES)
    pattern = re.compile(GROUP_PATTERN)
    patients: dict[str, set[str]] = {}
    for cls in CLASS_NAMES:
        files = sorted((out / cls).iterdir())
        assert len(files) == 10
        for f in files:
            assert re.fullmatch(r"patient\d{4}_image\d\.png", f.name)
            m = pattern.search(f.name)
            assert m is not None
            patients.setdefault(m.group(1), set()).add(cls)
    assert all(len(c) == 1 for c in patients.values()), "a patient belongs to one class"
    assert len(patients) < 20, "some patients have several images"
    # No temporary folders left beside it.
    assert [p.name for p in tmp_path.iterdir()] == ["syn"]


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    generate_synthetic(tmp_path / "a", 12, 20, 0.5, seed=7, n_classes=2)
    generate_synthetic(tmp_path / "b", 12, 20, 0.5, seed=7, n_classes=2)
    generate_synthetic(tmp_path / "c", 12, 20, 0.5, seed=8, n_classes=2)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")


def test_replaces_own_output_but_not_other_folders(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    generate_synthetic(out, 8, 16, 0.5, seed=0, n_classes=2)
    generate_synthetic(out, 5, 16, 0.5, seed=0, n_classes=2)  # fewer images: no stale files remain
    assert sum(1 for _ in out.rglob("*.png")) == 10
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.txt").write_text("precious")
    with pytest.raises(ValueError, match="refusing to replace"):
        generate_synthetic(other, 5, 16, 0.5, seed=0, n_classes=2)
    assert (other / "thesis.txt").read_text() == "precious"


def test_prepare_ingests_it_as_a_folder(tmp_path: Path) -> None:
    generate_synthetic(tmp_path / "syn", 12, 16, 0.5, seed=1, n_classes=2)
    cfg = data_config(
        source="folder",
        path=str(tmp_path / "syn"),
        image_size=16,
        split={"group_pattern": GROUP_PATTERN},
    )
    summary = prepare_dataset(cfg, data_files(tmp_path / "out"))
    assert summary["class_names"] == ["normal", "opacity"]
    assert summary["positive_class"] == "opacity"
    assert summary["n_images"] == 24 and summary["rejected"] == 0
    assert summary["groups"]["user_groups"] == summary["groups"]["split_groups"]


def test_difficulty_changes_the_images() -> None:
    easy, cls, _ = make_images(20, 32, 0.0, seed=0, n_classes=2)
    hard, cls2, _ = make_images(20, 32, 1.0, seed=0, n_classes=2)
    assert np.array_equal(cls, cls2)
    assert not np.array_equal(easy, hard)


def _mean_std_features(images: np.ndarray) -> np.ndarray:
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return np.stack([x.mean(1), x.std(1)], axis=1)


def test_global_brightness_does_not_separate_classes() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    images, classes, _ = make_images(200, 32, 0.5, seed=0, n_classes=2)
    feats = _mean_std_features(images)
    acc = cross_val_score(LogisticRegression(), feats, classes, cv=5).mean()
    assert acc < 0.6, f"mean/std alone reach {acc:.2f}"


@pytest.fixture
def one_thread():
    """Tiny models run fastest, and least disturbed by other jobs, on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_cnn_accuracy(n_per_class: int, n_test: int, n_classes: int) -> float:
    """Held-out accuracy of a tiny CNN trained 12 epochs on generated 32 px images: one logit
    and BCE for two classes, K logits and cross-entropy for more (seeded, one thread)."""
    torch.manual_seed(0)
    train_x, train_y, _ = make_images(n_per_class, 32, 0.5, seed=1, n_classes=n_classes)
    test_x, test_y, _ = make_images(n_test, 32, 0.5, seed=2, n_classes=n_classes)
    binary = n_classes == 2

    def tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.from_numpy(x).float().unsqueeze(1) / 255.0
        y = torch.from_numpy(y)
        return (t - 0.5) / 0.2, y.float() if binary else y.long()

    xt, yt = tensors(train_x, train_y)
    xv, yv = tensors(test_x, test_y)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 1 if binary else n_classes),
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(12):
        for idx in torch.randperm(len(xt), generator=gen).split(32):
            opt.zero_grad()
            out = model(xt[idx])
            if binary:
                nn.functional.binary_cross_entropy_with_logits(out.squeeze(1), yt[idx]).backward()
            else:
                nn.functional.cross_entropy(out, yt[idx]).backward()
            opt.step()
    with torch.no_grad():
        out = model(xv)
        called = (out.squeeze(1) > 0).float() if binary else out.argmax(1)
        return (called == yv).float().mean().item()


def test_a_tiny_cnn_learns_the_local_signal(one_thread: None) -> None:
    acc = tiny_cnn_accuracy(200, 100, 2)
    train_x, train_y, _ = make_images(200, 32, 0.5, seed=1, n_classes=2)
    test_x, test_y, _ = make_images(100, 32, 0.5, seed=2, n_classes=2)
    # Global statistics on the same images stay near chance.
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(_mean_std_features(train_x), train_y)
    baseline = lr.score(_mean_std_features(test_x), test_y)
    # About 0.74-0.79 over torch seeds; the bar leaves room for other CPUs' rounding.
    assert acc > 0.65, f"tiny CNN reaches only {acc:.2f} on held-out synthetic images"
    assert acc > baseline + 0.1, f"tiny CNN {acc:.2f} vs mean/std regression {baseline:.2f}"


# -- more than two classes --------------------------------------------------------------------


def test_n_classes_writes_one_folder_per_class(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    generate_synthetic(out, n_per_class=6, image_size=16, difficulty=0.5, seed=0, n_classes=4)
    assert sorted(p.name for p in out.iterdir()) == sorted(SYNTHETIC_CLASSES[:4])
    assert SYNTHETIC_CLASSES[:4] == ("normal", "opacity", "effusion", "cavity")
    patients: dict[str, set[str]] = {}
    for cls in SYNTHETIC_CLASSES[:4]:
        files = sorted((out / cls).iterdir())
        assert len(files) == 6
        for f in files:
            patients.setdefault(f.name.split("_")[0], set()).add(cls)
    assert all(len(c) == 1 for c in patients.values()), "a patient belongs to one class"
    # A set with another number of classes replaces it (it is recognised as synthetic).
    generate_synthetic(out, n_per_class=5, image_size=16, difficulty=0.5, seed=0, n_classes=2)
    assert sorted(p.name for p in out.iterdir()) == ["normal", "opacity"]
    assert (
        synthetic_class_names(12) == list(SYNTHETIC_CLASSES) and len(set(SYNTHETIC_CLASSES)) == 12
    )


@pytest.mark.parametrize("bad", [1, 13, 2.5])
def test_n_classes_out_of_range(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ValueError, match="data.synthetic.n_classes"):
        generate_synthetic(tmp_path / "s", 4, 16, 0.5, seed=0, n_classes=bad)  # type: ignore
    assert not (tmp_path / "s").exists()


def test_k_classes_are_balanced_deterministic_and_distinct() -> None:
    images, classes, patients = make_images(20, 24, 0.5, seed=4, n_classes=12)
    assert np.bincount(classes).tolist() == [20] * 12
    again = make_images(20, 24, 0.5, seed=4, n_classes=12)
    assert all(np.array_equal(a, b) for a, b in zip((images, classes, patients), again))
    # The first two classes are drawn as in the two-class set; the others add their lesion.
    means = np.stack([images[classes == k].astype(np.float64).mean(0) for k in range(12)])
    for k in range(1, 12):
        assert np.abs(means[k] - means[0]).max() > 3, SYNTHETIC_CLASSES[k]


def test_global_brightness_does_not_separate_k_classes() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    images, classes, _ = make_images(100, 32, 0.5, seed=0, n_classes=4)
    acc = cross_val_score(LogisticRegression(), _mean_std_features(images), classes, cv=5).mean()
    assert acc < 0.4, f"mean/std alone reach {acc:.2f} (chance 0.25)"


def test_a_tiny_cnn_learns_four_classes(one_thread: None) -> None:
    acc = tiny_cnn_accuracy(100, 50, 4)
    assert acc > 0.5, f"tiny CNN reaches only {acc:.2f} on 4 held-out classes (chance 0.25)"
