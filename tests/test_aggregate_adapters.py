"""The aggregate rules' script adapters, run as Snakemake runs them (a ``snakemake`` object in
their globals) on a fake study: stats.json, then tables, figures and summary read it back."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from aggregate_fixtures import make_study

from biomedclf.stats.records import STATS_FORMAT

SCRIPTS = Path(__file__).parents[1] / "workflow" / "scripts"


def _run(script: str, **smk) -> None:
    smk.setdefault("wildcards", SimpleNamespace())
    runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": SimpleNamespace(**smk)})


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("results") / "fake"
    runs, study = make_study(root, seeds=[0, 1, 2], n_test=40)
    seeds, variants = study["seeds"], list(study["variants"])
    stats = root / "stats" / "stats.json"
    _run(
        "stats.py",
        params=SimpleNamespace(
            variants=variants,
            seeds=seeds,
            comparisons=study["comparisons"],
            statistics={"n_bootstrap": 50, "confidence": 0.9, "seed": 1, "calibration_bins": 5},
            evaluated_on="test",
        ),
        output=[str(stats)],
        log=[str(root / "logs" / "stats.log")],
    )
    return root, study, stats


def test_stats_adapter_writes_versioned_stats(study):
    _, _, stats = study
    data = json.loads(stats.read_text())
    assert data["format"] == STATS_FORMAT
    assert data["settings"]["confidence"] == 0.9 and data["settings"]["calibration_bins"] == 5


def test_table_figure_and_summary_adapters_read_the_stats(study):
    root, spec, stats = study
    variants, seeds = list(spec["variants"]), spec["seeds"]
    log = [str(root / "logs" / "job.log")]
    inputs = SimpleNamespace(stats=str(stats), data_summary=str(root / "data" / "summary.json"))
    Path(inputs.data_summary).parent.mkdir(parents=True, exist_ok=True)
    Path(inputs.data_summary).write_text(json.dumps(spec["data_summary"]))
    params = SimpleNamespace(variants=variants, seeds=seeds)
    _run(
        "study_tables.py",
        params=params,
        input=inputs,
        log=log,
        output=[str(root / "tables" / "test_metrics.csv")],
    )
    _run(
        "study_figures.py",
        params=params,
        input=inputs,
        log=log,
        output=[str(root / "figures" / "test_accuracy.png")],
    )
    dropout = spec["comparisons"]["dropout"]
    comp = SimpleNamespace(
        comparison=dropout, variants=[dropout["baseline"], *dropout["variants"]], seeds=seeds
    )
    wildcards = SimpleNamespace(comparison="dropout")
    _run(
        "comparison_tables.py",
        params=comp,
        input=inputs,
        log=log,
        wildcards=wildcards,
        output=[str(root / "tables" / "comparison_dropout.csv")],
    )
    _run(
        "comparison_figures.py",
        params=comp,
        input=inputs,
        log=log,
        wildcards=wildcards,
        output=[str(root / "figures" / "curves_dropout.png")],
    )
    summary = SimpleNamespace(
        name="fake",
        variants=variants,
        seeds=seeds,
        specs=spec["variants"],
        comparisons={"dropout": spec["comparisons"]["dropout"]},
        folds=None,
    )
    _run("summary.py", params=summary, input=inputs, log=log, output=[str(root / "summary.md")])
    for name in (
        "test_metrics.md",
        "training_time.csv",
        "per_class.csv",
        "per_class.md",
        "comparison_dropout.md",
        "stats_dropout.csv",
    ):
        assert (root / "tables" / name).stat().st_size > 0, name
    for name in (
        "test_accuracy.png",
        "reliability.png",
        "curves_dropout.png",
        "roc_dropout.png",
        "confusion_dropout.png",
    ):
        assert (root / "figures" / name).stat().st_size > 0, name
    text = (root / "summary.md").read_text()
    assert "90% percentile-bootstrap intervals (50 resamples" in text
    assert "### dropout: cnn vs cnn_dropout" in text


def test_architecture_adapter(tmp_path):
    params = SimpleNamespace(
        specs={"ann": {"model": "linear", "model_args": {"hidden": [8]}}},
        image_size=8,
        channels=1,
        class_names=["a", "b"],
    )
    out = tmp_path / "tables" / "architecture.csv"
    _run("architecture.py", params=params, output=[str(out)], log=[str(tmp_path / "a.log")])
    rows = out.read_text().splitlines()
    assert rows[0] == "variant,layer,output_shape,parameters" and rows[-1].startswith("ann,Total")


def test_evaluate_adapter_passes_ordinal(tmp_path):
    """The evaluate rule's adapter: scores.csv and train.json in, metrics.json and
    predictions.csv out; ``params.ordinal`` makes kappa quadratic."""
    runs, _ = make_study(
        tmp_path / "s", {"a": ("conv", 0.8, 1.0)}, seeds=[0], n_test=30, comparisons={}, n_classes=3
    )
    run = runs[0]
    out = tmp_path / "eval"
    for ordinal in (True, False):
        _run(
            "evaluate.py",
            input=SimpleNamespace(scores=str(run.scores), info=str(run.train_json)),
            output=SimpleNamespace(
                metrics=str(out / "metrics.json"), predictions=str(out / "predictions.csv")
            ),
            params=SimpleNamespace(ordinal=ordinal),
            log=[str(tmp_path / "eval.log")],
        )
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["ordinal"] is ordinal
        assert metrics["multiclass"]["kappa_weights"] == ("quadratic" if ordinal else "none")
    assert (out / "predictions.csv").read_text() == run.predictions.read_text()
