"""`biomedclf predict`: new images read as the data step reads them, the same probabilities
as the workflow's scores.csv, the validation-chosen threshold, every file accounted for."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import data_config, data_files, train_files, variant_spec
from PIL import Image

from biomedclf.cli import main
from biomedclf.data.decode_settings import decode_settings
from biomedclf.data.prepare import prepare_dataset
from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.train.loop import run_training


def write_folder(root: Path, classes: tuple[str, ...], n: int = 24) -> Path:
    """Class k's images have a bright square in the k-th corner; some are not square."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n):
            w = 20 if i % 3 else 28
            img = rng.integers(0, 90, (20, w)).astype(np.uint8)
            r, c = (k // 2) * 10, (k % 2) * 10
            img[r : r + 8, c : c + 8] = 230
            Image.fromarray(img).save(root / name / f"{name}_{i:02d}.png")
    return root


def trained(tmp_path: Path, classes: tuple[str, ...]) -> tuple[Path, Path, dict]:
    """A study in miniature: prepare a folder, train, evaluate; returns (data root, run dir,
    data config)."""
    root = write_folder(tmp_path / "images", classes)
    cfg = data_config(
        source="folder",
        path=str(root),
        image_size=16,
        channels=1,
        split={"val": 0.25, "test": 0.25, "seed": 0},
    )
    data = data_files(tmp_path / "data")
    prepare_dataset(cfg, data)
    spec = variant_spec("conv", {"width": 8}, name="cnn", epochs=4, batch_size=16, device="cpu")
    run = tmp_path / "run"
    outputs = train_files(run)
    cache = {r: data[r] for r in ("train", "val", "test")}
    run_training(spec, 0, cache, outputs, tmp_path / "ckpt", decoding=decode_settings(cfg))
    run_evaluation(
        outputs["scores"],
        outputs["info"],
        metrics=tmp_path / "eval" / "metrics.json",
        predictions=tmp_path / "eval" / "predictions.csv",
        ordinal=False,
    )
    return root, run, cfg


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("classes", [("normal", "tumour"), ("a", "b", "c")], ids=["2", "3"])
def test_predict_gives_the_workflows_probabilities(tmp_path: Path, classes) -> None:
    root, run, _ = trained(tmp_path, classes)
    test_rows = [r for r in rows_of(run / "scores.csv") if r["split"] == "test"]
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run / "model.pt"), str(root), "--out", str(out)]) == 0
    predicted = {Path(r["path"]).relative_to(root).as_posix(): r for r in rows_of(out)}
    assert len(predicted) == 24 * len(classes)  # every file of the folder has a row
    for row in test_rows:
        got = predicted[row["path"]]
        assert [got[f"prob_{c}"] for c in classes] == [
            row[f"prob_{k}"] for k in range(len(classes))
        ]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    saved = torch.load(run / "model.pt", weights_only=True)
    for r in predicted.values():
        probs = [float(r[f"prob_{c}"]) for c in classes]
        if len(classes) == 2:
            threshold = metrics["threshold_youden"]["threshold"]
            assert saved["threshold"] == threshold
            assert r["predicted_class"] == classes[int(probs[1] >= threshold)]
        else:
            assert saved["threshold"] is None
            assert r["predicted_class"] == classes[int(np.argmax(probs))]


def test_unreadable_files_keep_their_row_and_missing_paths_stop(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root, run, _ = trained(tmp_path, ("normal", "tumour"))
    (tmp_path / "new").mkdir()
    broken = tmp_path / "new" / "broken.png"
    broken.write_bytes(b"not a png")
    good = root / "normal" / "normal_00.png"
    out = tmp_path / "pred.csv"
    argv = [
        "predict",
        str(run / "model.pt"),
        str(good),
        str(tmp_path / "new"),
        "--out",
        str(out),
        "--threshold",
        "0.5",
    ]
    assert main(argv) == 0
    rows = rows_of(out)
    assert [Path(r["path"]).name for r in rows] == ["normal_00.png", "broken.png"]
    assert rows[0]["reason"] == "" and rows[0]["predicted_class"] in ("normal", "tumour")
    assert rows[0]["predicted_class"] == (
        "tumour" if float(rows[0]["prob_tumour"]) >= 0.5 else "normal"
    )
    assert rows[1]["prob_normal"] == "" and rows[1]["reason"].startswith("not an image")
    assert main(["predict", str(run / "model.pt"), str(tmp_path / "nope")]) == 2
    # a model saved without the settings its images were decoded with cannot read new ones
    saved = torch.load(run / "model.pt", weights_only=True)
    del saved["data"]
    torch.save(saved, tmp_path / "old.pt")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "old.pt"), str(good), "--out", str(out)]) == 2
    assert "old.pt: holds no decoding settings" in capsys.readouterr().err


def test_the_console_command_is_installed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "biomedclf.cli", "predict", "--help"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "validation-chosen" in proc.stdout
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["biomedclf"] == "biomedclf.cli:main"
