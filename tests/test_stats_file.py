"""stats.json: the versioned format round-trips through the typed reader, and a file in
another format, with a missing field or a wrong type is refused with the file, field and fix."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
from aggregate_fixtures import make_study, statistics_section

from biomedclf.evaluate.metrics import METRIC_KEYS
from biomedclf.stats.records import (
    STATS_FORMAT,
    BinaryMetrics,
    StatsFormatError,
    ThresholdMetrics,
    parse_stats,
    read_stats,
)
from biomedclf.stats.study import write_study_statistics
from biomedclf.stats.variants import BLOCK_METRICS


def write_stats(root, runs, comparisons, **overrides) -> tuple[dict, Path]:
    """stats.json of ``runs`` under ``root``: its parsed content and its path."""
    path = root / "stats" / "stats.json"
    write_study_statistics(path, runs, comparisons, statistics_section(**overrides), "test")
    return json.loads(path.read_text()), path


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A two-seed study (one variant without its last seed): the dict and its stats.json."""
    root = tmp_path_factory.mktemp("study")
    runs, study = make_study(root, seeds=[0, 1], n_test=40)
    runs = [r for r in runs if not (r.variant == "ann" and r.seed == 1)]
    return write_stats(root, runs, study["comparisons"], n_bootstrap=60, seed=2)


def _variant(data: dict, tmp_path, edit) -> StatsFormatError | None:
    data = copy.deepcopy(data)
    edit(data)
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StatsFormatError) as err:
        read_stats(path)
    return err.value


def test_written_stats_round_trip_through_the_reader(written):
    result, path = written
    st = read_stats(path)
    assert st.format == STATS_FORMAT and st.source == path
    assert st.to_dict() == result
    # the reader's records are the writer's: written again, they give the same bytes
    assert json.dumps(st.to_dict(), indent=2) + "\n" == path.read_text()
    cnn = st.variants["cnn"]
    assert cnn.seeds == [0, 1]
    acc = cnn.metrics.at_half.accuracy
    assert acc.values == result["variants"]["cnn"]["metrics"]["threshold_0.5"]["accuracy"]["values"]
    assert cnn.metrics.youden.threshold.mean == pytest.approx(0.45)
    assert cnn.bootstrap.per_seed[1].seed == 1
    assert (
        cnn.ensemble.confusion_matrix == result["variants"]["cnn"]["ensemble"]["confusion_matrix"]
    )
    r = st.result("dropout", "cnn_dropout")
    raw = result["comparisons"]["dropout"]["results"]["cnn_dropout"]
    assert r.accuracy.trained_models.difference == raw["accuracy"]["trained_models"]["difference"]
    assert [m.seed for m in r.mcnemar.per_seed] == [0, 1]


def test_the_recipe_records_round_trip(written):
    """The recipe-level and trained-models entries are typed on the way back: nested
    components, seed counts, nullable degrees of freedom and seeds needed, notes."""
    result, path = written
    st = read_stats(path)
    raw = result["comparisons"]["dropout"]["results"]["cnn_dropout"]["accuracy"]
    recipe = st.result("dropout", "cnn_dropout").accuracy.recipe
    assert recipe.n_seeds.baseline == raw["recipe"]["n_seeds"]["baseline"] == 2
    assert recipe.components.method == "anova"
    assert (
        recipe.components.run_variance.variant
        == raw["recipe"]["components"]["run_variance"]["variant"]
    )
    assert recipe.few_seeds is True and recipe.power == 0.8 and recipe.notes
    assert isinstance(recipe.seeds_needed_note, str)
    assert st.settings.min_recipe_seeds == 5 and st.settings.power == 0.8
    lead = st.ranking.versus[0]
    assert lead.recipe.p_value == lead.p_value and lead.difference == lead.recipe.difference
    assert st.ranking.order[0].trained_models.low is not None
    ann = st.result("ann_vs_cnn", "cnn")  # ann ran one seed: no recipe interval
    assert ann.accuracy.recipe.low is None and ann.accuracy.recipe.components is None
    assert ann.verdict == "undetermined" and "cannot be estimated" in ann.verdict_text
    assert ann.accuracy.trained_models.low is not None
    assert any("no recipe-level verdict" in n for n in ann.notes)
    data = copy.deepcopy(result)
    del data["comparisons"]["dropout"]["results"]["cnn_dropout"]["auroc"]["recipe"]["n_seeds"]
    with pytest.raises(StatsFormatError, match=r"auroc\.recipe\.n_seeds: missing field"):
        parse_stats(data, path)


