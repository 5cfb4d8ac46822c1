"""Tables of the report: rows match variants and seeds, Markdown is well-formed, each table is
written to the files the rule names."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
from aggregate_fixtures import make_study, study_stats, table_outputs

from biomedclf.evaluate.run_results import load_metrics
from biomedclf.io import write_json
from biomedclf.layout import COMPARISON_TABLES
from biomedclf.report import labels, rendering
from biomedclf.report.tables import architecture
from biomedclf.report.tables import study as study_tables
from biomedclf.report.tables import write as tables
from biomedclf.stats.records import Interval, Summary

#: The tables of the study_tables rule.
STUDY_TABLES = ("test_metrics", "training_time", "per_class", "ranking")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def assert_markdown_tables_well_formed(text: str) -> int:
    """Every table: a header, a separator of ---, rows with the header's cell count."""
    lines = text.splitlines()
    n_tables = 0
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            cells = [_split_row(r) for r in block]
            assert len(block) >= 3, f"table without rows: {block}"
            assert all(c.strip(":").strip("-") == "" and "-" in c for c in cells[1]), block[1]
            assert all(len(c) == len(cells[0]) for c in cells), block
            assert all(r.endswith("|") for r in block)
            n_tables += 1
        i += 1
    return n_tables


def _split_row(row: str) -> list[str]:
    inner = row.strip()[1:-1]
    parts, cur, esc = [], "", False
    for ch in inner:
        if esc:
            cur += ch
            esc = False
        elif ch == "\\":
            cur += ch
            esc = True
        elif ch == "|":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    runs, study = make_study(root, seeds=[0, 1, 2], n_test=60)
    st = study_stats(runs, study["comparisons"], root / "stats" / "stats.json", n_bootstrap=200)
    return root, runs, study, st


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """ "strong" right on 24 more of 60 images than "base" in every seed; "twin" on the same."""
    root = tmp_path_factory.mktemp("known")
    variants = {
        "base": ("conv", 0.6, 1.0),
        "strong": ("conv", 1.0, 1.0),
        "twin": ("conv", 0.6, 1.0),
    }
    comps = {"up": {"baseline": "base", "variants": ["strong", "twin"]}}
    runs, _ = make_study(root, variants, seeds=[0, 1, 2], n_test=60, comparisons=comps, exact=True)
    st = study_stats(runs, comps, root / "stats" / "stats.json", n_bootstrap=200)
    return runs, comps, st


def _summary(mean, sd):
    return Summary(mean=mean, sd=sd, min=None, max=None, n=0, values=[])


def test_markdown_table_renderer_escapes_pipes_and_checks_width():
    text = rendering.markdown_table(["a", "b|c"], [[1, "x|y"], [None, 2.5]], ["l", "r"])
    assert assert_markdown_tables_well_formed(text) == 1
    assert "x\\|y" in text and "---:" in text
    with pytest.raises(ValueError, match="row 0"):
        rendering.markdown_table(["a"], [[1, 2]])
    with pytest.raises(ValueError, match="1 alignments for 2 columns"):
        rendering.markdown_table(["a", "b"], [], ["l"])


def test_formatters():
    assert rendering.fmt_mean_sd(_summary(0.7725, 0.012), "accuracy") == "77.2 ± 1.2"
    assert rendering.fmt_mean_sd(_summary(0.8, None), "accuracy") == "80.0"
    assert rendering.fmt_mean_sd(_summary(None, None), "accuracy") == "n/a"
    assert rendering.fmt_mean_sd(None) == "n/a"
    assert rendering.fmt_mean_sd(_summary(12.345, 0.5), "train_seconds") == "12.35 ± 0.50"
    assert rendering.fmt_mean_sd(_summary(4.0, None), "epochs_run") == "4"
    assert rendering.fmt_value(123.6, "images_per_second") == "124"
    assert rendering.fmt_value(float("nan"), "brier") == "n/a"
    interval = Interval(estimate=0.15, low=0.1, high=0.2, n_valid=10)
    assert rendering.fmt_ci(interval, "auroc") == "[0.100, 0.200]"
    assert rendering.fmt_ci(dataclasses.replace(interval, low=None), "auroc") == "n/a"
    assert rendering.fmt_p(0.0001) == "< 0.001" and rendering.fmt_p(0.0432) == "0.0432"
    assert rendering.p_text(0.0001) == "p < 0.001" and rendering.p_text(0.5) == "p = 0.5"
    assert rendering.fmt_int(2097184) == "2,097,184" and rendering.fmt_int("1, 2") == "1, 2"


