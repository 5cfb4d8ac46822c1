"""Multi-label studies through the prepare step: NIH-style and CheXpert-style manifests, a
ChestMNIST-format .npz and the generated set, from the config to the cache, manifest and summary.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from config_helpers import data_config, data_files, study_config
from PIL import Image

from biomedclf.config.specs import ConfigError, check_task, data_spec, synthetic_spec
from biomedclf.data.cache import load_split
from biomedclf.data.classes import source_classes
from biomedclf.data.multilabel import LabelError
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.sources.medmnist_info import MULTI_LABEL_NAMES
from biomedclf.data.synthetic_multilabel import make_multilabel_images, synthesize

NIH_LABELS = [f"Finding{j:02d}" for j in range(14)]


def _png(path: Path, seed: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _nih(root: Path, n_patients: int = 60, seed: int = 0) -> list[dict[str, str]]:
    """An NIH ChestX-ray14-style folder: images/, Data_Entry_2017.csv and split lists."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for k in range(int(rng.integers(1, 4))):
            name = f"{p:08d}_{k:03d}.png"
            _png(root / "images" / name, seed=len(rows) + 1)
            found = [n for n in NIH_LABELS if rng.random() < 0.25]
            rows.append(
                {
                    "Image Index": name,
                    "Finding Labels": "|".join(found) or "No Finding",
                    "Patient ID": str(p),
                }
            )
    with (root / "Data_Entry_2017.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["Image Index", "Finding Labels", "Patient ID"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _nih_config(root: Path, **extra: object) -> dict:
    manifest = {
        "path_column": "Image Index",
        "label_column": "Finding Labels",
        "group_column": "Patient ID",
        "image_dir": "images",
        **extra,
    }
    cfg = data_config(
        source="manifest",
        path=str(root / "Data_Entry_2017.csv"),
        task="multilabel",
        image_size=8,
        manifest=manifest,
    )
    return cfg


def test_nih_manifest_with_official_split_files(tmp_path: Path) -> None:
    root = tmp_path / "nih"
    rows = _nih(root)
    patients = sorted({r["Patient ID"] for r in rows}, key=int)
    test_patients = set(patients[::4])
    test_names = [r["Image Index"] for r in rows if r["Patient ID"] in test_patients]
    rest = [r["Image Index"] for r in rows if r["Patient ID"] not in test_patients]
    (root / "test_list.txt").write_text("\n".join(test_names) + "\n")
    (root / "train_val_list.txt").write_text("\n".join(rest[1:]) + "\n")  # one row in neither
    cfg = _nih_config(root, split_files={"train": "train_val_list.txt", "test": "test_list.txt"})
    assert source_classes(cfg) == NIH_LABELS  # every finding found, sorted; No Finding aside
    files = data_files(tmp_path / "out")
    summary = prepare_dataset(cfg, files)

    manifest = _read_csv(files["manifest"])
    rejected = _read_csv(files["rejected"])
    assert [r["path"] for r in rejected] == [rest[0]]
    assert rejected[0]["reason"].startswith("not in the split files")
    by_name = {r["Image Index"]: r for r in rows}
    assert {r["path"] for r in manifest if r["split"] == "test"} == set(test_names)
    split_of_patient: dict[str, set[str]] = {}
    for r in manifest:
        split_of_patient.setdefault(r["group"], set()).add(r["split"])
        found = set(by_name[r["path"]]["Finding Labels"].split("|")) - {"No Finding"}
        assert {n for n in NIH_LABELS if r[n] == "1"} == found
        assert all(r[n] in ("0", "1") for n in NIH_LABELS)  # no entry ignored
    assert all(len(s) == 1 for s in split_of_patient.values()), "a patient in two splits"
    assert {r["split"] for r in manifest} == {"train", "val", "test"}  # val carved from train

    for split in ("train", "val", "test"):
        kept = [r for r in manifest if r["split"] == split]
        for name in NIH_LABELS:
            positives = sum(r[name] == "1" for r in kept)
            assert summary["label_counts"][split][name]["positive"] == positives
            assert summary["label_counts"][split][name]["negative"] == len(kept) - positives
            want = positives / len(kept)
            assert summary["prevalence"][split][name] == pytest.approx(want)
        cached = load_split(files[split])
        assert cached.multilabel and cached.class_names == NIH_LABELS
        assert cached.paths == [r["path"] for r in kept]
        want_y = [[int(r[n]) for n in NIH_LABELS] for r in kept]
        assert cached.labels.tolist() == want_y and bool(cached.mask.all())
    assert summary["task"] == "multilabel" and summary["counts"]["test"]["images"] == len(
        test_names
    )
    assert any("train_val_list.txt" in n for n in summary["notes"])


def test_missing_split_files_are_noted_and_the_split_is_cut(tmp_path: Path) -> None:
    root = tmp_path / "nih"
    _nih(root, n_patients=40)
    cfg = _nih_config(root, split_files={"test": "test_list.txt"})
    summary = prepare_dataset(cfg, data_files(tmp_path / "out"))
    assert any("test_list.txt not found" in n for n in summary["notes"])
    assert summary["split"]["given"] is False and summary["counts"]["test"]["images"] > 0


CHEXPERT = """Path,Patient,Edema,Atelectasis,Pleural Effusion
{rows}"""


def _chexpert(root: Path, n: int = 90, seed: int = 1) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    cells = rng.choice(
        ["1", "0", "-1", "", "1.0", "0.0"], size=(n, 3), p=[0.3, 0.3, 0.1, 0.1, 0.1, 0.1]
    )
    lines = []
    for i in range(n):
        _png(root / f"p{i // 2}" / f"view{i}.png", seed=100 + i)
        lines.append(",".join([f"p{i // 2}/view{i}.png", f"p{i // 2}", *cells[i]]))
    (root / "train.csv").write_text(CHEXPERT.format(rows="\n".join(lines)) + "\n")
    return [list(c) for c in cells]


@pytest.mark.parametrize(("uncertain", "blank"), [("ignore", "ignore"), ("ones", "zeros")])
def test_chexpert_columns_with_uncertain_and_blank_entries(
    tmp_path: Path, uncertain: str, blank: str
) -> None:
    root = tmp_path / "chexpert"
    cells = _chexpert(root)
    names = ["Edema", "Atelectasis", "Pleural Effusion"]
    cfg = data_config(
        source="manifest",
        path=str(root / "train.csv"),
        task="multilabel",
        classes=names,
        image_size=8,
        manifest={"path_column": "Path", "label_column": None, "group_column": "Patient"},
        multilabel={"uncertain": uncertain, "blank": blank},
    )
    files = data_files(tmp_path / "out")
    summary = prepare_dataset(cfg, files)
    flat = [c for row in cells for c in row]
    totals = summary["label_counts"]["all"]
    assert sum(t["uncertain"] for t in totals.values()) == flat.count("-1")
    assert sum(t["unknown"] for t in totals.values()) == flat.count("")
    assert sum(t["positive"] for t in totals.values()) == flat.count("1") + flat.count("1.0")
    by_path = {f"p{i // 2}/view{i}.png": row for i, row in enumerate(cells)}
    becomes = {"ignore": "", "ones": "1", "zeros": "0"}
    for r in _read_csv(files["manifest"]):
        for name, cell in zip(names, by_path[r["path"]]):
            policy = {"-1": becomes[uncertain], "": becomes[blank]}
            want = policy[cell] if cell in policy else str(int(float(cell)))
            assert r[name] == want, (r["path"], name, cell)
    train = load_split(files["train"])
    rows = {r["path"]: r for r in _read_csv(files["manifest"])}
    want_mask = [[rows[p][n] != "" for n in names] for p in train.paths]
    assert train.mask.tolist() == want_mask
    assert not (train.labels.bool() & ~train.mask).any()  # ignored entries hold 0


def test_chexpert_bad_value_names_line_and_column(tmp_path: Path) -> None:
    root = tmp_path / "chexpert"
    _chexpert(root, n=6)
    text = (root / "train.csv").read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",maybe"
    (root / "train.csv").write_text("\n".join(text) + "\n")
    cfg = data_config(
        source="manifest",
        path=str(root / "train.csv"),
        task="multilabel",
        classes=["Edema", "Atelectasis", "Pleural Effusion"],
        manifest={"path_column": "Path", "label_column": None},
    )
    with pytest.raises(LabelError, match="line 4, column 'Pleural Effusion': 'maybe'"):
        prepare_dataset(cfg, data_files(tmp_path / "out"))


def test_chestmnist_npz_keeps_its_splits_and_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    arrays = {}
    for split, n in (("train", 60), ("val", 20), ("test", 20)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        arrays[f"{split}_labels"] = (rng.random((n, 14)) < 0.3).astype(np.uint8)
    npz = tmp_path / "chestmnist.npz"
    np.savez(npz, **arrays)
    cfg = data_config(
        source="medmnist", path=str(npz), task="multilabel", image_size=8, split={"min_val": 20}
    )
    assert source_classes(cfg) == MULTI_LABEL_NAMES["chestmnist"]
    files = data_files(tmp_path / "out")
    summary = prepare_dataset(cfg, files)
    assert summary["split"]["given"] and summary["layout"] == "medmnist"
    for split in ("train", "val", "test"):
        cached = load_split(files[split])
        index = [int(p.split("[")[1].rstrip("]")) for p in cached.paths]
        assert all(p.startswith(f"{split}_images[") for p in cached.paths)
        assert cached.labels.numpy().tolist() == arrays[f"{split}_labels"][index].tolist()
        assert cached.class_names == MULTI_LABEL_NAMES["chestmnist"]
    single = data_config(source="medmnist", path=str(npz), image_size=8)
    with pytest.raises(ValueError, match="data.task: multilabel"):
        source_classes(single)


def test_generated_set_runs_through_prepare_with_the_generator_labels(tmp_path: Path) -> None:
    cfg = study_config(
        data={"task": "multilabel", "image_size": 16, "synthetic": {"n_per_class": 40}}
    )
    synthesize(tmp_path / "syn", **synthetic_spec(cfg))
    data = data_spec(cfg, synthetic_root=str(tmp_path / "syn"))
    files = data_files(tmp_path / "out")
    summary = prepare_dataset(data, files)
    made = make_multilabel_images(
        80, image_size=16, n_findings=2, prevalence=0.3, difficulty=0.5, seed=0
    )
    assert summary["class_names"] == list(made.names) == source_classes(cfg["data"])
    assert summary["n_images"] == 80 and summary["rejected"] == 0
    rows = _read_csv(tmp_path / "syn" / "labels.csv")
    labels_of = {r["path"]: [int(r[n]) for n in made.names] for r in rows}
    assert [labels_of[r["path"]] for r in rows] == made.labels.tolist()
    for split in ("train", "val", "test"):
        cached = load_split(files[split])
        assert cached.labels.tolist() == [labels_of[p] for p in cached.paths]


def test_identical_pixels_with_other_findings_are_rejected(tmp_path: Path) -> None:
    root = tmp_path / "m"
    lines = ["path,labels,group"]
    for i in range(40):
        _png(root / f"{i}.png", seed=i)
        lines.append(f"{i}.png,{['a', 'b', 'a|b', 'none'][i % 4]},g{i // 2}")
    _png(root / "copy.png", seed=0)  # the pixels of 0.png (finding a), labelled b
    lines.append("copy.png,b,gx")
    (root / "m.csv").write_text("\n".join(lines) + "\n")
    cfg = data_config(
        source="manifest",
        path=str(root / "m.csv"),
        task="multilabel",
        image_size=8,
        manifest={"label_column": "labels"},
        multilabel={"no_finding": "none"},
    )
    files = data_files(tmp_path / "out")
    summary = prepare_dataset(cfg, files)
    rejected = {r["path"]: r["reason"] for r in _read_csv(files["rejected"])}
    assert set(rejected) == {"0.png", "copy.png"}
    assert all(r.startswith("duplicate with conflicting label") for r in rejected.values())
    assert summary["n_images"] == 39 and summary["class_names"] == ["a", "b"]


@pytest.mark.parametrize(
    ("data", "training", "needle"),
    [
        ({"source": "folder", "path": "x"}, {}, "data.source: folder holds one class"),
        ({"positive_class": "a"}, {}, "data.positive_class: single-label only"),
        ({"ordinal": True}, {}, "data.ordinal: single-label only"),
        ({}, {"label_smoothing": 0.1}, "training.label_smoothing (variant"),
    ],
)
def test_settings_a_multilabel_study_cannot_use_are_refused(
    data: dict, training: dict, needle: str
) -> None:
    cfg = study_config(data={"task": "multilabel", **data}, training=training)
    with pytest.raises(ConfigError) as info:
        check_task(cfg)
    assert needle in str(info.value)
    check_task(study_config(data=data, training=training))  # multiclass: all allowed
