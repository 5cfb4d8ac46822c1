"""Every preset in configs/ runs end to end on small generated data of the preset's shape.

A preset that cannot finish must not ship. Each preset runs as written (its source kind, image
size, channels, resize mode, split layout, variants and comparisons) with a second config file
that points it at generated data and shrinks what only costs time: a few dozen images, two
epochs, two seeds (one with cross-validation; the pretrained backbones of transfer.yaml at
32 px, one epoch, one seed, from a weights cache the test fills), 200 bootstrap resamples.
The study must end with its summary and report. Marker ``presets``: CI runs them apart from
the README's test command (``pytest -m presets``); about ten minutes on two cores.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from repo_copy import ROOT, copy_repo
from workflow_helpers import snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.presets]

#: What every preset run changes besides its data: time only.
SHRINK = {
    "training": {"epochs": 2, "seeds": [0, 1]},
    "statistics": {"n_bootstrap": 200},
    "resources": {"train_threads": 1, "prepare_threads": 2},
}


def _image(rng: np.random.Generator, cls: int, height: int, width: int) -> np.ndarray:
    """A grey radiograph-like uint8 image: noise, a smooth gradient and, for class 1, a
    bright blob (so training has something to learn)."""
    yy, xx = np.mgrid[:height, :width] / max(height, width)
    img = 80 + 60 * yy + rng.normal(0, 15, (height, width))
    if cls:
        cy, cx = rng.uniform(0.3, 0.7, 2)
        img += 90 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.02)
    return np.clip(img, 0, 255).astype(np.uint8)


def chest_xray_folders(root: Path) -> dict:
    """The chest X-ray pneumonia layout: ``{train,val,test}/{NORMAL,PNEUMONIA}/personN_*.jpeg``,
    non-square JPEGs of several sizes, a validation folder too small to use."""
    rng = np.random.default_rng(0)
    counts = {"train": 16, "val": 2, "test": 6}
    person = 0
    for split, n in counts.items():
        for cls, name in enumerate(("NORMAL", "PNEUMONIA")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                person += 1
                height, width = rng.integers(280, 360), rng.integers(300, 420)
                pixels = _image(rng, cls, int(height), int(width))
                Image.fromarray(pixels).save(folder / f"person{person}_virus_{i}.jpeg")
    return {"data": {"path": str(root)}}


def transfer_study(root: Path) -> dict:
    """The chest X-ray layout, ImageNet weights in a weights cache of its own (seeded stand-ins
    where torchvision looks for them, test_backbones.write_weights: nothing is downloaded),
    and what only costs time shrunk further: 32 px (DenseNet-121's smallest is 29), one
    epoch, one seed."""
    from test_backbones import write_weights

    override = chest_xray_folders(root / "chest_xray")
    config = yaml.safe_load((ROOT / "configs" / "transfer.yaml").read_text())
    models = {v["model"] for v in config["variants"].values() if v.get("pretrained")}
    for model in sorted(models):
        write_weights(model, root / "weights")
    override["data"]["image_size"] = 32
    return {**override, "weights_cache": str(root / "weights"), "training": {"epochs": 1}}


def medmnist_file(root: Path) -> dict:
    """A PneumoniaMNIST-format ``.npz`` at 64 px (its own train, val and test splits)."""
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in {"train": 40, "val": 12, "test": 16}.items():
        labels = np.arange(n) % 2
        arrays[f"{split}_images"] = np.stack([_image(rng, int(y), 64, 64) for y in labels])
        arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8)
    root.mkdir(parents=True)
    path = root / "pneumoniamnist_64.npz"
    np.savez(path, **arrays)
    return {"data": {"path": str(path)}}


def class_folders(root: Path) -> dict:
    """Two class folders of square-ish PNGs for a ``folder`` source."""
    rng = np.random.default_rng(2)
    for cls, name in enumerate(("normal", "abnormal")):
        (root / name).mkdir(parents=True)
        for i in range(24):
            pixels = _image(rng, cls, 140, 150)
            Image.fromarray(pixels).save(root / name / f"patient{i:02d}_{cls}.png")
    return {"data": {"path": str(root)}}


def chest14_layout(root: Path) -> dict:
    """The NIH ChestX-ray14 layout: ``images/``, ``Data_Entry_2017.csv`` (``Image Index``,
    ``Finding Labels`` joined by ``|`` or ``No Finding``, ``Patient ID``) and the official
    split lists; the ImageNet DenseNet-121 from a weights cache the test fills, at 32 px."""
    from test_backbones import write_weights

    rng = np.random.default_rng(3)
    config = yaml.safe_load((ROOT / "configs" / "chest14.yaml").read_text())
    folder = root / Path(config["data"]["path"]).parent
    (folder / "images").mkdir(parents=True)
    findings = ["Atelectasis", "Effusion", "Infiltration"]
    rows, lists = ["Image Index,Finding Labels,Patient ID"], {"train": [], "test": []}
    for patient in range(36):
        for k in range(2):
            name = f"{patient:08d}_{k:03d}.png"
            found = [f for f in findings if rng.random() < 0.4]
            Image.fromarray(_image(rng, int(bool(found)), 48, 48)).save(folder / "images" / name)
            rows.append(f"{name},{'|'.join(found) or 'No Finding'},{patient}")
            lists["test" if patient % 4 == 0 else "train"].append(name)
    (folder / "Data_Entry_2017.csv").write_text("\n".join(rows) + "\n")
    for split, file in config["data"]["manifest"]["split_files"].items():
        (folder / file).write_text("\n".join(lists[split]) + "\n")
    for variant in config["variants"].values():
        if variant.get("pretrained"):
            write_weights(variant["model"], root / "weights")
    return {
        "data": {"path": str(folder / "Data_Entry_2017.csv"), "image_size": 32, "shards": 2},
        "weights_cache": str(root / "weights"),
        "training": {"epochs": 1},
    }


def fewer_synthetic(n_per_class: int) -> Callable[[Path], dict]:
    """The embedded generator with fewer images per class."""
    return lambda root: {"data": {"synthetic": {"n_per_class": n_per_class}}}


#: Each preset's data, generated under a folder; returns what to override in the config.
PRESETS: dict[str, Callable[[Path], dict]] = {
    "chest14.yaml": chest14_layout,
    "chest_xray.yaml": chest_xray_folders,
    "cv.yaml": fewer_synthetic(30),
    "medmnist.yaml": medmnist_file,
    "multiclass.yaml": fewer_synthetic(20),
    "multilabel.yaml": fewer_synthetic(40),
    "regularisation.yaml": fewer_synthetic(30),
    "smoke.yaml": fewer_synthetic(40),
    "template.yaml": class_folders,
    "transfer.yaml": transfer_study,
}

#: Seeds of a preset run, where two would cost too much (k folds x variants x seeds jobs).
SEEDS = {"chest14.yaml": [0], "cv.yaml": [0], "transfer.yaml": [0]}


def test_every_preset_has_generated_data() -> None:
    assert sorted(p.name for p in (ROOT / "configs").glob("*.yaml")) == sorted(PRESETS)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_runs_end_to_end(preset: str, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    override = _merge(SHRINK, PRESETS[preset](tmp_path / "data"))
    if preset in SEEDS:
        override["training"]["seeds"] = SEEDS[preset]
    (repo / "preset_test.yaml").write_text(yaml.safe_dump(override))
    config = yaml.safe_load((repo / "configs" / preset).read_text())
    files = ["--configfile", f"configs/{preset}", "preset_test.yaml"]
    snakemake(repo, "--cores", "2", *files, timeout=1500)
    study = repo / "results" / config["name"]
    summary = (study / "summary.md").read_text()
    assert summary.startswith("# ") and "## " in summary
    report = study / "report.html"
    snakemake(repo, "--report", str(report.relative_to(repo)), *files)
    assert report.stat().st_size > 10_000
