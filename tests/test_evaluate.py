"""Evaluation: contract files for two classes and more, Youden threshold from val, model.pt
alone reproduces the scores, and the evaluation job runs without torch or scikit-learn."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import make_spec, train_run, write_cache

from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.evaluate.metrics import METRIC_KEYS, binary_metrics
from biomedclf.evaluate.multiclass import MULTICLASS_KEYS, multiclass_metrics
from biomedclf.layout import EVAL_FILES
from biomedclf.train.inference import predict_probabilities
from biomedclf.train.models import load_model
from biomedclf.train.scores import read_scores, score_columns
from biomedclf.train.threshold import youden_threshold


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = write_cache(root / "data", sizes=(64, 40, 30), image_size=16, channels=3, seed=1)
    spec = make_spec("conv_gap", {"width": 8, "batch_norm": True, "dropout": 0.2}, epochs=3)
    train(spec, 5, data, root / "train", root / "ckpt")
    out = root / "eval"
    evaluate(root / "train", out)
    return data, root / "train" / "model.pt", out


def train(spec: dict, seed: int, data: Path, out: Path, checkpoint: Path) -> None:
    """Train into ``out`` from the cache ``data``, as the train job does."""
    train_run(spec, seed, data, out, checkpoint)


def eval_outputs(out: Path) -> dict[str, Path]:
    """An evaluation job's outputs in ``out``, by role (``metrics``, ``predictions``)."""
    return {role: out / name for role, name in EVAL_FILES.items()}


def evaluate(train_dir: Path, out: Path, ordinal: bool = False) -> dict:
    """Evaluate the run trained into ``train_dir``, writing into ``out``."""
    return run_evaluation(
        train_dir / "scores.csv", train_dir / "train.json", ordinal=ordinal, **eval_outputs(out)
    )


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
        "n_classes",
        "class_names",
        "ordinal",
        "positive_class",
        "threshold_0.5",
        "threshold_youden",
        "multiclass",
    ]
    assert (metrics["variant"], metrics["seed"], metrics["n_test"]) == (
        "conv_gap_test",
        5,
        30,
    )
    assert metrics["positive_class"] == "abnormal"
    assert (metrics["n_classes"], metrics["class_names"]) == (2, ["normal", "abnormal"])
    assert metrics["ordinal"] is False
    for block in ("threshold_0.5", "threshold_youden"):
        assert list(metrics[block]) == list(METRIC_KEYS)
        cm = metrics[block]["confusion_matrix"]
        assert sum(map(sum, cm)) == 30
    mc = metrics["multiclass"]
    assert set(MULTICLASS_KEYS) <= set(mc) and mc["kappa_weights"] == "none"
    assert mc["confusion_matrix"] == metrics["threshold_0.5"]["confusion_matrix"]
    rows = read_predictions(out / "predictions.csv")
    assert list(rows[0]) == ["path", "label", "predicted", "prob_normal", "prob_abnormal"]
    test = torch.load(data / "test.pt", weights_only=True)
    assert [r["path"] for r in rows] == test["paths"]  # cache order
    assert [int(r["label"]) for r in rows] == test["labels"].tolist()
    assert all(0.0 <= float(r["prob_abnormal"]) <= 1.0 for r in rows)
    assert [int(r["predicted"]) for r in rows] == [
        int(float(r["prob_abnormal"]) >= 0.5) for r in rows
    ]


