"""summary.md: the study, its tables, each claim beside its verdict and warnings."""

from __future__ import annotations

import re

import pytest
from aggregate_fixtures import (
    make_study,
    seed_disagreement_study,
    study_stats,
    summary_links,
    write_fake_explain,
)

from biomedclf import layout
from biomedclf.io import write_json
from biomedclf.report.summary import document as summary

#: The data step's summary.json of a folder source with duplicates and rejected files.
DATA_SUMMARY = {
    "source": "folder",
    "root": "/data/chest_xray",
    "class_names": ["NORMAL", "PNEUMONIA"],
    "positive_class": "PNEUMONIA",
    "image_size": 64,
    "channels": 1,
    "counts": {
        "train": {"NORMAL": 1000, "PNEUMONIA": 3000},
        "val": {"NORMAL": 100, "PNEUMONIA": 300},
        "test": {"NORMAL": 234, "PNEUMONIA": 390},
    },
    "duplicates": {
        "sets": 7,
        "images": 15,
        "rejected_conflicting_label": 2,
        "rejected_across_splits": 1,
        "kept_copies": 12,
    },
    "rejected": 3,
    "rejected_by_reason": {"not an image": 3},
    "notes": ["validation carved from train"],
}


def _write(study, runs, st, path, explained=(), links=None, root=None):
    """summary.md at ``path`` of the fake study in ``root`` (default: the folder of ``path``),
    its data summary and other files where the rules write them; ``explained``: the
    (variant, seed) runs with a sanity check."""
    root = root or path.parent
    data = layout.data_file(root, "summary")
    write_json(data, study["data_summary"])
    sanity = {(v, s): layout.explain_files(root, v, s)["sanity"] for v, s in explained}
    links = links or summary_links(root, study["comparisons"], list(explained))
    summary.write_summary(study, runs, st.source, data, sanity, None, links, path)
    return path.read_text()


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("study3")
    runs, study = make_study(root, seeds=[0, 1, 2], n_test=60)
    st = study_stats(runs, study["comparisons"], root / "stats" / "stats.json", n_bootstrap=200)
    return study, st, _write(study, runs, st, root / "summary.md")


def test_summary_has_title_setup_and_tables(three_seeds):
    study, _, text = three_seeds
    assert text.startswith("# fake: results\n")
    assert "## What was run" in text and "synthetic" in text
    for v in study["variants"]:
        assert f"| {v} |" in text
    assert "\n## Test accuracy per variant\n" in text
    assert "\n## Training time per variant\n" in text
    assert "torch: 2.4.0" in text
    assert "Warning:** this study ran" not in text
    assert "homework" not in text.lower()
    assert "- Data checks: no identical images; 0 files rejected" in text


def test_summary_has_each_claim_and_verdict(three_seeds):
    study, st, text = three_seeds
    assert "Dropout raised test accuracy from 72% to 77%." in text
    assert "cnn reaches a higher test accuracy than ann." in text  # default phrase
    for comp_name, comp in study["comparisons"].items():
        assert f"### {comp_name}" in text
        for v in comp["variants"]:
            res = st.result(comp_name, v)
            assert f"**{v} vs {comp['baseline']}: {res.verdict}**" in text
            assert res.verdict_text in text
    assert re.search(r"McNemar exact test: p (= [0-9.]+|< 0\.001) on", text)


def test_summary_links_are_relative_and_exist_in_layout(three_seeds):
    _, _, text = three_seeds
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert links
    assert all(not link.startswith("/") for link in links)
    assert "figures/curves_dropout.png" in links and "tables/stats_dropout.md" in links
    assert "tables/test_metrics.md" in links and "figures/reliability.png" in links


def test_summary_reports_the_real_duplicate_and_rejection_counts(tmp_path):
    runs, study = make_study(tmp_path, seeds=[0, 1, 2], n_test=30)
    study["data_summary"] = DATA_SUMMARY
    st = study_stats(runs, study["comparisons"], tmp_path / "stats.json", n_bootstrap=50)
    text = _write(study, runs, st, tmp_path / "summary.md")
    line = next(x for x in text.splitlines() if x.startswith("- Data checks:"))
    assert line == (
        "- Data checks: 7 sets of identical images (15 images: 12 copies kept, 2 rejected for "
        "conflicting labels, 1 rejected for crossing the given splits); 3 files rejected"
    )
    assert "duplicates: 5" not in text
    assert "| test | 234 | 390 | 624 |" in text
    assert "- Data source: `folder` at `/data/chest_xray`" in text
    assert "- Note: validation carved from train" in text


