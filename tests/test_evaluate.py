"""Evaluation: contract files, Youden threshold from val, model.pt alone reproduces the
scores, and the evaluation job runs without torch."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import make_spec, write_cache

import subprocess
import sys

from biomedclf.evaluate import read_scores, run_evaluation
from biomedclf.metrics import METRIC_KEYS, binary_metrics, youden_threshold
from biomedclf.models import load_model
from biomedclf.predict import predict_probabilities
from biomedclf.train import run_training


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = write_cache(
        root / "data", sizes=(64, 40, 30), image_size=16, channels=3, seed=1
    )
    spec = make_spec(
        "conv_gap", {"width": 8, "batch_norm": True, "dropout": 0.2}, epochs=3
    )
    run_training(spec, 5, data, root / "train", root / "ckpt")
    out = root / "eval"
    evaluate(root / "train", out)
    return data, root / "train" / "model.pt", out


def evaluate(train_dir: Path, out: Path) -> dict:
    return run_evaluation(train_dir / "scores.csv", train_dir / "train.json", out)


def read_predictions(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_files_follow_the_contract(trained: tuple[Path, Path, Path]) -> None:
    data, _, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == [
        "variant",
        "seed",
        "n_test",
        "positive_class",
        "threshold_0.5",
        "threshold_youden",
    ]
    assert (metrics["variant"], metrics["seed"], metrics["n_test"]) == (
        "conv_gap_test",
        5,
        30,
    )
    assert metrics["positive_class"] == "abnormal"
    for block in ("threshold_0.5", "threshold_youden"):
        assert list(metrics[block]) == list(METRIC_KEYS)
        cm = metrics[block]["confusion_matrix"]
        assert sum(map(sum, cm)) == 30
    rows = read_predictions(out / "predictions.csv")
    assert list(rows[0]) == ["path", "label", "probability"]
    test = torch.load(data / "test.pt", weights_only=True)
    assert [r["path"] for r in rows] == test["paths"]  # cache order
    assert [int(r["label"]) for r in rows] == test["labels"].tolist()
    assert all(0.0 <= float(r["probability"]) <= 1.0 for r in rows)


def test_metrics_follow_from_predictions_and_val(
    trained: tuple[Path, Path, Path],
) -> None:
    data, model_path, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    rows = read_predictions(out / "predictions.csv")
    labels = np.array([int(r["label"]) for r in rows])
    probs = np.array([float(r["probability"]) for r in rows])
    assert binary_metrics(labels, probs, 0.5) == metrics["threshold_0.5"]
    # Youden's threshold comes from the validation split, not the test split
    val = torch.load(data / "val.pt", weights_only=True)
    val_probs = predict_probabilities(model_path, val["images"]).double().numpy()
    threshold = youden_threshold(val["labels"].numpy(), val_probs)
    assert metrics["threshold_youden"]["threshold"] == threshold
    assert binary_metrics(labels, probs, threshold) == metrics["threshold_youden"]


def test_scores_come_from_the_saved_model(trained: tuple[Path, Path, Path]) -> None:
    data, model_path, _ = trained
    scores = read_scores(model_path.parent / "scores.csv")
    for split in ("val", "test"):
        cache = torch.load(data / f"{split}.pt", weights_only=True)
        assert scores[split].paths == cache["paths"]
        assert scores[split].labels.tolist() == cache["labels"].tolist()
        again = predict_probabilities(model_path, cache["images"]).double().numpy()
        assert scores[split].probabilities.tolist() == again.tolist()


def test_evaluation_job_does_not_import_torch(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, model_path, out = trained
    code = (
        "import sys; from pathlib import Path; "
        "from biomedclf.evaluate import run_evaluation; "
        f"run_evaluation(Path({str(model_path.parent)!r}) / 'scores.csv', "
        f"Path({str(model_path.parent)!r}) / 'train.json', Path({str(tmp_path)!r})); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "metrics.json").read_text() == (out / "metrics.json").read_text()


def test_model_file_alone_predicts_the_same(trained: tuple[Path, Path, Path]) -> None:
    data, model_path, out = trained
    model, ckpt = load_model(model_path)  # no spec, no config, no cache stats needed
    test = torch.load(data / "test.pt", weights_only=True)
    mean = torch.tensor(ckpt["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(ckpt["std"]).view(1, -1, 1, 1)
    with torch.no_grad():
        x = (test["images"].float() / 255 - mean) / std
        probs = torch.sigmoid(model(x)).squeeze(1).double().numpy()
    written = np.array(
        [float(r["probability"]) for r in read_predictions(out / "predictions.csv")]
    )
    np.testing.assert_allclose(probs, written, rtol=0, atol=1e-6)


def test_evaluation_is_repeatable(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, model_path, out = trained
    again = evaluate(model_path.parent, tmp_path)
    assert again == json.loads((out / "metrics.json").read_text())
    assert (tmp_path / "predictions.csv").read_text() == (
        out / "predictions.csv"
    ).read_text()


def test_wrong_cache_is_refused(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, model_path, _ = trained
    other = write_cache(tmp_path / "other", image_size=16, channels=1)
    test = torch.load(other / "test.pt", weights_only=True)
    with pytest.raises(ValueError, match="trained on"):
        predict_probabilities(model_path, test["images"])


def test_broken_scores_file_is_named(
    trained: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, model_path, _ = trained
    lines = (model_path.parent / "scores.csv").read_text().splitlines()
    bad = tmp_path / "scores.csv"
    bad.write_text("\n".join(lines[:2] + [lines[2].rsplit(",", 1)[0] + ",1.5"]) + "\n")
    with pytest.raises(ValueError, match=r"scores\.csv, line 3: .*out of range"):
        read_scores(bad)
    bad.write_text("\n".join(line for line in lines if not line.startswith("test,")))
    with pytest.raises(ValueError, match="no test rows"):
        read_scores(bad)