def test_metrics_follow_from_predictions_and_val(
    trained: tuple[Path, Path, Path],
) -> None:
    data, model_path, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    rows = read_predictions(out / "predictions.csv")
    labels = np.array([int(r["label"]) for r in rows])
    probs = np.array([float(r["prob_abnormal"]) for r in rows])
    assert binary_metrics(labels, probs, 0.5) == metrics["threshold_0.5"]
    both = np.array([[float(r["prob_normal"]), float(r["prob_abnormal"])] for r in rows])
    assert multiclass_metrics(labels, both, ["normal", "abnormal"], False) == metrics["multiclass"]
    # Youden's threshold comes from the validation split, not the test split
    val = torch.load(data / "val.pt", weights_only=True)
    val_probs = predict_probabilities(model_path, val["images"])[:, 1].double().numpy()
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
        "from biomedclf.evaluate.evaluation import run_evaluation; "
        f"run_evaluation(Path({str(model_path.parent)!r}) / 'scores.csv', "
        f"Path({str(model_path.parent)!r}) / 'train.json', "
        f"Path({str(tmp_path)!r}) / 'metrics.json', Path({str(tmp_path)!r}) / 'predictions.csv', "
        "ordinal=False); "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'"
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
        [float(r["prob_abnormal"]) for r in read_predictions(out / "predictions.csv")]
    )
    np.testing.assert_allclose(probs, written, rtol=0, atol=1e-6)


