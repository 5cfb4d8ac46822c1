"""Cross-validation of multi-label studies: grouped folds stratified on the label sets at
prepare time, and the combined out-of-fold and fold-ensemble results of a run's fold models
(metrics against scikit-learn, each fold's images called at that fold's thresholds)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from config_helpers import data_config, data_files
from PIL import Image
from sklearn.metrics import f1_score, recall_score, roc_auc_score

from biomedclf.crossval.combine import run_crossval
from biomedclf.data.cache import load_split
from biomedclf.data.folds import check_planned_folds, read_folds
from biomedclf.data.prepare import prepare_dataset
from biomedclf.data.split import SplitError
from biomedclf.evaluate.multilabel_predictions import read_multilabel_predictions
from biomedclf.layout import TRAIN_FILES, crossval_files
from biomedclf.train.history import HISTORY_COLUMNS
from biomedclf.train.scores import read_scores, write_multilabel_scores

LABELS = ["a", "b", "c", "d"]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _manifest(root: Path, n_patients: int = 48, seed: int = 0) -> None:
    """A joined-label manifest (``a|c``, ``none`` for no finding) of 1-3 images per patient."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    lines, i = ["path,labels,patient"], 0
    for p in range(n_patients):
        for _ in range(int(rng.integers(1, 4))):
            arr = rng.integers(0, 256, (10, 10), dtype=np.uint8)
            Image.fromarray(arr).save(root / f"{i}.png")
            found = [n for n in LABELS if rng.random() < 0.3]
            lines.append(f"{i}.png,{'|'.join(found) or 'none'},p{p}")
            i += 1
    (root / "m.csv").write_text("\n".join(lines) + "\n")


def _config(root: Path, folds: int) -> dict:
    return data_config(
        source="manifest",
        path=str(root / "m.csv"),
        task="multilabel",
        image_size=8,
        manifest={"label_column": "labels", "group_column": "patient"},
        multilabel={"no_finding": "none"},
        split={"folds": folds},
    )


def test_prepare_cuts_grouped_folds_with_every_label_in_every_fold(tmp_path: Path) -> None:
    _manifest(tmp_path / "m")
    files = data_files(tmp_path / "out", folds=True)
    summary = prepare_dataset(_config(tmp_path / "m", 3), files)

    manifest = _read_csv(files["manifest"])
    pool = [r for r in manifest if r["split"] == "cv"]
    test = [r for r in manifest if r["split"] == "test"]
    assert pool and test and len(pool) + len(test) == len(manifest)
    assert all(r["fold"] == "" for r in test)
    folds_of: dict[str, set[str]] = {}
    for r in manifest:
        folds_of.setdefault(r["group"], set()).add(r["split"] + r["fold"])
    assert all(len(s) == 1 for s in folds_of.values()), "a patient in two folds (or splits)"

    folds = read_folds(files["folds"])
    cached = load_split(files["pool"])
    assert cached.paths == [r["path"] for r in pool]  # the manifest lists the pool in order
    assert folds.fold.tolist() == [int(r["fold"]) for r in pool]
    block = summary["folds"]
    assert block["k"] == 3 and summary["counts"]["cv"]["images"] == len(pool)
    for f in range(3):
        held = [r for r in pool if r["fold"] == str(f)]
        info = block["folds"][f]
        assert info["heldout"]["images"] == len(held)
        for name in LABELS:
            positives = sum(r[name] == "1" for r in held)
            assert positives > 0, f"fold {f} holds no positive of {name}"
            assert info["heldout"]["positives"][name] == positives
            assert info["heldout"]["prevalence"][name] == pytest.approx(positives / len(held))
        parts = folds.parts(f)
        assert info["n_train"] == len(parts["train"]) and info["n_val"] == len(parts["val"])
        inner = {pool[i]["group"] for i in parts["val"]}
        assert inner and not inner & {r["group"] for r in held}  # inner part outside the fold
        assert not inner & {pool[i]["group"] for i in parts["train"]}  # whole patients
    # the labels per split name the pool "cv", as the counts do
    assert set(summary["prevalence"]) == {"cv", "test", "all"}
    assert summary["label_counts"]["cv"]["a"]["positive"] == sum(r["a"] == "1" for r in pool)


def test_prepare_refuses_more_folds_than_a_label_has_patients(tmp_path: Path) -> None:
    _manifest(tmp_path / "m", n_patients=16)
    with pytest.raises(SplitError, match=r"data.split.folds: 12 folds"):
        prepare_dataset(_config(tmp_path / "m", 12), data_files(tmp_path / "out", folds=True))


def test_the_plan_leaves_a_multilabel_fold_count_to_prepare() -> None:
    """n_per_class bounds a class's images, not a label's positives: only prepare can tell."""
    multiclass = data_config(synthetic={"n_per_class": 4}, split={"folds": 5})
    with pytest.raises(SplitError, match="at most 4 image"):
        check_planned_folds(multiclass, ["a", "b"])
    multilabel = data_config(task="multilabel", synthetic={"n_per_class": 4}, split={"folds": 5})
    check_planned_folds(multilabel, ["nodule", "effusion"])


K, N_POOL, N_TEST = 3, 45, 15


def _split(rng: np.random.Generator, paths: list[str]) -> tuple:
    """Targets that the probabilities rank imperfectly, and an ignored entry every 7th row."""
    y = rng.integers(0, 2, (len(paths), len(LABELS)))
    y[0], y[1] = 0, 1  # both classes of every label
    p = np.clip(0.35 * y + rng.uniform(0, 0.65, y.shape), 0, 1)
    mask = np.ones(y.shape, bool)
    mask[::7, 1] = False
    return paths, y.tolist(), p.tolist(), mask.tolist()


