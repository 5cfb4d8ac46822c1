"""Multi-label training and evaluation through the jobs' entry points: a cache of the synthetic
multi-label set (3 visible findings and a noise label, 10% of the label entries ignored) is
trained by ``run_training`` and evaluated by ``run_evaluation`` as the rules call them.

Known answer: the visible findings reach a test AUROC near 1, the noise label near 0.5 (seeds
0-7 of the generator and the run gave findings 0.97-1.0 and noise 0.41-0.64). Ignored entries
count nowhere: a cache whose ignored entries hold the other target trains the same model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from config_helpers import cache_files, decoding, train_files, variant_spec
from sklearn.metrics import average_precision_score, roc_auc_score

from biomedclf.data.cache import CachedSplit, load_split, save_split, training_statistics
from biomedclf.data.synthetic_multilabel import FINDINGS, NOISE_LABEL, make_multilabel_images
from biomedclf.evaluate.evaluation import run_evaluation
from biomedclf.evaluate.multilabel import choose_thresholds
from biomedclf.evaluate.multilabel_evaluation import prediction_columns
from biomedclf.train.inference import predict_probabilities
from biomedclf.train.loop import run_training
from biomedclf.train.losses import MaskedBCEWithLogits
from biomedclf.train.multilabel import IGNORED, device_targets, multilabel_objective
from biomedclf.train.scores import multilabel_score_columns, read_scores, write_multilabel_scores
from biomedclf.train.settings import DEVICE_CACHE_ENV

N_IMAGES, IMAGE_SIZE, MASKED = 600, 32, 0.1
SHARES = {"train": (0.0, 0.6), "val": (0.6, 0.8), "test": (0.8, 1.0)}
NAMES = [*FINDINGS[:3], NOISE_LABEL]


def write_multilabel_cache(folder: Path, seed: int = 0, flip_ignored: bool = False) -> Path:
    """train/val/test.pt of the synthetic set (60/20/20% in generator order), a tenth of the
    label entries ignored; ``flip_ignored``: the ignored entries hold 1 - their target instead
    of 0 (what the contract never writes, to show they are not read)."""
    s = make_multilabel_images(
        N_IMAGES, image_size=IMAGE_SIZE, n_findings=3, prevalence=0.3, difficulty=0.3, seed=seed
    )
    mask = np.random.default_rng(seed + 1).random(s.labels.shape) >= MASKED
    ignored_value = 1 - s.labels if flip_ignored else 0
    labels = np.where(mask, s.labels, ignored_value).astype(np.int64)
    images = torch.from_numpy(np.ascontiguousarray(s.images[:, None]))
    rows = {k: slice(int(a * N_IMAGES), int(b * N_IMAGES)) for k, (a, b) in SHARES.items()}
    mean, std = training_statistics(images[rows["train"]].clone())
    folder.mkdir(parents=True, exist_ok=True)
    for split, r in rows.items():
        split_data = CachedSplit(
            images=images[r].clone(),
            labels=torch.from_numpy(labels[r]).clone(),
            paths=[f"{split}/img{i:04d}.png" for i in range(r.start, r.stop)],
            class_names=list(s.names),
            mean=mean,
            std=std,
            mask=torch.from_numpy(mask[r]).clone(),
        )
        save_split(folder / f"{split}.pt", split_data)
    return folder


def spec(**training: object) -> dict:
    """A small convolutional model, 20 epochs of batches of 32 on the CPU."""
    settings = {"epochs": 20, "batch_size": 32, "device": "cpu", "lr": 0.003, **training}
    return variant_spec("conv", {"width": 8, "fc": 16, "depth": 2}, **settings)


def train_and_evaluate(data: Path, out: Path, seed: int = 0, **training: object) -> dict:
    """run_training then run_evaluation, as the train and evaluate rules call them; returns
    the metrics.json dict."""
    run_training(
        spec(**training),
        seed,
        cache_files(data),
        train_files(out),
        out / "ckpt",
        1,
        decoding=decoding(image_size=IMAGE_SIZE, channels=1),
    )
    return run_evaluation(
        out / "scores.csv", out / "train.json", out / "metrics.json", out / "predictions.csv", False
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """(cache folder, run folder, metrics.json) of one run, its images streamed (CPU auto)."""
    root = tmp_path_factory.mktemp("multilabel")
    data = write_multilabel_cache(root / "data")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(DEVICE_CACHE_ENV, raising=False)
        metrics = train_and_evaluate(data, root / "out")
    return data, root / "out", metrics


def kept_scores(out: Path, split: str) -> tuple:
    s = read_scores(out / "scores.csv")[split]
    return s.labels, s.probabilities, s.mask


def test_known_answer_findings_near_one_noise_near_half(run: tuple[Path, Path, dict]) -> None:
    _, _, metrics = run
    auroc = {row["label"]: row["auroc"] for row in metrics["multilabel"]["per_label"]}
    assert list(auroc) == NAMES
    assert all(auroc[name] > 0.9 for name in FINDINGS[:3]), auroc
    assert auroc[NOISE_LABEL] == pytest.approx(0.5, abs=0.2), auroc
    assert metrics["multilabel"]["mean_auroc"] == pytest.approx(np.mean(list(auroc.values())))


def test_train_outputs_name_the_task_labels_and_thresholds(run: tuple[Path, Path, dict]) -> None:
    data, out, metrics = run
    info = json.loads((out / "train.json").read_text())
    model = torch.load(out / "model.pt", weights_only=True)
    assert info["task"] == model["task"] == metrics["task"] == "multilabel"
    assert info["class_names"] == model["class_names"] == metrics["class_names"] == NAMES
    assert info["n_classes"] == model["n_classes"] == metrics["n_classes"] == len(NAMES)
    assert info["loss"] == "masked binary cross-entropy"
    assert model["threshold"] is None
    assert model["state_dict"]["fc2.bias"].shape == (len(NAMES),)  # one logit per label
    # thresholds: choose_thresholds on the validation scores, kept entries only
    labels, probs, mask = kept_scores(out, "val")
    chosen = choose_thresholds(labels, probs, mask).tolist()
    assert info["thresholds"] == model["thresholds"] == chosen
    used = [row["threshold"] for row in metrics["multilabel"]["per_label"]]
    assert used == chosen
    # history: accuracy over the kept entries, a fraction
    with (out / "history.csv").open() as f:
        history = list(csv.DictReader(f))
    assert len(history) == 20
    assert all(0 <= float(r[k]) <= 1 for r in history for k in ("train_accuracy", "val_accuracy"))


def test_scores_hold_targets_mask_and_the_saved_models_sigmoids(
    run: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    data, out, _ = run
    text = (out / "scores.csv").read_text()
    assert text.splitlines()[0].split(",") == multilabel_score_columns(len(NAMES))
    scores = read_scores(out / "scores.csv", len(NAMES))
    assert sorted(scores) == ["test", "val"]
    for split in ("val", "test"):
        cache = load_split(data / f"{split}.pt")
        s = scores[split]
        assert s.paths == cache.paths
        assert np.array_equal(s.mask, cache.mask.numpy())
        assert np.array_equal(s.labels, cache.labels.numpy())
        again = predict_probabilities(out / "model.pt", cache.images).double().numpy()
        assert again.shape == (len(cache), len(NAMES))
        assert s.probabilities.tolist() == again.tolist()
    # an ignored entry's target cell is empty; written back, the file is the same bytes
    first_ignored = next(line for line in text.splitlines()[1:] if ",," in line)
    assert first_ignored.startswith(("val,", "test,"))
    splits = {
        k: (v.paths, v.labels.tolist(), v.probabilities.tolist(), v.mask.tolist())
        for k, v in scores.items()
    }
    write_multilabel_scores(tmp_path / "again.csv", splits)
    assert (tmp_path / "again.csv").read_text() == text


def test_metrics_are_scikit_learns_on_the_kept_entries(run: tuple[Path, Path, dict]) -> None:
    _, out, metrics = run
    labels, probs, mask = kept_scores(out, "test")
    rows = metrics["multilabel"]["per_label"]
    for j, row in enumerate(rows):
        y, p = labels[mask[:, j], j], probs[mask[:, j], j]
        assert row["n"] == int(mask[:, j].sum()) < len(labels)
        assert row["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert row["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    block = metrics["multilabel"]
    assert block["micro_auroc"] == pytest.approx(roc_auc_score(labels[mask], probs[mask]))
    assert metrics["n_test"] == len(labels)


def test_predictions_give_a_probability_and_a_call_per_label(run: tuple[Path, Path, dict]) -> None:
    _, out, metrics = run
    with (out / "predictions.csv").open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == prediction_columns(NAMES)
        rows = list(reader)
    labels, probs, mask = kept_scores(out, "test")
    thresholds = [row["threshold"] for row in metrics["multilabel"]["per_label"]]
    for i, row in enumerate(rows):
        for j, name in enumerate(NAMES):
            assert float(row[f"prob_{name}"]) == probs[i, j]
            assert row[f"call_{name}"] == str(int(probs[i, j] >= thresholds[j]))
            assert row[f"label_{name}"] == (str(labels[i, j]) if mask[i, j] else "")


def test_ignored_entries_change_nothing_and_placement_changes_nothing(
    run: tuple[Path, Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same seed on a cache whose ignored entries hold the other target, its images
    resident instead of streamed: the same history (but seconds), model, scores (but the
    ignored cells, empty either way) and metrics."""
    _, out, metrics = run
    data = write_multilabel_cache(tmp_path / "data", flip_ignored=True)
    assert not torch.equal(
        load_split(data / "train.pt").labels, load_split(out.parent / "data" / "train.pt").labels
    )
    monkeypatch.setenv(DEVICE_CACHE_ENV, "1GB")  # resident
    again = train_and_evaluate(data, tmp_path / "out")
    assert again == metrics
    for name in ("scores.csv", "predictions.csv"):
        assert (tmp_path / "out" / name).read_text() == (out / name).read_text()

    def history(folder: Path) -> list[dict]:
        with (folder / "history.csv").open() as f:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]

    assert history(tmp_path / "out") == history(out)
    a = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "out" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_objective_averages_the_kept_entries_only() -> None:
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(40, 4, generator=g) < 0.3).long()
    mask = torch.rand(40, 4, generator=g) > 0.2
    split = CachedSplit(torch.zeros(40, 1, 4, 4, dtype=torch.uint8), labels, [""] * 40, NAMES,
                        [0.0], [1.0], mask)  # fmt: skip
    targets = device_targets(split, torch.device("cpu"))
    assert torch.equal(targets == IGNORED, ~mask)
    logits = torch.randn(40, 4, generator=g)
    for weights in (None, "balanced"):
        objective = multilabel_objective(split, weights, 0.0, torch.device("cpu"))
        pos_weight = objective.criterion.pos_weight
        kept_bce = torch.nn.functional.binary_cross_entropy_with_logits(
            logits[mask], labels[mask].float(), reduction="none",
            pos_weight=None if pos_weight is None else pos_weight.expand(40, 4)[mask],
        )  # fmt: skip
        assert objective.loss(logits, targets).item() == pytest.approx(kept_bce.mean().item())
        right = ((logits > 0).long() == labels)[mask]
        assert objective.correct(logits, targets).item() == int(right.sum())
        assert int(objective.entries(targets)) == int(mask.sum())
    positives = (labels.bool() & mask).sum(0).double()
    negatives = (~labels.bool() & mask).sum(0).double()
    assert torch.allclose(pos_weight.double(), negatives / positives)
    assert isinstance(objective.criterion, MaskedBCEWithLogits)


