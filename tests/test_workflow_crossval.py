"""A cross-validated study end to end (data.split.folds): one training job per variant x fold
x seed, out-of-fold predictions, the fold ensemble, the statistics across folds, the summary;
and reruns that schedule exactly the expected jobs when a seed is added, a variant changes or
the fold count changes."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from repo_copy import copy_repo
from workflow_helpers import edited, planned_jobs, planned_rules, snakemake

pytestmark = pytest.mark.workflow

CONFIG = "configs/cv_test.yaml"
FOLDS, SEEDS, VARIANTS = 3, [0, 1], ["ann", "cnn"]
STUDY = {
    "name": "cvtest",
    "replace_defaults": ["variants", "comparisons"],
    "data": {
        "source": "synthetic",
        "image_size": 16,
        "split": {"val": 0.2, "test": 0.25, "seed": 0, "folds": FOLDS},
        "synthetic": {"n_per_class": 40, "difficulty": 0.3, "seed": 0},
    },
    "training": {"epochs": 2, "batch_size": 16, "seeds": SEEDS, "device": "cpu"},
    "variants": {"ann": {"model": "linear"}, "cnn": {"model": "conv"}},
    "comparisons": {"ann_vs_cnn": {"baseline": "ann", "variants": ["cnn"]}},
    "statistics": {"n_bootstrap": 100},
    "resources": {"prepare_threads": 1},
}
AGGREGATES = {
    "stats",
    "study_tables",
    "comparison_tables",
    "study_figures",
    "comparison_figures",
    "summary",
    "crossval_stats",
    "crossval_report",
}


@pytest.fixture(scope="module")
def cv_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("cv") / "repo")
    (repo / CONFIG).write_text(yaml.safe_dump(STUDY, sort_keys=False))
    snakemake(repo, "--cores", "2", "--configfile", CONFIG)
    return repo


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_one_training_job_per_variant_fold_and_seed(cv_study: Path) -> None:
    study = cv_study / "results" / "cvtest"
    for v in VARIANTS:
        for s in SEEDS:
            for f in range(FOLDS):
                info = json.loads(
                    (study / "train" / v / f"fold{f}" / f"seed{s}" / "train.json").read_text()
                )
                assert (info["variant"], info["seed"], info["fold"]) == (v, s, f)
            assert not (study / "train" / v / f"seed{s}" / "model.pt").exists()


def test_every_non_test_image_is_out_of_fold_exactly_once(cv_study: Path) -> None:
    study = cv_study / "results" / "cvtest"
    manifest = _rows(study / "data" / "manifest.csv")
    pool = sorted(r["path"] for r in manifest if r["split"] == "cv")
    test = sorted(r["path"] for r in manifest if r["split"] == "test")
    fold_of = {r["path"]: int(r["fold"]) for r in manifest if r["split"] == "cv"}
    for v in VARIANTS:
        for s in SEEDS:
            oof = _rows(study / "eval" / v / f"seed{s}" / "predictions.csv")
            assert sorted(r["path"] for r in oof) == pool
            # each from the fold model that held it out
            for f in range(FOLDS):
                scores = _rows(study / "train" / v / f"fold{f}" / f"seed{s}" / "scores.csv")
                held = {r["path"] for r in scores if r["split"] == "heldout"}
                inner = {r["path"] for r in scores if r["split"] == "val"}
                assert held == {p for p, k in fold_of.items() if k == f}
                assert not held & inner, "the inner validation holds held-out images"
            ens = _rows(study / "eval" / v / f"seed{s}" / "test_predictions.csv")
            assert sorted(r["path"] for r in ens) == test


def test_fold_ensemble_on_the_test_split_is_the_mean_of_the_fold_models(cv_study: Path) -> None:
    study = cv_study / "results" / "cvtest"
    run = study / "eval" / "cnn" / "seed1"
    per_fold = []
    for f in range(FOLDS):
        scores = _rows(study / "train" / "cnn" / f"fold{f}" / "seed1" / "scores.csv")
        per_fold.append({r["path"]: float(r["prob_1"]) for r in scores if r["split"] == "test"})
    for r in _rows(run / "test_predictions.csv"):
        assert float(r["prob_opacity"]) == pytest.approx(np.mean([p[r["path"]] for p in per_fold]))


def test_summary_reports_the_design_the_estimates_and_the_tests_across_folds(
    cv_study: Path,
) -> None:
    study = cv_study / "results" / "cvtest"
    text = (study / "summary.md").read_text()
    assert "## Cross-validation" in text and f"{FOLDS}-fold cross-validation" in text
    assert "inner validation part" in text and "Fold ensemble on test" in text
    assert "Nadeau-Bengio corrected resampled t-test" in text
    assert "rests on the recipe-level interval over" in text
    assert "out-of-fold images" in text.split("\n", 3)[2]
    assert "## Out-of-fold accuracy per variant" in text and "## Test accuracy" not in text
    stats = json.loads((study / "stats" / "stats.json").read_text())
    assert stats["evaluated_on"] == "out-of-fold"
    cv = json.loads((study / "stats" / "crossval.json").read_text())
    assert cv["k"] == FOLDS and set(cv["variants"]) == set(VARIANTS)
    assert len(cv["variants"]["cnn"]["folds"]) == len(SEEDS)
    for name in ("folds.png", "fold_curves.png"):
        assert (study / "figures" / name).stat().st_size > 0


def _jobs_with(repo: Path, change) -> Counter:
    data = yaml.safe_load((repo / CONFIG).read_text())
    change(data)
    with edited(repo / CONFIG, yaml.safe_dump(data, sort_keys=False)):
        return planned_jobs(repo, CONFIG)


def _by_rule(jobs: Counter, rule: str) -> set[str]:
    return {w for (r, w) in jobs if r == rule}


def test_adding_a_seed_trains_only_its_folds(cv_study: Path) -> None:
    jobs = _jobs_with(cv_study, lambda d: d["training"]["seeds"].append(2))
    assert _by_rule(jobs, "train") == {
        f"variant={v}, fold={f}, seed=2" for v in VARIANTS for f in range(FOLDS)
    }
    assert _by_rule(jobs, "crossval") == {f"variant={v}, seed=2" for v in VARIANTS}
    # explain: the new seed's fold ensembles join each variant's error gallery
    rules = {r for r, _ in jobs}
    assert rules == {"train", "crossval", "explain", "explain_figures", "all", *AGGREGATES}


def test_changing_a_variant_retrains_its_folds_only(cv_study: Path) -> None:
    jobs = _jobs_with(cv_study, lambda d: d["variants"]["cnn"].update(lr=0.002))
    assert _by_rule(jobs, "train") == {
        f"variant=cnn, fold={f}, seed={s}" for f in range(FOLDS) for s in SEEDS
    }
    assert _by_rule(jobs, "crossval") == {f"variant=cnn, seed={s}" for s in SEEDS}
    assert _by_rule(jobs, "explain") == {"variant=cnn, seed=0"}
    assert {r for r, _ in jobs} - {"train", "crossval", "explain"} == {
        "explain_figures",
        "all",
        *AGGREGATES,
    }


def test_changing_the_fold_count_reruns_preparation_and_everything_after(cv_study: Path) -> None:
    jobs = _jobs_with(cv_study, lambda d: d["data"]["split"].update(folds=4))
    assert {r for r, _ in jobs} == {
        "prepare",
        "train",
        "crossval",
        "explain",
        "explain_figures",
        "all",
        *AGGREGATES,
    }
    assert len(_by_rule(jobs, "train")) == len(VARIANTS) * 4 * len(SEEDS)
    assert "synthesize" not in {r for r, _ in jobs}


def test_nothing_reruns_on_a_finished_study(cv_study: Path) -> None:
    assert planned_rules(cv_study, CONFIG) == set()


#: Each cross-validation script and the rules that rerun when it changes.
CV_SCRIPTS = {
    "crossval.py": {"crossval", "explain", "explain_figures", "all", *AGGREGATES},
    "crossval_stats.py": {"crossval_stats", "crossval_report", "summary", "all"},
    "crossval_report.py": {"crossval_report", "all"},
}


@pytest.mark.parametrize("script", sorted(CV_SCRIPTS))
def test_script_edit_reruns_its_rule(cv_study: Path, script: str) -> None:
    path = cv_study / "workflow" / "scripts" / script
    stat = path.stat()
    with edited(path, path.read_text() + "\n# edited\n"):
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert planned_rules(cv_study, CONFIG) == CV_SCRIPTS[script]


def test_more_folds_than_a_class_has_images_stops_the_dry_run(cv_study: Path) -> None:
    data = yaml.safe_load((cv_study / CONFIG).read_text())
    data["data"]["split"]["folds"] = 41  # 40 images per class
    with edited(cv_study / CONFIG, yaml.safe_dump(data, sort_keys=False)):
        proc = snakemake(cv_study, "-n", "--cores", "2", "--configfile", CONFIG, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Building DAG" not in out
    assert "data.split.folds: 41 folds" in out and "largest k that can work is 40" in out