def test_labels_come_from_the_data():
    assert rendering.plural(1, "seed") == "1 seed" and rendering.plural(3, "seed") == "3 seeds"
    assert rendering.level_text(0.95) == "95%" and rendering.level_text(0.9) == "90%"
    assert labels.metric_name("accuracy") == "test accuracy"
    assert labels.metric_name("accuracy", "out-of-fold") == "out-of-fold accuracy"
    assert labels.metric_name("accuracy", None) == "accuracy"
    assert labels.metric_name("auroc") == "AUROC"
    assert labels.metric_name("auroc", multiclass=True) == "macro AUROC"
    assert labels.metric_name("macro_auroc", None) == "macro AUROC"
    assert labels.capitalised("macro AUROC") == "Macro AUROC"
    with pytest.raises(ValueError, match="no name for metric 'nope'"):
        labels.metric_name("nope")
    assert labels.loss_label(["binary cross-entropy"] * 3) == "Loss (BCE)"
    assert labels.loss_label(["cross-entropy"]) == "Loss (cross-entropy)"
    assert labels.loss_label(["focal", "cross-entropy"]) == "Loss (focal, cross-entropy)"


def test_study_tables_rows_match_variants_and_seeds(study, tmp_path):
    _, runs, spec, st = study
    paths = tables.write_study_tables(runs, st.source, table_outputs(tmp_path, STUDY_TABLES))
    names = sorted(p.name for p in paths)
    assert names == [
        "per_class.csv",
        "per_class.md",
        "ranking.csv",
        "ranking.md",
        "test_metrics.csv",
        "test_metrics.md",
        "training_time.csv",
        "training_time.md",
    ]
    assert all(p.parent == tmp_path / "tables" and p.stat().st_size > 0 for p in paths)
    rows = _read_csv(tmp_path / "tables" / "test_metrics.csv")
    seed_rows = [(r["variant"], int(r["seed"])) for r in rows if r["statistic"] == "seed"]
    assert seed_rows == [(v, s) for v in spec["variants"] for s in spec["seeds"]]
    for v in spec["variants"]:
        stats_rows = [r["statistic"] for r in rows if r["variant"] == v]
        assert stats_rows == ["seed"] * 3 + ["mean", "sd", "ensemble"]
    # per-seed accuracy equals metrics.json; mean row equals the mean
    for run in runs:
        want = load_metrics(run.metrics)["threshold_0.5"]["accuracy"]
        got = next(r for r in rows if r["variant"] == run.variant and r["seed"] == str(run.seed))
        assert float(got["accuracy"]) == pytest.approx(want, abs=1e-6)
        assert float(got["accuracy_ci_low"]) <= want <= float(got["accuracy_ci_high"])
    for v, vs in st.variants.items():
        mean = next(r for r in rows if r["variant"] == v and r["statistic"] == "mean")
        assert float(mean["accuracy"]) == pytest.approx(vs.metrics.at_half.accuracy.mean, abs=1e-6)
        assert float(mean["accuracy_ci_low"]) == pytest.approx(
            vs.bootstrap.seed_mean.accuracy.low, abs=1e-6
        )
        ens = next(r for r in rows if r["variant"] == v and r["statistic"] == "ensemble")
        assert float(ens["auroc"]) == pytest.approx(vs.ensemble.auroc, abs=1e-6)
        assert float(ens["ece"]) == pytest.approx(vs.calibration.ece_ensemble, abs=1e-6)
    md = (tmp_path / "tables" / "test_metrics.md").read_text()
    assert assert_markdown_tables_well_formed(md) == 1
    for v in spec["variants"]:
        assert f"| {v} |" in md
    cnn_acc = st.variants["cnn"].metrics.at_half.accuracy
    assert f"| {100 * cnn_acc.mean:.1f} ± {100 * cnn_acc.sd:.1f} |" in md
    time_rows = _read_csv(tmp_path / "tables" / "training_time.csv")
    assert [(r["variant"], r["seed"]) for r in time_rows if r["statistic"] == "seed"] == [
        (v, str(s)) for v in spec["variants"] for s in spec["seeds"]
    ]
    assert {r["device"] for r in time_rows} == {"cpu"}
    md = (tmp_path / "tables" / "training_time.md").read_text()
    assert assert_markdown_tables_well_formed(md) == 1 and "2,100,000" in md
    assert not any("homework" in p.read_text().lower() for p in paths)


