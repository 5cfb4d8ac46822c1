"""Combining the folds of a cross-validated run and the statistics across folds: out-of-fold
predictions, the fold ensemble, pooled metrics against scikit-learn, and the Nadeau-Bengio
corrected resampled t-test against a hand-computed case and scipy."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import accuracy_score, roc_auc_score

from biomedclf.crossval.across_folds import (
    compare,
    corrected_resampled_t,
    write_study_crossval,
)
from biomedclf.crossval.combine import combined_history, run_crossval
from biomedclf.layout import TRAIN_FILES, crossval_files
from biomedclf.train.history import HISTORY_COLUMNS
from biomedclf.train.scores import score_columns

K, N_POOL, N_TEST = 4, 40, 12


def _write_fold(
    folder: Path, fold: int, pool: list[str], rng: np.random.Generator, epochs: int = 3
) -> None:
    """A fold's scores.csv, train.json and history.csv as a training job writes them."""
    folder.mkdir(parents=True)
    held = [p for i, p in enumerate(pool) if i % K == fold]
    val = [p for i, p in enumerate(pool) if i % K == (fold + 1) % K][:5]
    test = [f"test/{i}.png" for i in range(N_TEST)]
    with (folder / "scores.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(score_columns(2))
        for split, paths in (("val", val), ("heldout", held), ("test", test)):
            for p in paths:
                q = float(rng.uniform(0.01, 0.99))
                w.writerow([split, p, int(p.endswith(("1.png", "3.png", "5.png"))), 1 - q, q])
    info = {
        "variant": "cnn",
        "seed": 0,
        "fold": fold,
        "n_heldout": len(held),
        "train_seconds": 1.5 + fold,
        "best_epoch": 2,
        "epochs_run": epochs,
        "stopped_early": False,
        "peak_memory_mb": 100.0 + fold,
        "images_per_second": 50.0,
        "n_train": 25,
        "n_val": 5,
        "class_names": ["neg", "pos"],
        "n_classes": 2,
        "phases": {"load_s": 0.25 * (fold + 1), "start_up_s": None if fold == 1 else 0.5},
    }
    (folder / "train.json").write_text(json.dumps(info))
    with (folder / "history.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
        w.writeheader()
        for e in range(1, epochs + 1):
            w.writerow(
                {
                    "epoch": e,
                    "train_loss": 1.0 / e + fold,
                    "train_accuracy": 0.5,
                    "val_loss": 2.0 / e,
                    "val_accuracy": 0.6,
                    "lr": 1e-3,
                    "seconds": 0.5,
                }
            )


def combine(dirs: list[Path], out: dict[str, Path]) -> dict:
    """run_crossval on the fold folders ``dirs`` (fold order), as the crossval rule lists
    their files."""
    files = {role: [d / TRAIN_FILES[role] for d in dirs] for role in ("scores", "info", "history")}
    return run_crossval(files["scores"], files["info"], files["history"], out, ordinal=False)


@pytest.fixture()
def combined(tmp_path: Path) -> tuple[Path, dict]:
    rng = np.random.default_rng(0)
    pool = [f"pool/{i}.png" for i in range(N_POOL)]
    dirs = [tmp_path / "train" / "cnn" / f"fold{f}" / "seed0" for f in range(K)]
    for f, d in enumerate(dirs):
        _write_fold(d, f, pool, rng, epochs=3 if f else 2)
    return tmp_path, combine(dirs, crossval_files(tmp_path, "cnn", 0))


def _read(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _scores(path: Path, split: str) -> dict[str, float]:
    return {r["path"]: float(r["prob_1"]) for r in _read(path) if r["split"] == split}


def test_every_pool_image_is_out_of_fold_once_from_the_model_that_held_it_out(combined) -> None:
    root, _ = combined
    oof = _read(crossval_files(root, "cnn", 0)["predictions"])
    assert sorted(r["path"] for r in oof) == sorted(f"pool/{i}.png" for i in range(N_POOL))
    for r in oof:
        fold = int(r["path"].split("/")[1].split(".")[0]) % K
        held = _scores(root / "train" / "cnn" / f"fold{fold}" / "seed0" / "scores.csv", "heldout")
        assert float(r["prob_pos"]) == held[r["path"]]


def test_fold_ensemble_is_the_mean_of_the_fold_models_probabilities(combined) -> None:
    root, summary = combined
    folds = [
        _scores(root / "train" / "cnn" / f"fold{f}" / "seed0" / "scores.csv", "test")
        for f in range(K)
    ]
    ens = _read(crossval_files(root, "cnn", 0)["test_predictions"])
    assert len(ens) == N_TEST
    for r in ens:
        assert float(r["prob_pos"]) == pytest.approx(np.mean([f[r["path"]] for f in folds]))
    labels = [int(r["label"]) for r in ens]
    calls = [int(float(r["prob_pos"]) >= 0.5) for r in ens]
    test = summary["ensemble_test"]["multiclass"]
    assert test["accuracy"] == pytest.approx(accuracy_score(labels, calls))
    probs = [float(r["prob_pos"]) for r in ens]
    assert test["macro_auroc"] == pytest.approx(roc_auc_score(labels, probs))


def test_pooled_and_per_fold_metrics_match_scikit_learn(combined) -> None:
    root, summary = combined
    files = crossval_files(root, "cnn", 0)
    oof = _read(files["predictions"])
    labels = [int(r["label"]) for r in oof]
    metrics = json.loads(files["metrics"].read_text())
    assert metrics["evaluated_on"] == "out-of-fold" and metrics["n_test"] == N_POOL
    assert metrics["multiclass"]["accuracy"] == pytest.approx(
        accuracy_score(labels, [int(r["predicted"]) for r in oof])
    )
    for f, row in enumerate(summary["folds"]):
        held = _read(root / "train" / "cnn" / f"fold{f}" / "seed0" / "scores.csv")
        held = [r for r in held if r["split"] == "heldout"]
        y = [int(r["label"]) for r in held]
        acc = accuracy_score(y, [int(float(r["prob_1"]) >= 0.5) for r in held])
        assert row["heldout"]["accuracy"] == pytest.approx(acc)
    values = [row["heldout"]["accuracy"] for row in summary["folds"]]
    assert summary["cv_mean"]["accuracy"] == pytest.approx(np.mean(values))
    assert summary["cv_sd"]["accuracy"] == pytest.approx(np.std(values, ddof=1))


def test_the_runs_history_and_record_combine_the_folds(combined) -> None:
    root, _ = combined
    files = crossval_files(root, "cnn", 0)
    record = json.loads(files["info"].read_text())
    assert record["folds"] == K and record["train_seconds"] == pytest.approx(1.5 * K + 6)
    assert record["peak_memory_mb"] == 103.0 and "fold" not in record
    # each fold job's seconds per phase summed; a phase one fold did not time stays null
    assert record["phases"] == {"load_s": 0.25 * K * (K + 1) / 2, "start_up_s": None}
    history = _read(files["history"])
    assert [int(r["epoch"]) for r in history] == [1, 2, 3]
    # epoch 3: fold 0 stopped after 2 epochs, so the mean is over folds 1-3
    assert float(history[2]["train_loss"]) == pytest.approx(np.mean([1 / 3 + f for f in (1, 2, 3)]))
    assert float(history[0]["seconds"]) == pytest.approx(0.5 * K)


def test_an_image_held_out_by_two_folds_is_an_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pool = [f"pool/{i}.png" for i in range(N_POOL)]
    dirs = [tmp_path / f"fold{f}" for f in range(2)]
    _write_fold(dirs[0], 0, pool, rng)
    _write_fold(dirs[1], 0, pool, rng)  # the same held-out images again
    info = json.loads((dirs[1] / "train.json").read_text())
    (dirs[1] / "train.json").write_text(json.dumps({**info, "fold": 1}))
    with pytest.raises(ValueError, match="held-out fold of two"):
        combine(dirs, crossval_files(tmp_path, "cnn", 0))


def test_corrected_resampled_t_against_a_hand_computed_case() -> None:
    d = [0.02, 0.05, -0.01, 0.04, 0.03]
    result = corrected_resampled_t(d, n_train=400, n_test=100, confidence=0.95)
    # by hand: mean 0.026; deviations -0.006, 0.024, -0.036, 0.014, 0.004; squares sum 0.00212;
    # variance 0.00212 / 4 = 0.00053; corrected se sqrt((1/5 + 100/400) * 0.00053)
    se = math.sqrt(0.45 * 0.00053)
    assert result["mean_difference"] == pytest.approx(0.026)
    assert result["se"] == pytest.approx(se)
    assert result["t"] == pytest.approx(0.026 / se)
    assert result["df"] == 4
    assert result["p_value"] == pytest.approx(2 * scipy_stats.t.sf(0.026 / se, 4))
    half = scipy_stats.t.ppf(0.975, 4) * se
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((0.026 - half, 0.026 + half))


def test_the_correction_only_widens_the_plain_paired_t_test() -> None:
    d = np.random.default_rng(3).normal(0.02, 0.03, size=10)
    plain = scipy_stats.ttest_1samp(d, 0.0)
    ours = corrected_resampled_t(d, n_train=900, n_test=100, confidence=0.95)
    # t shrinks by sqrt((1/J) / (1/J + n_test/n_train)); without correction it is scipy's
    assert ours["t"] == pytest.approx(plain.statistic * math.sqrt(0.1 / (0.1 + 1 / 9)))
    assert corrected_resampled_t(d, 1e12, 1e-12, 0.95)["p_value"] == pytest.approx(plain.pvalue)
    assert ours["p_value"] > plain.pvalue


def _cv_run(seed: int, per_fold: list[float], variant: str = "a") -> dict:
    return {
        "variant": variant,
        "seed": seed,
        "k": len(per_fold),
        "folds": [
            {
                "n_train": 70,
                "n_val": 10,
                "n_heldout": 20,
                "heldout": {"accuracy": a, "macro_auroc": None},
            }
            for a in per_fold
        ],
        "out_of_fold": {"accuracy": float(np.mean(per_fold))},
        "ensemble_test": {"n_test": 30, "multiclass": {"accuracy": 0.8}},
    }


def test_comparison_averages_seeds_per_fold_before_the_test() -> None:
    base = [_cv_run(0, [0.70, 0.72, 0.68]), _cv_run(1, [0.72, 0.70, 0.70])]
    other = [_cv_run(0, [0.80, 0.78, 0.79]), _cv_run(1, [0.78, 0.80, 0.77])]
    result = compare(base, other, "accuracy", 0.95)
    per_fold = [
        (0.80 - 0.70 + 0.78 - 0.72) / 2,
        (0.78 - 0.72 + 0.80 - 0.70) / 2,
        (0.79 - 0.68 + 0.77 - 0.70) / 2,
    ]
    assert result["per_fold"] == pytest.approx(per_fold)
    expected = corrected_resampled_t(per_fold, 80, 20, 0.95)
    assert result["t"] == pytest.approx(expected["t"]) and result["df"] == 2
    assert result["verdict"] == ("better" if expected["ci_low"] > 0 else "no detectable difference")


def _study_files(tmp_path: Path) -> dict[tuple[str, int], Path]:
    """(variant, seed) -> crossval.json of variants b and a (in that order), seeds 0 and 1."""
    files = {}
    for v, acc in (("b", [0.7, 0.75, 0.69]), ("a", [0.6, 0.62, 0.58])):
        for seed in (0, 1):
            path = tmp_path / f"{v}{seed}.json"
            path.write_text(json.dumps(_cv_run(seed, [x + 0.01 * seed for x in acc], v)))
            files[(v, seed)] = path
    return files


def test_study_crossval_groups_the_runs_by_variant(tmp_path: Path) -> None:
    files = _study_files(tmp_path)
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    out = tmp_path / "stats" / "crossval.json"
    cv = write_study_crossval(out, files, comps, primary="accuracy", confidence=0.9)
    assert json.loads(out.read_text()) == json.loads(json.dumps(cv))
    assert cv["k"] == 3 and list(cv["variants"]) == ["b", "a"]  # the order of ``files``
    b = cv["variants"]["b"]
    assert b["seeds"] == [0, 1] and b["cv_mean"] == pytest.approx(0.718333, abs=1e-6)
    assert b["folds"] == [[0.7, 0.75, 0.69], [pytest.approx(x + 0.01) for x in (0.7, 0.75, 0.69)]]
    test = cv["comparisons"]["ab"]["b"]
    assert test["per_fold"] == pytest.approx([0.1, 0.13, 0.11])
    assert test["confidence"] == 0.9 and test["verdict"] == "better"
    by_variant = {v: [json.loads(files[(v, s)].read_text()) for s in (0, 1)] for v in ("a", "b")}
    expected = compare(by_variant["a"], by_variant["b"], "accuracy", 0.9)
    assert test == expected


def test_a_crossval_file_of_another_run_is_named(tmp_path: Path) -> None:
    files = _study_files(tmp_path)
    files[("a", 1)], files[("b", 1)] = files[("b", 1)], files[("a", 1)]
    with pytest.raises(
        ValueError, match=r"a1\.json: the crossval.json of a seed 1, listed as b seed 1"
    ):
        write_study_crossval(tmp_path / "cv.json", files, {}, "accuracy", 0.95)
    assert not (tmp_path / "cv.json").exists()


def test_combined_history_of_one_fold_is_that_fold() -> None:
    history = {c: np.array([1, 2]) if c == "epoch" else np.full(2, 0.5) for c in HISTORY_COLUMNS}
    out = combined_history([history])
    assert [r["epoch"] for r in out] == [1, 2] and out[1]["val_loss"] == 0.5


def test_three_classes_out_of_fold_and_fold_ensemble_match_scikit_learn(tmp_path: Path) -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(5)
    names = ["a", "b", "c"]
    pool = [f"pool/{i}.png" for i in range(30)]
    truth = {p: i % 3 for i, p in enumerate(pool)} | {f"test/{i}.png": i % 3 for i in range(9)}
    dirs = []
    for f in range(3):
        d = tmp_path / f"fold{f}"
        d.mkdir()
        dirs.append(d)
        parts = {
            "val": pool[(f + 1) % 3 :: 3][:4],
            "heldout": pool[f::3],
            "test": [f"test/{i}.png" for i in range(9)],
        }
        with (d / "scores.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(score_columns(3))
            for split, paths in parts.items():
                for p in paths:
                    q = rng.dirichlet(np.ones(3))
                    w.writerow([split, p, truth[p], *q])
        info = {
            "variant": "v",
            "seed": 0,
            "fold": f,
            "train_seconds": 1.0,
            "best_epoch": 1,
            "epochs_run": 1,
            "stopped_early": False,
            "peak_memory_mb": 1.0,
            "images_per_second": 1.0,
            "n_train": 16,
            "n_val": 4,
            "class_names": names,
            "n_classes": 3,
        }
        (d / "train.json").write_text(json.dumps(info))
        (d / "history.csv").write_text(",".join(HISTORY_COLUMNS) + "\n1,1,0.5,1,0.5,0.001,1\n")
    out = crossval_files(tmp_path, "v", 0)
    summary = combine(dirs, out)
    oof = _read(out["predictions"])
    y = [int(r["label"]) for r in oof]
    probs = np.array([[float(r[f"prob_{n}"]) for n in names] for r in oof])
    metrics = json.loads(out["metrics"].read_text())["multiclass"]
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, probs.argmax(1)))
    assert metrics["macro_f1"] == pytest.approx(f1_score(y, probs.argmax(1), average="macro"))
    ens = summary["ensemble_test"]
    assert ens["n_classes"] == 3 and "threshold_youden" not in ens
    assert ens["multiclass"]["macro_auroc"] == pytest.approx(
        roc_auc_score(
            [int(r["label"]) for r in _read(out["test_predictions"])],
            [[float(r[f"prob_{n}"]) for n in names] for r in _read(out["test_predictions"])],
            multi_class="ovr",
        )
    )


def test_the_crossval_job_imports_neither_torch_nor_scikit_learn(combined) -> None:
    import subprocess
    import sys

    root, summary = combined
    code = (
        "import sys; from pathlib import Path; "
        "from biomedclf.crossval.combine import run_crossval; "
        "from biomedclf.layout import crossval_files; "
        f"root = Path({str(root)!r}); "
        "out = crossval_files(root / 'again', 'cnn', 0); "
        f"folds = [root / 'train' / 'cnn' / f'fold{{f}}' / 'seed0' for f in range({K})]; "
        "run_crossval(*([d / n for d in folds] for n in ('scores.csv', 'train.json', "
        "'history.csv')), out, ordinal=False); "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'sklearn' not in sys.modules, 'sklearn was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    again = json.loads(crossval_files(root / "again", "cnn", 0)["crossval"].read_text())
    assert again == json.loads(json.dumps(summary))


def test_fold_lists_and_outputs_are_checked(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    out = crossval_files(tmp_path, "cnn", 0)
    with pytest.raises(ValueError, match=r"2 scores.csv, 1 train.json and 2 history.csv files"):
        run_crossval([a, b], [a], [a, b], out, ordinal=False)
    del out["test_predictions"]
    with pytest.raises(ValueError, match=r"no path for \['test_predictions'\]"):
        run_crossval([a], [a], [a], out, ordinal=False)
