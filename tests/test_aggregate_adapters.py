"""The statistics and report rules' script adapters, run as Snakemake runs them (a ``snakemake``
object in their globals, with the named inputs, outputs and params of the rules) on a fake
study: stats.json, then tables, figures, the cross-validation report and summary.md read it
back and write exactly the files they are handed."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from aggregate_fixtures import (
    figure_outputs,
    make_study,
    statistics_section,
    summary_links,
    table_outputs,
    write_fake_explain,
)

from biomedclf import layout
from biomedclf.io import write_json
from biomedclf.stats.records import STATS_FORMAT

SCRIPTS = Path(__file__).parents[1] / "workflow" / "scripts"

#: The interval level of the fake study (not the schema's default, so a fixed "95%" shows).
CONFIDENCE = 0.9


class Named(list):
    """Snakemake's input, output or params: the entries in order (lists flattened), each also
    reachable by its name; ``items()`` gives (name, entry)."""

    def __init__(self, *positional, **named):
        flat = list(positional)
        for value in named.values():
            flat += value if isinstance(value, list) else [value]
        super().__init__(str(x) if isinstance(x, Path) else x for x in flat)
        self._named = {k: _strings(v) for k, v in named.items()}
        for key, value in self._named.items():
            setattr(self, key, value)

    def items(self):
        return self._named.items()


def _strings(value):
    """Paths as Snakemake hands them: strings."""
    if isinstance(value, list):
        return [_strings(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def _run(script: str, log: Path, **smk) -> None:
    smk.setdefault("wildcards", SimpleNamespace())
    smk["log"] = [str(log)]
    runpy.run_path(str(SCRIPTS / script), init_globals={"snakemake": SimpleNamespace(**smk)})


def _keys(runs) -> list[list]:
    return [[r.variant, r.seed] for r in runs]


def _metrics(runs) -> list[Path]:
    """What an aggregate rule names of each run: its metrics.json alone."""
    return [r.metrics for r in runs]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("results") / "fake"
    runs, study = make_study(root, seeds=[0, 1, 2], n_test=40)
    stats = layout.stats_file(root)
    _run(
        "stats.py",
        root / "logs" / "stats.log",
        params=Named(
            runs=_keys(runs),
            comparisons=study["comparisons"],
            statistics=statistics_section(
                n_bootstrap=50, confidence=CONFIDENCE, seed=1, calibration_bins=5
            ),
            evaluated_on="test",
        ),
        input=Named(metrics=_metrics(runs)),
        output=Named(stats=stats),
    )
    return root, runs, study, stats


def test_stats_adapter_writes_versioned_stats(study):
    _, _, _, stats = study
    data = json.loads(stats.read_text())
    assert data["format"] == STATS_FORMAT
    assert data["settings"]["confidence"] == CONFIDENCE
    assert data["settings"]["calibration_bins"] == 5


def test_table_and_figure_adapters_write_the_files_they_are_handed(study):
    root, runs, spec, stats = study
    log = root / "logs" / "job.log"
    inputs = Named(metrics=_metrics(runs), stats=stats)
    tables = ("test_metrics", "training_time", "per_class", "ranking")
    _run(
        "study_tables.py",
        log,
        params=Named(runs=_keys(runs)),
        input=inputs,
        output=Named(**table_outputs(root, tables)),
    )
    _run(
        "study_figures.py",
        log,
        params=Named(runs=_keys(runs)),
        input=inputs,
        output=Named(**figure_outputs(root, layout.STUDY_FIGURES)),
    )
    dropout = spec["comparisons"]["dropout"]
    members = [r for r in runs if r.variant in (dropout["baseline"], *dropout["variants"])]
    comp = dict(
        params=Named(comparison=dropout, runs=_keys(members)),
        input=Named(metrics=_metrics(members), stats=stats),
        wildcards=SimpleNamespace(comparison="dropout"),
    )
    _run(
        "comparison_tables.py",
        log,
        output=Named(**table_outputs(root, layout.COMPARISON_TABLES, "dropout")),
        **comp,
    )
    _run(
        "comparison_figures.py",
        log,
        output=Named(**figure_outputs(root, ("curves", "roc", "confusion"), "dropout")),
        **comp,
    )
    written = sorted(p.relative_to(root).as_posix() for p in root.glob("[tf]*s/*.*"))
    assert written == sorted(
        [f"tables/{t}.{ext}" for t in tables for ext in ("csv", "md")]
        + [f"tables/{t}_dropout.{ext}" for t in ("comparison", "stats") for ext in ("csv", "md")]
        + [f"figures/{f}.png" for f in layout.STUDY_FIGURES]
        + [f"figures/{f}_dropout.png" for f in ("curves", "roc", "confusion")]
    )
    assert "90% CI" in (root / "tables" / "stats_dropout.md").read_text()


def test_architecture_adapter(tmp_path):
    files = [tmp_path / "tables" / "architecture.csv", tmp_path / "tables" / "architecture.md"]
    _run(
        "architecture.py",
        tmp_path / "a.log",
        params=Named(
            specs={"ann": {"model": "linear", "model_args": {"hidden": [8]}}},
            image_size=8,
            channels=1,
            n_classes=2,
        ),
        output=Named(architecture=files),
    )
    rows = files[0].read_text().splitlines()
    assert rows[0] == "variant,layer,output_shape,parameters,flops"
    assert rows[-1] == f"ann,Total,,{64 * 8 + 8 + 8 + 1},{2 * (64 * 8 + 8)}"
    assert files[1].read_text().startswith("# Architecture of each variant")


def test_explain_figures_adapter(study):
    root, runs, spec, _ = study
    write_fake_explain(root, runs, spec["comparisons"], n_images=4)
    variants = list(spec["variants"])
    keys = [[c, kind] for c in spec["comparisons"] for kind in ("saliency", "errors")]
    files = [layout.explain_files(root, v, 0) for v in variants]
    _run(
        "explain_figures.py",
        root / "logs" / "explain.log",
        params=Named(comparisons=spec["comparisons"], variants=variants, figures=keys),
        input=Named(maps=[f["maps"] for f in files], errors=[f["errors"] for f in files]),
        output=Named(*[layout.figure_file(root, kind, c) for c, kind in keys]),
    )
    for c, kind in keys:
        assert layout.figure_file(root, kind, c).read_bytes().startswith(b"\x89PNG")


def fake_crossval(spec: dict, k: int) -> dict:
    """stats/crossval.json of the fake study (workflow/CONTRACTS.md), accuracies by hand."""
    accuracy = {"ann": 0.70, "cnn": 0.75, "cnn_dropout": 0.85}
    summary = {"mean": 0.8, "sd": 0.01}
    variants = {
        v: {
            "seeds": [0, 1, 2],
            "folds": [[accuracy[v] + 0.01 * (f - s) for f in range(k)] for s in range(3)],
            "cv_mean": accuracy[v],
            "cv_sd": 0.01,
            "cv_ci": [accuracy[v] - 0.02, accuracy[v] + 0.02],
            "out_of_fold": summary,
            "ensemble_test": summary,
            "ensemble_test_accuracy": summary,
            "n_test": 40,
            "n_train": 80.0,
            "n_heldout": 40.0,
        }
        for v in spec["variants"]
    }
    test = {
        "mean_difference": 0.05,
        "se": 0.01,
        "t": 5.0,
        "df": k - 1,
        "p_value": 0.04,
        "ci_low": 0.01,
        "ci_high": 0.09,
        "confidence": CONFIDENCE,
        "n_folds": k,
        "n_train": 80.0,
        "n_test": 40.0,
        "per_fold": [0.05] * k,
        "verdict": "better",
    }
    return {
        "format": "biomedclf-crossval/1",
        "k": k,
        "metric": "accuracy",
        "test": "Nadeau-Bengio corrected resampled t-test, seeds averaged per fold",
        "variants": variants,
        "comparisons": {
            c: {v: test for v in comp["variants"]} for c, comp in spec["comparisons"].items()
        },
    }


def test_crossval_report_adapter_names_the_interval_level(study):
    root, runs, spec, _ = study
    cv = layout.stats_file(root, "crossval")
    write_json(cv, fake_crossval(spec, 3))
    keys = [[v, f] for v in spec["variants"] for f in range(3)]
    history = {(r.variant, r.seed): r.history for r in runs}  # seed s stands in for fold s
    _run(
        "crossval_report.py",
        root / "logs" / "crossval.log",
        params=Named(
            histories=keys,
            comparisons={
                c: {"baseline": x["baseline"], "variants": x["variants"]}
                for c, x in spec["comparisons"].items()
            },
            confidence=CONFIDENCE,
        ),
        input=Named(stats=cv, histories=[history[v, f] for v, f in keys]),
        output=Named(
            **table_outputs(root, layout.CROSSVAL_TABLES),
            **figure_outputs(root, layout.CROSSVAL_FIGURES),
        ),
    )
    table = (root / "tables" / "crossval.md").read_text()
    assert "| Corrected 90% CI |" in table and "95%" not in table
    assert "| Corrected 90% CI |" in (root / "tables" / "crossval_tests.md").read_text()
    rows = (root / "tables" / "crossval_tests.csv").read_text().splitlines()
    assert rows[1].startswith("dropout,cnn,cnn_dropout,accuracy,0.05,0.01,0.09,")
    for f in layout.CROSSVAL_FIGURES:
        assert layout.figure_file(root, f).read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("folds", [None, 3])
def test_summary_adapter(study, folds):
    root, runs, spec, stats = study
    data = layout.data_file(root, "summary")
    design = {
        "split": {"val": 0.2, "seed": 0, "group": None, "group_pattern": None},
        "folds": {"k": 3, "seed": 0, "inner_val": 0.2},
    }
    write_json(data, {**spec["data_summary"], **design})
    write_fake_explain(root, runs, spec["comparisons"], n_images=4)
    explained = [[v, 0] for v in spec["variants"]]
    crossval = layout.stats_file(root, "crossval")
    if folds:
        write_json(crossval, fake_crossval(spec, folds))
    out = layout.summary_file(root)
    _run(
        "summary.py",
        root / "logs" / "summary.log",
        params=Named(
            name="fake",
            runs=_keys(runs),
            explained=explained,
            specs=spec["variants"],
            comparisons=spec["comparisons"],
            folds=folds,
            links=summary_links(
                root, spec["comparisons"], [(v, s) for v, s in explained], bool(folds)
            ),
            sweeps=[],  # the sweeps' names (tests/test_sweeps_report.py draws a section)
        ),
        input=Named(
            metrics=_metrics(runs),
            stats=stats,
            data_summary=data,
            sanity=[layout.explain_files(root, v, s)["sanity"] for v, s in explained],
            crossval=[crossval] if folds else [],
            sweeps=[],
        ),
        output=Named(summary=out),
    )
    text = out.read_text()
    assert "90% percentile-bootstrap intervals (50 resamples" in text
    assert "### dropout: cnn vs cnn_dropout" in text
    assert "| cnn | 0 | Grad-CAM (features.6) |" in text and "(explain/cnn/seed0/maps.npz)" in text
    assert ("## Cross-validation" in text) == bool(folds)
    if folds:
        assert "| Corrected 90% CI |" in text and "(90% CI +1.0 to +9.0)" in text
        assert "[metric per fold](figures/folds.png)" in text
        assert "identical images kept in one fold (scikit-learn's StratifiedGroupKFold" in text


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
            tmp_path / "eval.log",
            input=Named(
                scores=run.history.with_name(layout.TRAIN_FILES["scores"]), info=run.train_json
            ),
            output=Named(metrics=out / "metrics.json", predictions=out / "predictions.csv"),
            params=Named(ordinal=ordinal),
            wildcards=SimpleNamespace(variant="a", seed="0"),
        )
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["ordinal"] is ordinal
        assert metrics["multiclass"]["kappa_weights"] == ("quadratic" if ordinal else "none")
    assert (out / "predictions.csv").read_text() == run.predictions.read_text()