def test_comparison_tables(study, tmp_path):
    _, runs, spec, st = study
    comp = spec["comparisons"]["dropout"]
    outputs = table_outputs(tmp_path, COMPARISON_TABLES, "dropout")
    paths = tables.write_comparison_tables("dropout", comp, runs, st.source, outputs)
    assert sorted(p.name for p in paths) == [
        "comparison_dropout.csv",
        "comparison_dropout.md",
        "stats_dropout.csv",
        "stats_dropout.md",
    ]
    rows = _read_csv(tmp_path / "tables" / "comparison_dropout.csv")
    assert [(r["role"], r["variant"]) for r in rows] == [
        ("baseline", "cnn"),
        ("variant", "cnn_dropout"),
    ]
    for r in rows:
        gap = float(r["final_train_accuracy_mean"]) - float(r["final_val_accuracy_mean"])
        assert float(r["overfitting_gap_mean"]) == pytest.approx(gap, abs=1e-5)
        assert float(r["train_seconds_mean"]) > 0
    srows = _read_csv(tmp_path / "tables" / "stats_dropout.csv")
    acc_seed = [r for r in srows if r["metric"] == "accuracy" and r["scope"] == "seed"]
    assert [r["seed"] for r in acc_seed] == ["0", "1", "2"]
    assert all(r["mcnemar_p"] != "" for r in acc_seed)
    scopes = {(r["metric"], r["scope"]): r for r in srows}
    assert {m for m, _ in scopes} == {"accuracy", "balanced_accuracy", "auroc"}
    result = st.result("dropout", "cnn_dropout")
    for metric in ("accuracy", "balanced_accuracy", "auroc"):
        block = result.metric(metric)
        recipe, trained = scopes[metric, "recipe"], scopes[metric, "trained_models"]
        assert recipe["verdict"] == block.verdict
        assert trained["verdict"] == block.trained_models_verdict
        assert float(recipe["ci_low"]) == pytest.approx(block.recipe.low, abs=1e-6)
        assert float(trained["ci_low"]) == pytest.approx(block.trained_models.low, abs=1e-6)
        assert float(recipe["difference"]) == pytest.approx(block.recipe.difference, abs=1e-6)
        assert recipe["n_seeds"] == "3/3" and recipe["n_images"] == "60"
        assert float(recipe["p_value"]) == pytest.approx(block.recipe.p_value, abs=1e-6)
    md = (tmp_path / "tables" / "stats_dropout.md").read_text()
    assert assert_markdown_tables_well_formed(md) == 1
    assert "| recipe (3 training runs of each and 60 test images) |" in md
    assert "| these trained models |" in md and "seed ensemble" in md
    assert "would the variant be ahead again if both were trained again" in md
    assert "\nNotes:\n\n- cnn_dropout: 3 training runs of each (fewer than 5)" in md
    md = (tmp_path / "tables" / "comparison_dropout.md").read_text()
    assert assert_markdown_tables_well_formed(md) == 1
    assert not any("homework" in p.read_text().lower() for p in paths)