def test_undefined_values_are_none(written):
    _, path = written
    st = read_stats(path)
    ann = st.variants["ann"]  # one seed left
    assert ann.seeds == [0]
    assert ann.metrics.at_half.accuracy.sd is None
    assert ann.peak_memory_mb.mean is None and ann.peak_memory_mb.values == [None]
    assert st.comparisons["ann_vs_cnn"].claim is None


def test_a_metric_no_run_reports_is_absent_and_stays_absent(written, tmp_path):
    result, _ = written
    data = copy.deepcopy(result)
    del data["variants"]["cnn"]["metrics"]["threshold_0.5"]["auroc"]
    st = parse_stats(data, tmp_path / "stats.json")
    assert st.variants["cnn"].metrics.at_half.auroc is None
    assert st.variants["cnn"].metrics.at_half.get("auroc") is None
    assert st.to_dict() == data
    with pytest.raises(KeyError, match="confusion"):
        st.variants["cnn"].metrics.at_half.get("confusion_matrix")


@pytest.mark.parametrize(
    "edit, field, problem",
    [
        (lambda d: d.update(format="biomedclf-stats/0"), "format", "'biomedclf-stats/0'"),
        (lambda d: d.pop("format"), "format", "no 'format' field"),
        (
            lambda d: d["variants"]["cnn"]["bootstrap"].pop("seed_mean"),
            "stats.variants.cnn.bootstrap.seed_mean",
            "missing field",
        ),
        (
            lambda d: d["comparisons"]["dropout"]["results"]["cnn_dropout"]["mcnemar"]["per_seed"][
                0
            ].pop("seed"),
            "stats.comparisons.dropout.results.cnn_dropout.mcnemar.per_seed[0].seed",
            "missing field",
        ),
        (lambda d: d.update(n_test="40"), "stats.n_test", "expected int, found str"),
        (
            lambda d: d["variants"]["cnn"]["metrics"]["threshold_0.5"]["accuracy"].update(
                mean=None, n=1.5
            ),
            "stats.variants.cnn.metrics.threshold_0.5.accuracy.n",
            "expected int, found float",
        ),
        (lambda d: d.update(warnings="none"), "stats.warnings", "expected a list"),
        (lambda d: d["settings"].update(seed=None), "stats.settings.seed", "is null"),
    ],
    ids=[
        "old-version",
        "no-version",
        "missing",
        "missing-in-list",
        "type",
        "nested-type",
        "not-a-list",
        "null",
    ],
)
def test_wrong_format_names_file_field_and_fix(written, tmp_path, edit, field, problem):
    result, _ = written
    err = _variant(result, tmp_path, edit)
    text = str(err)
    assert str(tmp_path / "stats.json") in text
    assert field in text and problem in text
    assert "rerun the stats step" in text