def test_label_smoothing_is_refused(run: tuple[Path, Path, dict], tmp_path: Path) -> None:
    data, _, _ = run
    with pytest.raises(ValueError, match=r"training\.label_smoothing: 0\.1 .* multi-label"):
        train_and_evaluate(data, tmp_path / "out", label_smoothing=0.1, epochs=1)
    assert not (tmp_path / "out" / "train.json").exists()


def test_predict_gives_each_label_a_probability_and_a_call(
    run: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    """`biomedclf predict` on PNG files of test images: the probabilities of scores.csv (up to
    float32 rounding: another batch) and a call per label at the thresholds stored in
    model.pt."""
    from PIL import Image

    from biomedclf.predict.images import predict_files

    data, out, _ = run
    test = load_split(data / "test.pt")
    for i in range(8):
        Image.fromarray(test.images[i, 0].numpy()).save(tmp_path / f"img{i}.png")
    result = predict_files(out / "model.pt", [tmp_path], tmp_path / "pred.csv")
    thresholds = torch.load(out / "model.pt", weights_only=True)["thresholds"]
    assert result["thresholds"] == thresholds and result["predicted"] == 8
    with (tmp_path / "pred.csv").open() as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, list(reader)
    probs = [f"prob_{n}" for n in NAMES]
    assert header == ["path", *probs, *(f"call_{n}" for n in NAMES), "reason"]
    scores = read_scores(out / "scores.csv")["test"].probabilities
    for i, row in enumerate(rows):
        got = [float(row[c]) for c in probs]
        assert got == pytest.approx(scores[i].tolist(), abs=1e-6)
        assert [int(row[f"call_{n}"]) for n in NAMES] == [
            int(got[j] >= thresholds[j]) for j in range(len(NAMES))
        ]


def test_a_fold_of_a_multilabel_pool_trains_with_its_mask(
    run: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    """Cross-validation: fold 1 of a pool (the train and val splits) trains on its parts, each
    with its rows of the mask, and scores the held-out fold with its targets and mask."""
    data, _, _ = run
    train, val = load_split(data / "train.pt"), load_split(data / "val.pt")
    pool = CachedSplit(
        torch.cat([train.images, val.images]),
        torch.cat([train.labels, val.labels]),
        train.paths + val.paths,
        NAMES,
        train.mean,
        train.std,
        torch.cat([train.mask, val.mask]),
    )
    save_split(tmp_path / "cv.pt", pool)
    fold = np.arange(len(pool)) % 3
    inner = [[i for i in range(len(pool)) if fold[i] != f and i % 10 < 2] for f in range(3)]
    folds = {"k": 3, "seed": 0, "val": 0.2, "fold": fold.tolist(), "inner_val": inner}
    (tmp_path / "folds.json").write_text(json.dumps(folds))
    files = {"pool": tmp_path / "cv.pt", "folds": tmp_path / "folds.json", "test": data / "test.pt"}
    out = tmp_path / "out"
    info = run_training(
        spec(epochs=2), 0, files, train_files(out), tmp_path / "ckpt", 1, fold=1,
        decoding=decoding(image_size=IMAGE_SIZE, channels=1),
    )  # fmt: skip
    assert info["fold"] == 1 and info["n_heldout"] == int((fold == 1).sum())
    assert info["n_train"] + info["n_val"] + info["n_heldout"] == len(pool)
    heldout = read_scores(out / "scores.csv", len(NAMES))["heldout"]
    rows = np.flatnonzero(fold == 1)
    assert heldout.paths == [pool.paths[i] for i in rows]
    assert np.array_equal(heldout.mask, pool.mask.numpy()[rows])
    assert np.array_equal(heldout.labels, pool.labels.numpy()[rows])
    assert len(info["thresholds"]) == len(NAMES)