def test_small_p_value_reads_p_below(tmp_path):
    """McNemar's p of a variant right on 30 more images is ~2e-9: ``p < 0.001``, not ``p = <``."""
    variants = {"a": ("conv", 0.5, 1.0), "b": ("conv", 1.0, 3.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, study = make_study(
        tmp_path, variants, seeds=[0, 1, 2], n_test=60, comparisons=comps, exact=True
    )
    st = study_stats(runs, comps, tmp_path / "stats.json", n_bootstrap=100)
    text = _write(study, runs, st, tmp_path / "summary.md")
    assert "p = <" not in text
    assert (
        "- McNemar exact test: p < 0.001 on the seed-ensembled predictions (30 images only b "
        "got right, 0 only a); per seed: seed 0: < 0.001, seed 1: < 0.001, seed 2: < 0.001"
    ) in text
    assert (
        "**b vs a: better** (for the recipe, over 3 training runs of each and 60 test images)"
        in text
    )
    assert "- Training time: a 1.05 ± 0.05 s, b 3.15 ± 0.15 s (3.00× the baseline)" in text
    assert "| ab | b vs a | +50.0 pp (95% CI" in text


def test_summary_warns_with_fewer_than_three_seeds(tmp_path):
    runs, study = make_study(tmp_path, seeds=[0, 1], n_test=40)
    st = study_stats(runs, study["comparisons"], tmp_path / "stats.json", n_bootstrap=100)
    text = _write(study, runs, st, tmp_path / "summary.md")
    assert "Warning:** this study ran 2 seeds" in text
    assert text.count("rests on 2 seeds") >= len(study["comparisons"])
    assert "## Warnings\n\n- variant ann: 2 seed(s); use at least 3" in text


def test_summary_without_claims_links_relative_to_itself(tmp_path):
    variants = {"a": ("conv", 0.7, 1.0), "b": ("conv", 0.8, 2.0)}
    comps = {"ab": {"baseline": "a", "variants": ["b"]}}
    runs, study = make_study(tmp_path, variants, seeds=[0, 1, 2], n_test=30, comparisons=comps)
    st = study_stats(runs, comps, tmp_path / "stats.json", n_bootstrap=50)
    text = _write(study, runs, st, tmp_path / "out" / "summary.md", root=tmp_path)
    assert "b reaches a higher test accuracy than a." in text
    assert "](../figures/curves_ab.png)" in text
    assert "Statistics in full: [../stats.json](../stats.json)." in text


def test_every_link_is_a_file_the_rule_hands(tmp_path):
    """Links follow the paths handed in, wherever they are: no file name is made up."""
    runs, study = make_study(tmp_path, seeds=[0, 1, 2], n_test=30)
    st = study_stats(runs, study["comparisons"], tmp_path / "stats.json", n_bootstrap=50)
    links = summary_links(tmp_path, study["comparisons"])
    moved = {
        "tables": {
            t: [tmp_path / "t" / f"{t}.c", tmp_path / "t" / f"{t}.m"] for t in links["tables"]
        },
        "figures": {f: tmp_path / "f" / f"{f}.p" for f in links["figures"]},
        "comparisons": {
            c: {k: tmp_path / "c" / f"{c}-{k}" for k in files}
            for c, files in links["comparisons"].items()
        },
        "maps": {},
    }
    text = _write(study, runs, st, tmp_path / "summary.md", links=moved)
    found = set(re.findall(r"\]\(([^)]+)\)", text))
    named = {f"t/{t}.m" for t in links["tables"]} | {"t/ranking.c", "t/test_metrics.c"}
    named |= {f"f/{f}.p" for f in links["figures"]} | {"stats.json"}
    named |= {f"c/{c}-{k}" for c, files in links["comparisons"].items() for k in files}
    assert found == named - {"t/architecture.c"} | {"t/per_class.c"}
    del moved["tables"]["ranking"]
    with pytest.raises(ValueError, match="nothing under tables/ranking; summary_links()"):
        _write(study, runs, st, tmp_path / "summary.md", links=moved)


@pytest.mark.parametrize("k", [3, 11])
def test_k_class_summary(k, tmp_path):
    runs, study = make_study(tmp_path, seeds=[0, 1, 2], n_test=5 * k, n_classes=k, ordinal=k == 3)
    st = study_stats(runs, study["comparisons"], tmp_path / "stats.json", n_bootstrap=50)
    text = _write(study, runs, st, tmp_path / "summary.md")
    names = study["data_summary"]["class_names"]
    assert f"{5 * k} test images of {k} classes" in text
    assert f"- Classes ({k}): {', '.join(names)}" in text and "positive:" not in text
    assert "\n## Metrics per class\n" in text and "tables/per_class.md" in text
    for v in study["variants"]:
        assert f"\n### {v} (3 seeds)\n" in text
    for name in names:
        assert text.count(f"| {name} | 5 |") == len(study["variants"])
    assert "| Macro AUROC |" in text and "Kappa (" in text
    assert "- Macro AUROC difference: " in text and "- Balanced accuracy difference: " in text
    assert "figures/confusion_dropout.png" in text
    kappa = "quadratic-weighted (ordered classes)" if k == 3 else "unweighted"
    assert f"Cohen's kappa is {kappa}" in text
    assert "before taking the most probable class" in text
    res = st.result("dropout", "cnn_dropout")
    assert res.verdict_text in text


def test_two_class_summary_keeps_its_lines(three_seeds):
    """A two-class summary reads as before multi-class support, with the additions."""
    _, st, text = three_seeds
    assert "- Classes: NORMAL, PNEUMONIA (positive: PNEUMONIA)" in text
    assert "- AUROC difference: " in text and "Macro AUROC" not in text
    assert "before thresholding at 0.5" in text and "| Sensitivity (%) |" in text
    assert "| NORMAL | 30 |" in text and "\n## Metrics per class\n" in text


def test_summary_links_the_saliency_figures_and_flags_surviving_maps(tmp_path):
    runs, study = make_study(tmp_path, seeds=[0, 1, 2], n_test=40)
    st = study_stats(runs, study["comparisons"], tmp_path / "stats" / "stats.json", n_bootstrap=50)
    text = _write(study, runs, st, tmp_path / "summary.md")
    assert "[saliency maps](figures/saliency_dropout.png)" in text
    assert "[error gallery](figures/errors_ann_vs_cnn.png)" in text
    assert "## Saliency maps: sanity check" not in text  # nothing explained
    write_fake_explain(
        tmp_path,
        runs,
        study["comparisons"],
        n_images=6,
        survivors=("cnn_dropout",),
        linear=("ann",),
    )
    explained = [(v, 0) for v in study["variants"]]
    text = _write(study, runs, st, tmp_path / "summary.md", explained)
    section = text[text.index("## Saliency maps: sanity check") :]
    assert "0.5 or more *survive randomisation*" in section
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    assert [r.split(" | ")[0] for r in rows] == ["| ann", "| cnn", "| cnn_dropout"]
    assert "| cnn_dropout | 0 | Grad-CAM (features.6) | 6 | 1.00 (1.00 to 1.00) |" in section
    assert "⚠ survives randomisation | [maps](explain/cnn_dropout/seed0/maps.npz) |" in section
    assert "| ann | 0 | integrated gradients (input) |" in section
    assert sum("passes" in r for r in rows) == 2
    assert (
        "> ⚠ **Warning:** the maps of cnn_dropout (seed 0) survive randomisation "
        "(mean ρ 1.00 ≥ 0.5)"
    ) in section
    assert "the maps of cnn (seed 0)" not in section


def test_a_missing_sanity_check_is_an_error(tmp_path):
    """Every explained run's sanity.json is an input: a missing one stops the summary."""
    runs, study = make_study(tmp_path, seeds=[0, 1, 2], n_test=40)
    st = study_stats(runs, study["comparisons"], tmp_path / "stats.json", n_bootstrap=50)
    write_fake_explain(tmp_path, runs, study["comparisons"], n_images=6)
    layout.explain_files(tmp_path, "cnn", 0)["sanity"].unlink()
    explained = [(v, 0) for v in study["variants"]]
    with pytest.raises(FileNotFoundError, match="sanity.json"):
        _write(study, runs, st, tmp_path / "summary.md", explained)


def test_folds_and_crossval_must_agree(three_seeds, tmp_path):
    study, st, _ = three_seeds
    with pytest.raises(ValueError, match="folds 5 but crossval.json not given"):
        summary.write_summary(
            {**study, "folds": 5}, [], st.source, st.source, {}, None, {}, tmp_path / "s.md"
        )


@pytest.fixture(scope="module")
def disagreeing(tmp_path_factory):
    """summary.md of the seed-disagreement study of issue 27 (147 test images, 3 seeds)."""
    root = tmp_path_factory.mktemp("disagree")
    runs, study = seed_disagreement_study(root)
    st = study_stats(runs, study["comparisons"], root / "stats" / "stats.json", n_bootstrap=500)
    return st, _write(study, runs, st, root / "summary.md")


def _paragraph(text: str, heading: str) -> list[str]:
    """The lines of a variant's evidence, from its bold verdict line to the blank line."""
    start = text.index(heading)
    return text[start : text.index("\n\n", text.index("\n\n", start) + 2)].splitlines()


def test_each_verdict_says_its_question_its_evidence_and_both_intervals(disagreeing):
    st, text = disagreeing
    acc = st.result("l2", "cnn_l2").accuracy
    lines = _paragraph(text, "**cnn_l2 vs cnn:")
    assert lines[0] == (
        "**cnn_l2 vs cnn: no detectable difference** (for the recipe, over 3 training runs of "
        "each and 147 test images)"
    )
    recipe = next(x for x in lines if x.startswith("- For the recipe"))
    assert "would cnn_l2 be ahead of cnn again if both were trained again" in recipe
    assert "-1.6 pp (95% CI " in recipe and ", p = " in recipe
    assert recipe.endswith(
        "over 3 training runs of each and 147 test images: **no detectable difference**"
    )
    trained = next(x for x in lines if x.startswith("- For these trained models"))
    assert "would these 3 runs keep their lead on new test images?" in trained
    assert trained.endswith(": worse")
    assert f"{100 * acc.trained_models.high:+.1f}" in trained
    # the notes stand beside the verdict, before the other numbers
    notes = [x for x in lines if x.startswith("- ⚠ Note:")]
    assert lines.index(notes[0]) == lines.index(recipe) + 1
    assert "the training variance is poorly known" in notes[0]
    assert "the seeds disagree in sign: cnn_l2 is ahead of cnn on seed 1 (+6.8 pp)" in notes[1]
    assert "McNemar tests are significant in opposite directions" in notes[2]


def test_the_seeds_needed_are_printed_for_every_comparison(disagreeing):
    st, text = disagreeing
    for comp, v in (("dropout", "cnn_dropout"), ("l2", "cnn_l2")):
        n = st.result(comp, v).accuracy.recipe.seeds_needed
        assert f"- Seeds needed: about {n} seeds would tell ({n} training runs per variant " in text
    assert "80% power at the 5% level; this study ran 3)" in text
    table = text[text.index("## Claims and evidence") :].splitlines()
    row = next(x for x in table if x.startswith("| l2 | cnn_l2 vs cnn |"))
    assert f"| {st.result('l2', 'cnn_l2').accuracy.recipe.seeds_needed} |" in row
    assert row.endswith("| no detectable difference | ⚠ |")


def test_few_seeds_are_flagged_in_the_introduction_and_not_with_five(disagreeing, tmp_path):
    _, text = disagreeing
    assert "> ⚠ **Note:** 3 training runs per variant (fewer than 5)" in text
    assert "Each verdict answers a question about the training recipe" in text
    runs, study = make_study(tmp_path, seeds=[0, 1, 2, 3, 4], n_test=30)
    st = study_stats(runs, study["comparisons"], tmp_path / "stats.json", n_bootstrap=50)
    five = _write(study, runs, st, tmp_path / "summary.md")
    body = five.split("## How to read this")[0]
    assert "fewer than 5" not in body and "poorly known" not in body


def test_the_ranking_in_the_summary_uses_the_recipe_intervals(disagreeing):
    st, text = disagreeing
    section = text[text.index("## Which variant is best") : text.index("## What was run")]
    assert "**cnn_dropout** has the highest test accuracy" in section
    assert "over cnn +6.8 pp (not detectable, Holm-adjusted p" in section
    assert "recipe-level p-value" in section and "| 95% CI (recipe) |" in section
    lead = next(v for v in st.ranking.versus if v.variant == "cnn")
    assert not lead.lead_is_real and lead.trained_models.low > 0