def test_reader_refuses_what_is_not_stats(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the stats step"):
        read_stats(tmp_path / "nope.json")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(StatsFormatError, match="expected an object"):
        read_stats(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_stats(path)


def test_lookups_name_the_file_and_the_fix(written):
    _, path = written
    st = read_stats(path)
    with pytest.raises(ValueError, match=f"{path}.*'zzz'.*rerun the stats step"):
        st.variant("zzz")
    with pytest.raises(ValueError, match="comparisons.nope: not in"):
        st.comparison("nope")
    with pytest.raises(ValueError, match="comparisons.dropout: .* no result for ann"):
        st.result("dropout", "ann")
    partial = dataclasses.replace(st, variants={"cnn": st.variants["cnn"]})
    runs = make_study(path.parent.parent / "again", seeds=[0], n_test=10)[0]
    with pytest.raises(ValueError, match=r"no statistics for variants \['ann', 'cnn_dropout'\]"):
        partial.variant_order(runs)
    assert st.variant_order(runs) == ["ann", "cnn", "cnn_dropout"]


def test_dataclasses_cover_the_metric_keys():
    """A metric added to biomedclf.evaluate.metrics must be added to the format, and back."""
    assert tuple(f.name for f in dataclasses.fields(BinaryMetrics)) == METRIC_KEYS
    assert tuple(f.name for f in dataclasses.fields(ThresholdMetrics)) == BLOCK_METRICS


def _json_keys(cls: type, seen: set[type] | None = None) -> set[str]:
    """Every JSON key of dataclass ``cls`` and the dataclasses inside it."""
    import typing

    seen = set() if seen is None else seen
    if cls in seen:
        return set()
    seen.add(cls)
    keys = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("json", True):
            continue
        keys.add(f.metadata.get("key", f.name))
        todo = [hints[f.name]]
        while todo:
            tp = todo.pop()
            if dataclasses.is_dataclass(tp):
                keys |= _json_keys(tp, seen)
            todo += list(typing.get_args(tp))
    return keys


def test_contracts_document_every_field():
    from biomedclf.stats.records import StudyStats

    text = (Path(__file__).parents[1] / "workflow" / "CONTRACTS.md").read_text()
    section = text[text.index("### stats.json") :]
    assert f'"{STATS_FORMAT}"' in section
    undocumented = sorted(k for k in _json_keys(StudyStats) if f'"{k}"' not in section)
    assert not undocumented, f"fields missing from CONTRACTS.md (stats.json): {undocumented}"


@pytest.fixture(scope="module", params=[3, 11])
def written_k(request, tmp_path_factory):
    """A study of 3 (ordered) or 11 classes: the dict and its stats.json."""
    k = request.param
    root = tmp_path_factory.mktemp(f"k{k}")
    runs, study = make_study(root, seeds=[0, 1], n_test=4 * k, n_classes=k, ordinal=k == 3)
    return (k, *write_stats(root, runs, study["comparisons"], n_bootstrap=40, seed=1))


def test_k_class_stats_round_trip(written_k):
    k, result, path = written_k
    st = read_stats(path)
    assert st.to_dict() == result
    assert json.dumps(st.to_dict(), indent=2) + "\n" == path.read_text()
    assert st.multiclass and st.n_classes == k and len(st.class_names) == k
    assert st.auroc_label == "macro AUROC" and st.ordinal is (k == 3)
    cnn = st.variant("cnn")
    assert cnn.metrics.at_half is None and cnn.metrics.youden is None and cnn.ensemble is None
    assert cnn.n_classes == k and [c.index for c in cnn.per_class] == list(range(k))
    assert cnn.test_accuracy == cnn.metrics.multiclass.accuracy
    assert len(cnn.ensemble_multiclass.confusion_matrix) == k
    assert cnn.calibration.kind == "top-label confidence"
    r = st.result("dropout", "cnn_dropout")
    assert r.metric("balanced_accuracy").trained_models.n_valid > 0
    assert r.auroc.recipe.components.method == "bootstrap moments"
    with pytest.raises(KeyError, match="compares accuracy, balanced_accuracy, auroc"):
        r.metric("f1")


def test_a_file_of_format_1_is_refused_with_the_fix(written, tmp_path):
    result, _ = written
    data = copy.deepcopy(result)
    data["format"] = "biomedclf-stats/1"
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StatsFormatError, match="'biomedclf-stats/1'.*rerun the stats step"):
        read_stats(path)
    del data["variants"]["cnn"]["ensemble_multiclass"]
    data["format"] = STATS_FORMAT
    path.write_text(json.dumps(data))
    with pytest.raises(StatsFormatError, match="cnn.ensemble_multiclass: missing field"):
        read_stats(path)
    data = copy.deepcopy(result)
    data["ordinal"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(StatsFormatError, match="stats.ordinal: expected bool, found int"):
        read_stats(path)


def test_multiclass_records_cover_the_metric_keys():
    """A metric added to biomedclf.evaluate.multiclass must be added to the format, and back."""
    from biomedclf.evaluate.multiclass import MULTICLASS_KEYS, PER_CLASS_KEYS
    from biomedclf.stats.records import (
        ClassMetrics,
        ClassSummary,
        MulticlassMetrics,
        MulticlassSummary,
    )

    assert tuple(f.name for f in dataclasses.fields(MulticlassSummary)) == MULTICLASS_KEYS
    metric_fields = [f.name for f in dataclasses.fields(MulticlassMetrics)]
    assert metric_fields[3:-2] == list(MULTICLASS_KEYS)
    per = {f.name for f in dataclasses.fields(ClassMetrics)} - {"class_name", "index"}
    assert per == set(PER_CLASS_KEYS)
    assert per == {f.name for f in dataclasses.fields(ClassSummary)} - {"class_name", "index"}
