"""source_classes: the cheap class list the workflow checks before it plans a run.

It must give exactly the class list prepare_dataset writes, for every source, without opening
an image or importing torch, and refuse bad configs naming the key at fault.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from config_helpers import data_config, data_files
from PIL import Image

from biomedclf.data.classes import source_classes
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.synthetic import GROUP_PATTERN, SYNTHETIC_CLASSES, generate_synthetic


def _png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (10, 10), np.uint8)).save(path)


def _folder(root: Path, classes: list[str], n: int = 8, split: str | None = None) -> Path:
    for k, cls in enumerate(classes):
        for i in range(n):
            seed = 1000 * [None, "train", "val", "test"].index(split) + 50 * k + i
            _png(root / (split or "") / cls / f"{i}.png", seed)
    return root


def _npz(path: Path, k: int) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in {"train": 6 * k, "val": 3 * k, "test": 3 * k}.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 10, 10), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % k).reshape(n, 1)
    np.savez(path, **arrays)
    return path


def _manifest(base: Path, classes: list[str], n: int = 8) -> Path:
    rows = ["path,label"]
    for k, cls in enumerate(classes):
        for i in range(n):
            _png(base / f"{cls}_{i}.png", 1000 * k + i)
            rows.append(f"{cls}_{i}.png,{cls}")
    (base / "m.csv").write_text("\n".join(rows) + "\n")
    return base / "m.csv"


def _cfg(path: Path, source: str = "folder", **extra: object) -> dict:
    return data_config(source=source, path=str(path), image_size=8, **extra)


def _synthetic(**extra: object) -> dict:
    """The study's own data: section with the (default) synthetic source."""
    return data_config(**extra)


@pytest.mark.parametrize("k", [3, 5])
def test_every_source(tmp_path: Path, k: int) -> None:
    names = ["virus", "normal", "bacteria", "fungus", "covid"][:k]
    assert source_classes(_cfg(_folder(tmp_path / "f", names))) == sorted(names)
    pre = tmp_path / "p"
    _folder(pre, names, split="train")
    _folder(pre, names[:2], split="test")  # a class missing from one split is still a class
    assert source_classes(_cfg(pre)) == sorted(names)
    csv_path = _manifest(tmp_path / "m", names)
    assert source_classes(_cfg(csv_path, "manifest")) == sorted(names)
    assert source_classes(_cfg(_npz(tmp_path / "x.npz", k), "medmnist")) == [
        str(v) for v in range(k)
    ]
    organs = source_classes(_cfg(_npz(tmp_path / "organamnist_128.npz", k), "medmnist"))
    assert organs == ["bladder", "femur_left", "femur_right", "heart", "kidney_left"][:k]
    synthetic = source_classes(_synthetic(synthetic={"n_classes": k}))
    assert synthetic == sorted(SYNTHETIC_CLASSES[:k])


def test_synthetic_config_needs_no_disk_and_defaults_to_two_classes() -> None:
    assert source_classes(_synthetic()) == ["normal", "opacity"]
    cfg = _synthetic(synthetic={"n_classes": 4}, classes=["opacity", "normal"])
    assert source_classes(cfg) == ["opacity", "normal"]
    with pytest.raises(ValueError, match="data.positive_class.*4 classes"):
        source_classes({**cfg, "classes": None, "positive_class": "opacity"})