def test_stats_table_pins_the_known_verdicts(known, tmp_path):
    runs, comps, st = known
    outputs = table_outputs(tmp_path, COMPARISON_TABLES, "up")
    tables.write_comparison_tables("up", comps["up"], runs, st.source, outputs)
    srows = _read_csv(tmp_path / "tables" / "stats_up.csv")
    recipe = {
        r["variant"]: r for r in srows if r["metric"] == "accuracy" and r["scope"] == "recipe"
    }
    assert recipe["strong"]["verdict"] == "better"
    assert float(recipe["strong"]["difference"]) == pytest.approx(24 / 60)
    assert float(recipe["strong"]["ci_low"]) > 0
    assert recipe["twin"]["verdict"] == "no detectable difference"
    assert (recipe["twin"]["difference"], recipe["twin"]["ci_low"]) == ("0.0", "0.0")
    assert (recipe["twin"]["p_value"], recipe["twin"]["seeds_needed"]) == ("1.0", "")
    ens = {r["variant"]: r for r in srows if r["metric"] == "accuracy" and r["scope"] == "ensemble"}
    assert ens["twin"]["mcnemar_p"] == "1.0" and ens["strong"]["mcnemar_variant_only"] == "24"
    md = (tmp_path / "tables" / "stats_up.md").read_text()
    assert "| **better** |" in md and "| **no detectable difference** |" in md
    assert "| < 0.001 |" in md  # McNemar p of strong vs base on the ensemble


def test_comparison_table_rejects_unknown_variant(study, tmp_path):
    _, runs, _, st = study
    outputs = table_outputs(tmp_path, COMPARISON_TABLES, "bad")
    with pytest.raises(ValueError, match="comparisons.bad"):
        tables.write_comparison_tables(
            "bad", {"baseline": "cnn", "variants": ["nope"]}, runs, st.source, outputs
        )
    assert not (tmp_path / "tables").exists()


def test_stats_must_cover_the_runs(study, tmp_path):
    _, runs, _, st = study
    partial = dataclasses.replace(st, variants={k: v for k, v in st.variants.items() if k != "ann"})
    write_json(tmp_path / "partial.json", partial.to_dict())
    with pytest.raises(ValueError, match="ann"):
        tables.write_study_tables(
            runs, tmp_path / "partial.json", table_outputs(tmp_path, STUDY_TABLES)
        )


def test_tables_go_where_the_rule_names_them(study, tmp_path):
    """Each table to the two files the rule names, whatever they are called; the rule must
    name every table and no other."""
    _, runs, _, st = study
    outputs = {t: [tmp_path / "a" / f"{t}.x", tmp_path / "b" / f"{t}.y"] for t in STUDY_TABLES}
    paths = tables.write_study_tables(runs, st.source, outputs)
    assert paths == [p for t in STUDY_TABLES for p in outputs[t]]
    assert (tmp_path / "a" / "ranking.x").read_text().startswith("rank,variant,")
    assert (tmp_path / "b" / "ranking.y").read_text().startswith("# Which variant is best")
    with pytest.raises(ValueError, match=r"missing \['ranking'\], unknown \['extra'\]"):
        tables.write_study_tables(
            runs,
            st.source,
            {**table_outputs(tmp_path, STUDY_TABLES[:3]), "extra": outputs["ranking"]},
        )