def _write_fold(folder: Path, fold: int, rng: np.random.Generator) -> None:
    """A multi-label fold's scores.csv, train.json and history.csv as training writes them."""
    folder.mkdir(parents=True)
    held = [f"pool/{i}.png" for i in range(N_POOL) if i % K == fold]
    val = [f"pool/{i}.png" for i in range(N_POOL) if i % K == (fold + 1) % K]
    test = _split(np.random.default_rng(99), [f"test/{i}.png" for i in range(N_TEST)])
    test = (*test[:2], _split(rng, test[0])[2], test[3])  # same targets, the fold's sigmoids
    splits = {"val": _split(rng, val), "heldout": _split(rng, held), "test": test}
    write_multilabel_scores(folder / "scores.csv", splits)
    info = {
        "variant": "cnn",
        "seed": 0,
        "fold": fold,
        "task": "multilabel",
        "class_names": LABELS,
        "n_classes": len(LABELS),
        "thresholds": [0.3 + 0.1 * fold + 0.02 * j for j in range(len(LABELS))],
        "n_heldout": len(held),
        "train_seconds": 1.0,
        "best_epoch": 1,
        "epochs_run": 1,
        "stopped_early": False,
        "peak_memory_mb": 10.0,
        "images_per_second": 5.0,
        "n_train": 25,
        "n_val": 5,
    }
    (folder / "train.json").write_text(json.dumps(info))
    with (folder / "history.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
        w.writeheader()
        w.writerow({c: 1.0 for c in HISTORY_COLUMNS} | {"epoch": 1})


@pytest.fixture()
def combined(tmp_path: Path) -> tuple[Path, list[Path], dict]:
    rng = np.random.default_rng(0)
    dirs = [tmp_path / "train" / "cnn" / f"fold{f}" / "seed0" for f in range(K)]
    for f, d in enumerate(dirs):
        _write_fold(d, f, rng)
    files = {role: [d / TRAIN_FILES[role] for d in dirs] for role in ("scores", "info", "history")}
    out = crossval_files(tmp_path, "cnn", 0)
    summary = run_crossval(files["scores"], files["info"], files["history"], out, ordinal=False)
    return tmp_path, dirs, summary


def test_out_of_fold_predictions_are_called_at_their_fold_models_thresholds(combined) -> None:
    root, dirs, summary = combined
    out = crossval_files(root, "cnn", 0)
    oof = read_multilabel_predictions(out["predictions"])
    assert sorted(oof.paths) == sorted(f"pool/{i}.png" for i in range(N_POOL))
    thresholds = [json.loads((d / "train.json").read_text())["thresholds"] for d in dirs]
    for i, path in enumerate(oof.paths):
        fold = int(path.split("/")[1].split(".")[0]) % K
        want = oof.probabilities[i] >= np.asarray(thresholds[fold])
        assert oof.calls[i].tolist() == want.astype(int).tolist()
    assert not oof.mask[:, 1].all() and oof.mask[:, 0].all()  # the ignored entries kept apart

    metrics = json.loads(out["metrics"].read_text())
    assert metrics["task"] == "multilabel" and metrics["evaluated_on"] == "out-of-fold"
    block = metrics["multilabel"]
    for j, row in enumerate(block["per_label"]):
        kept = oof.mask[:, j]
        y, p, c = oof.labels[kept, j], oof.probabilities[kept, j], oof.calls[kept, j]
        assert row["auroc"] == pytest.approx(roc_auc_score(y, p))
        assert row["f1"] == pytest.approx(f1_score(y, c))
        assert row["sensitivity"] == pytest.approx(recall_score(y, c))
        assert row["specificity"] == pytest.approx(recall_score(y, c, pos_label=0))
        assert row["fold_thresholds"] == pytest.approx([t[j] for t in thresholds])
    kept = oof.mask
    assert block["micro_f1"] == pytest.approx(f1_score(oof.labels[kept], oof.calls[kept]))
    assert summary["out_of_fold"]["mean_auroc"] == block["mean_auroc"]
    record = json.loads(out["info"].read_text())
    assert record["thresholds"] == pytest.approx(np.mean(thresholds, axis=0))


def test_fold_ensemble_and_per_fold_mean_auroc(combined) -> None:
    root, dirs, summary = combined
    ens = read_multilabel_predictions(crossval_files(root, "cnn", 0)["test_predictions"])
    folds = [read_scores(d / "scores.csv", len(LABELS))["test"] for d in dirs]
    assert all(f.paths == ens.paths for f in folds)
    assert np.allclose(ens.probabilities, np.mean([f.probabilities for f in folds], axis=0))
    mean_thr = np.mean([json.loads((d / "train.json").read_text())["thresholds"] for d in dirs], 0)
    assert ens.calls.tolist() == (ens.probabilities >= mean_thr).astype(int).tolist()
    block = summary["ensemble_test"]["multilabel"]
    aucs = [
        roc_auc_score(ens.labels[ens.mask[:, j], j], ens.probabilities[ens.mask[:, j], j])
        for j in range(len(LABELS))
    ]
    assert block["mean_auroc"] == pytest.approx(np.mean(aucs))
    per_fold = [row["heldout"]["mean_auroc"] for row in summary["folds"]]
    assert summary["cv_mean"]["mean_auroc"] == pytest.approx(np.mean(per_fold))
    assert summary["cv_sd"]["mean_auroc"] == pytest.approx(np.std(per_fold, ddof=1))
    assert summary["k"] == K and summary["task"] == "multilabel"