def test_order_subset_and_positive_class(tmp_path: Path) -> None:
    root = _folder(tmp_path / "d", ["a", "b", "c"])
    assert source_classes(_cfg(root, classes=["c", "a", "b"])) == ["c", "a", "b"]
    assert source_classes(_cfg(root, classes=["c", "a"])) == ["c", "a"]  # a is positive
    assert source_classes(_cfg(root, classes=["c", "a"], positive_class="c")) == ["a", "c"]
    two = _folder(tmp_path / "two", ["abnormal", "normal"])
    assert source_classes(_cfg(two)) == ["abnormal", "normal"]
    assert source_classes(_cfg(two, positive_class="abnormal")) == ["normal", "abnormal"]


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        ("no_path", ["data.path", "not set"]),
        ("missing", ["data.path", "does not exist"]),
        ("no_class_folders", ["data.path", "no class subfolders"]),
        ("one_class", ["data.path", "only one class", "'normal'"]),
        ("absent", ["data.classes", "'covid'", "found are a, b, c"]),
        ("positive_k3", ["data.positive_class", "'a'", "3 classes", "a, b, c"]),
        ("positive_absent", ["data.positive_class", "'z'", "a, b"]),
        ("manifest_one_label", ["data.path", "column label", "only one class"]),
        ("npz_missing", ["data.path", "does not exist", "zenodo"]),
    ],
)
def test_errors_name_the_key(tmp_path: Path, case: str, needles: list[str]) -> None:
    root = _folder(tmp_path / "d", ["a", "b", "c"], n=1)
    (tmp_path / "flat").mkdir()
    _png(tmp_path / "flat" / "x.png", 0)
    _folder(tmp_path / "one", ["normal"], n=1)
    (tmp_path / "m.csv").write_text("path,label\na.png,x\nb.png,x\n")
    cfg = {
        "no_path": data_config(source="folder", path=None),
        "missing": _cfg(tmp_path / "nope"),
        "no_class_folders": _cfg(tmp_path / "flat"),
        "one_class": _cfg(tmp_path / "one"),
        "absent": _cfg(root, classes=["a", "covid"]),
        "positive_k3": _cfg(root, positive_class="a"),
        "positive_absent": _cfg(root, classes=["a", "b"], positive_class="z"),
        "manifest_one_label": _cfg(tmp_path / "m.csv", "manifest"),
        "npz_missing": _cfg(tmp_path / "pathmnist.npz", "medmnist"),
    }[case]
    with pytest.raises(ValueError) as info:
        source_classes(cfg)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


def test_missing_path_is_also_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        source_classes(_cfg(tmp_path / "nope"))


def test_cheap_no_torch_no_pillow_no_image_opened(tmp_path: Path) -> None:
    """Class folders of broken files: listed by name only; torch and Pillow stay unloaded."""
    root = tmp_path / "d"
    for cls in ("b", "a", "c"):
        (root / cls).mkdir(parents=True)
        for i in range(300):
            (root / cls / f"{i}.png").write_bytes(b"not a png")
    npz = _npz(tmp_path / "bloodmnist.npz", 8)
    cfgs = [_cfg(root), _cfg(npz, "medmnist"), _synthetic(synthetic={"n_classes": 3})]
    code = (
        "import json, sys\n"
        "from biomedclf.data.classes import source_classes\n"
        "out = [source_classes(cfg) for cfg in json.loads(sys.argv[1])]\n"
        "print(json.dumps([out, [m for m in ('torch', 'PIL', 'sklearn', 'scipy')"
        " if m in sys.modules]]))\n"
    )
    args = [sys.executable, "-c", code, json.dumps(cfgs)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    classes, heavy = json.loads(result.stdout)
    assert classes[0] == ["a", "b", "c"]
    assert classes[1][0] == "basophil" and len(classes[1]) == 8
    assert classes[2] == ["effusion", "normal", "opacity"]
    assert heavy == []


def _agreement_cases(tmp: Path) -> list[dict]:
    folder = _folder(tmp / "f", ["virus", "normal", "bacteria", "fungus"])
    two = _folder(tmp / "two", ["pneumonia", "normal"])
    pre = _folder(tmp / "p", ["x", "y", "z"], split="train")
    _folder(pre, ["x", "y", "z"], n=3, split="test")
    generate_synthetic(tmp / "syn", 16, 16, 0.5, seed=1, n_classes=5)
    return [
        _cfg(folder),
        _cfg(folder, classes=["normal", "virus", "fungus"]),
        _cfg(folder, classes=["virus", "bacteria"]),
        _cfg(folder, classes=["virus", "bacteria"], positive_class="virus"),
        _cfg(two),
        _cfg(two, positive_class="normal"),
        _cfg(pre, split={"min_val": 1}),
        _cfg(_manifest(tmp / "m", ["tumour", "healthy", "cyst"]), "manifest"),
        _cfg(_npz(tmp / "octmnist.npz", 4), "medmnist", split={"min_val": 1}),
        _cfg(
            _npz(tmp / "octmnist.npz", 4),
            "medmnist",
            classes=["normal", "drusen"],
            split={"min_val": 1},
        ),
        _cfg(tmp / "syn", split={"group_pattern": GROUP_PATTERN}),
    ]


def test_agrees_with_prepare_dataset(tmp_path: Path) -> None:
    for i, cfg in enumerate(_agreement_cases(tmp_path / "in")):
        summary = prepare_dataset(cfg, data_files(tmp_path / f"out{i}"))
        assert source_classes(cfg) == summary["class_names"], cfg
        assert summary["n_classes"] == len(summary["class_names"])
    planned = _synthetic(synthetic={"n_classes": 5})
    assert source_classes(planned) == summary["class_names"]  # the synthetic set, as planned