def test_evaluation_is_repeatable(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, model_path, out = trained
    again = evaluate(model_path.parent, tmp_path)
    assert again == json.loads((out / "metrics.json").read_text())
    assert (tmp_path / "predictions.csv").read_text() == (out / "predictions.csv").read_text()


def test_wrong_cache_is_refused(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, model_path, _ = trained
    other = write_cache(tmp_path / "other", image_size=16, channels=1)
    test = torch.load(other / "test.pt", weights_only=True)
    with pytest.raises(ValueError, match="trained on"):
        predict_probabilities(model_path, test["images"])


def test_broken_scores_file_is_named(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, model_path, _ = trained
    lines = (model_path.parent / "scores.csv").read_text().splitlines()
    bad = tmp_path / "scores.csv"
    bad.write_text("\n".join(lines[:2] + [lines[2].rsplit(",", 1)[0] + ",1.5"]) + "\n")
    with pytest.raises(ValueError, match=r"scores\.csv, line 3: .*out of range"):
        read_scores(bad)
    bad.write_text("\n".join(line for line in lines if not line.startswith("test,")))
    with pytest.raises(ValueError, match="no test rows"):
        read_scores(bad)


# ---- more than two classes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained4(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A four-class model trained through biomedclf.train.loop, then evaluated."""
    root = tmp_path_factory.mktemp("eval4")
    data = write_cache(root / "data", sizes=(96, 48, 40), image_size=16, seed=2, n_classes=4)
    spec = make_spec("conv", {"width": 8}, epochs=3)
    train(spec, 1, data, root / "train", root / "ckpt")
    out = root / "eval"
    evaluate(root / "train", out, ordinal=True)
    return data, root / "train" / "model.pt", out


def test_k_class_files_follow_the_contract(trained4: tuple[Path, Path, Path]) -> None:
    data, model_path, out = trained4
    metrics = json.loads((out / "metrics.json").read_text())
    names = [f"class{k}" for k in range(4)]
    assert list(metrics) == [
        "variant",
        "seed",
        "n_test",
        "n_classes",
        "class_names",
        "ordinal",
        "positive_class",
        "multiclass",
    ]
    assert (metrics["n_classes"], metrics["class_names"], metrics["ordinal"]) == (4, names, True)
    assert metrics["positive_class"] is None
    mc = metrics["multiclass"]
    assert mc["kappa_weights"] == "quadratic" and mc["prediction"] == "argmax (first on ties)"
    assert [c["class"] for c in mc["per_class"]] == names
    rows = read_predictions(out / "predictions.csv")
    assert list(rows[0]) == ["path", "label", "predicted", *[f"prob_{n}" for n in names]]
    probs = np.array([[float(r[f"prob_{n}"]) for n in names] for r in rows])
    labels = np.array([int(r["label"]) for r in rows])
    assert [int(r["predicted"]) for r in rows] == np.argmax(probs, axis=1).tolist()
    assert multiclass_metrics(labels, probs, names, True) == mc
    test = torch.load(data / "test.pt", weights_only=True)
    again = predict_probabilities(model_path, test["images"]).double().numpy()
    assert probs.tolist() == again.tolist()  # exactly the model's softmax, via scores.csv


def _write_scores(path: Path, k: int, rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(score_columns(k))
        writer.writerows(rows)
    return path


def _scores_rows(k: int, n: int = 12, seed: int = 0) -> list[list]:
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("val", "test"):
        for i in range(n):
            p = rng.dirichlet(np.ones(k))
            rows.append([split, f"{split}/{i}.png", i % k, *(repr(float(q)) for q in p)])
    return rows


def _train_json(path: Path, k: int, n_classes: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f"grade {g}" for g in range(k)]
    path.write_text(
        json.dumps({"variant": "v", "seed": 0, "class_names": names, "n_classes": n_classes or k})
    )
    return path


def test_k_class_scores_without_training(tmp_path: Path) -> None:
    """Three ordered grades from a handwritten scores.csv: no threshold blocks, quadratic
    kappa, and the test rows in predictions.csv exactly as written."""
    rows = _scores_rows(3)
    scores = _write_scores(tmp_path / "scores.csv", 3, rows)
    info = _train_json(tmp_path / "train.json", 3)
    out = eval_outputs(tmp_path / "out")
    m = run_evaluation(scores, info, out["metrics"], out["predictions"], ordinal=True)
    assert "threshold_0.5" not in m and m["multiclass"]["kappa_weights"] == "quadratic"
    assert json.loads(out["metrics"].read_text()) == m
    plain = run_evaluation(scores, info, ordinal=False, **eval_outputs(tmp_path / "plain"))
    assert plain["multiclass"]["kappa_weights"] == "none"
    assert plain["multiclass"]["accuracy"] == m["multiclass"]["accuracy"]
    lines = out["predictions"].read_text().splitlines()
    assert lines[0] == "path,label,predicted,prob_grade 0,prob_grade 1,prob_grade 2"
    test_rows = [r for r in rows if r[0] == "test"]
    for line, row in zip(lines[1:], test_rows, strict=True):
        path, label, called, *probs = line.split(",")
        assert (path, int(label), probs) == (row[1], row[2], row[3:])
        assert int(called) == int(np.argmax([float(q) for q in probs]))


def test_wrong_score_columns_are_named(tmp_path: Path) -> None:
    info = _train_json(tmp_path / "train.json", 3)
    four = _write_scores(tmp_path / "scores.csv", 4, _scores_rows(4))
    with pytest.raises(ValueError, match=r"scores\.csv: columns .* \(3 classes, train\.json\)"):
        run_evaluation(four, info, ordinal=False, **eval_outputs(tmp_path / "out"))
    old = tmp_path / "old.csv"
    old.write_text("split,path,label,probability\nval,a.png,0,0.2\ntest,b.png,1,0.7\n")
    with pytest.raises(ValueError, match=r"old\.csv: columns .*'probability'.*rerun the"):
        read_scores(old)
    bad = _write_scores(tmp_path / "bad.csv", 3, [["val", "a.png", 3, "0.2", "0.3", "0.5"]])
    with pytest.raises(ValueError, match=r"bad\.csv, line 2: .*labels 0\.\.2"):
        read_scores(bad)
    scores3 = _write_scores(tmp_path / "s3.csv", 3, _scores_rows(3))
    wrong = _train_json(tmp_path / "train.json", 3, n_classes=4)
    with pytest.raises(ValueError, match=r"train\.json: n_classes 4 but class_names"):
        run_evaluation(scores3, wrong, ordinal=False, **eval_outputs(tmp_path / "o"))


def test_evaluation_writes_exactly_the_given_paths(tmp_path: Path) -> None:
    scores = _write_scores(tmp_path / "in" / "scores.csv", 3, _scores_rows(3))
    info = _train_json(tmp_path / "in" / "train.json", 3)
    metrics, predictions = tmp_path / "a" / "m.json", tmp_path / "b" / "c" / "p.csv"
    m = run_evaluation(scores, info, metrics, predictions, ordinal=False)
    assert json.loads(metrics.read_text()) == m
    assert predictions.read_text().startswith("path,label,predicted,prob_grade 0,")
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        Path("a/m.json"),
        Path("b/c/p.csv"),
        Path("in/scores.csv"),
        Path("in/train.json"),
    ]