def test_architecture_rows(tmp_path):
    rows = {
        "ann": [
            {"layer": "Flatten-1", "output_shape": [-1, 65536], "parameters": 0, "flops": 0},
            {"layer": "Linear-2", "output_shape": [-1, 32], "parameters": 2097184, "flops": 2**22},
            {"layer": "Linear-3", "output_shape": (-1, 1), "parameters": 33, "flops": 64},
        ],
        "cnn": [
            {
                "layer": "Conv2d-1",
                "output_shape": "[-1, 32, 16, 16]",
                "parameters": 320,
                "flops": 1179648,
            }
        ],
    }
    files = [tmp_path / "arch.csv", tmp_path / "arch.md"]
    assert architecture.write_architecture_rows(rows, files) == files
    csv_rows = _read_csv(files[0])
    assert list(csv_rows[0]) == ["variant", "layer", "output_shape", "parameters", "flops"]
    assert [r["layer"] for r in csv_rows if r["variant"] == "ann"][-1] == "Total"
    total = next(r for r in csv_rows if r["variant"] == "ann" and r["layer"] == "Total")
    assert int(total["parameters"]) == 2097217 and int(total["flops"]) == 4194368
    assert csv_rows[1]["output_shape"] == "[-1, 32]"
    md = files[1].read_text()
    assert assert_markdown_tables_well_formed(md) == 2
    assert "## ann" in md and "2,097,217" in md and "homework" not in md.lower()
    assert "| Layer | Output shape | Parameters | FLOPs |" in md
    assert "**4,194,368**" in md and "4.19 M FLOPs per image" in md
    assert "multiply-add counts as 2 FLOPs" in md
    with pytest.raises(ValueError, match="parameters"):
        architecture.write_architecture_rows({"x": [{"layer": "a", "output_shape": 1}]}, files)
    with pytest.raises(ValueError, match=r"missing keys \['flops'\]"):
        architecture.write_architecture_rows(
            {"x": [{"layer": "a", "output_shape": 1, "parameters": 1}]}, files
        )


def test_architecture_table_of_the_specs(tmp_path):
    """The models built from the specs at the input size: one block of layers per variant,
    with the FLOPs of one image."""
    specs = {
        "ann": {"model": "linear", "model_args": {"hidden": [8]}},
        "cnn": {"model": "conv", "model_args": {"width": 4, "depth": 1, "fc": 4}},
    }
    files = [tmp_path / "architecture.csv", tmp_path / "architecture.md"]
    architecture.write_architecture_table(specs, 1, 8, 3, files)
    rows = _read_csv(files[0])
    ann = [r for r in rows if r["variant"] == "ann"]
    # 8 x 8 inputs to 8 hidden units to 3 classes: 64 * 8 + 8, then 8 * 3 + 3 parameters
    assert [r["layer"] for r in ann][-1] == "Total" and int(ann[-1]["parameters"]) == 547
    # two FLOPs per weight of each matrix product (biases are not counted)
    assert int(ann[-1]["flops"]) == 2 * (64 * 8 + 8 * 3)
    assert ann[-2]["output_shape"] == "[-1, 3]"
    assert {r["variant"] for r in rows} == {"ann", "cnn"}


def test_tables_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, biomedclf.report.tables.write, biomedclf.report.summary.document, "
        "biomedclf.report.tables.architecture; "
        "bad = [m for m in ('torch', 'sklearn', 'scipy', 'matplotlib') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_two_class_test_metrics_keep_their_columns_first(study, tmp_path):
    """The columns of a two-class test_metrics.csv before multi-class support come first, in
    their order; the multi-class ones follow and agree with the statistics."""
    _, runs, _, st = study
    header, rows = study_tables.metrics_table_rows(runs, st)
    assert header[:23] == [
        "variant",
        "statistic",
        "seed",
        "n_test",
        "accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "balanced_accuracy",
        "sensitivity",
        "specificity",
        "precision",
        "f1",
        "auroc",
        "auroc_ci_low",
        "auroc_ci_high",
        "average_precision",
        "brier",
        "youden_threshold",
        "youden_accuracy",
        "youden_sensitivity",
        "youden_specificity",
        "overfitting_gap",
        "ece",
    ]
    assert header[23:] == [
        "balanced_accuracy_ci_low",
        "balanced_accuracy_ci_high",
        "macro_f1",
        "weighted_f1",
        "kappa",
    ]
    mean = dict(zip(header, next(r for r in rows if r[0] == "cnn" and r[1] == "mean")))
    vs = st.variants["cnn"]
    assert mean["kappa"] == vs.metrics.multiclass.kappa.mean
    assert mean["balanced_accuracy_ci_low"] == vs.bootstrap.seed_mean.balanced_accuracy.low


@pytest.fixture(scope="module", params=[3, 11])
def k_study(request, tmp_path_factory):
    k = request.param
    root = tmp_path_factory.mktemp(f"k{k}")
    runs, study = make_study(root, seeds=[0, 1, 2], n_test=6 * k, n_classes=k, ordinal=k == 3)
    st = study_stats(runs, study["comparisons"], root / "stats" / "stats.json", n_bootstrap=60)
    return k, runs, study, st


def test_k_class_study_tables(k_study, tmp_path):
    k, runs, spec, st = k_study
    tables.write_study_tables(runs, st.source, table_outputs(tmp_path, STUDY_TABLES))
    rows = _read_csv(tmp_path / "tables" / "test_metrics.csv")
    assert list(rows[0])[:7] == [
        "variant",
        "statistic",
        "seed",
        "n_test",
        "accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
    ]
    assert {
        "balanced_accuracy",
        "macro_f1",
        "kappa",
        "macro_auroc",
        "macro_auroc_ci_low",
        "brier",
        "ece",
    } <= set(rows[0])
    assert "sensitivity" not in rows[0] and "youden_threshold" not in rows[0]
    for run in runs:
        got = next(r for r in rows if r["variant"] == run.variant and r["seed"] == str(run.seed))
        want = load_metrics(run.metrics)["multiclass"]
        for key in ("accuracy", "balanced_accuracy", "kappa", "macro_auroc", "brier", "ece"):
            assert float(got[key]) == pytest.approx(want[key], abs=1e-6), key
    ens = next(r for r in rows if r["variant"] == "cnn" and r["statistic"] == "ensemble")
    assert float(ens["macro_auroc"]) == pytest.approx(
        st.variants["cnn"].ensemble_multiclass.macro_auroc, abs=1e-6
    )
    md = (tmp_path / "tables" / "test_metrics.md").read_text()
    assert assert_markdown_tables_well_formed(md) == 1
    assert f"Kappa ({'quadratic' if k == 3 else 'unweighted'})" in md
    assert "Macro AUROC 95% CI" in md and "ECE (top-label)" in md
    per = _read_csv(tmp_path / "tables" / "per_class.csv")
    names = spec["data_summary"]["class_names"]
    assert [(r["variant"], r["class"]) for r in per] == [
        (v, c) for v in spec["variants"] for c in names
    ]
    for r in per:
        c = st.variants[r["variant"]].per_class[int(r["class_index"])]
        assert int(r["support"]) == 6 and float(r["recall_mean"]) == pytest.approx(
            c.recall.mean, abs=1e-6
        )
    md = (tmp_path / "tables" / "per_class.md").read_text()
    assert assert_markdown_tables_well_formed(md) == len(spec["variants"])
    assert md.count("| *macro average* |") == len(spec["variants"])


def test_k_class_comparison_tables(k_study, tmp_path):
    k, runs, spec, st = k_study
    outputs = table_outputs(tmp_path, COMPARISON_TABLES, "dropout")
    tables.write_comparison_tables(
        "dropout", spec["comparisons"]["dropout"], runs, st.source, outputs
    )
    srows = _read_csv(tmp_path / "tables" / "stats_dropout.csv")
    assert {r["metric"] for r in srows} == {"accuracy", "balanced_accuracy", "auroc"}
    res = st.result("dropout", "cnn_dropout")
    recipe = {r["metric"]: r for r in srows if r["scope"] == "recipe"}
    for metric, row in recipe.items():
        assert float(row["difference"]) == pytest.approx(
            res.metric(metric).recipe.difference, abs=1e-6
        )
    md = (tmp_path / "tables" / "stats_dropout.md").read_text()
    assert "| Macro AUROC |" in md and "| Balanced accuracy |" in md
    assert "macro average of the one-vs-rest AUROCs" in md
