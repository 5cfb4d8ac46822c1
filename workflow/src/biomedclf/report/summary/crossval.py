"""The cross-validation parts of ``summary.md``: the design (k, groups, inner validation), the
cross-validated estimate of every variant, and each comparison's test across folds beside the
evidence its verdict rests on (:mod:`biomedclf.report.summary.document`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biomedclf.report.rendering import p_text
from biomedclf.report.summary.setup import link
from biomedclf.report.tables.crossval import METRIC_WORDS, variant_markdown


def design_text(cv: dict[str, Any], data_summary: dict[str, Any] | None) -> str:
    """One paragraph: how the folds were made and what each fold model trained on."""
    split = (data_summary or {}).get("split") or {}
    folds = (data_summary or {}).get("folds") or {}
    group = split.get("group") or (split.get("group_pattern") and "file-name group pattern")
    grouping = (
        f"whole groups at a time ({'DICOM PatientID' if group == 'patient_id' else group}), so "
        "no patient and no duplicate image is in two folds"
        if group
        else "identical images kept in one fold"
    )
    inner = folds.get("inner_val", split.get("val"))
    return (
        f"**Design:** {cv['k']}-fold cross-validation of the images outside the test split, "
        f"stratified by class and {grouping} (scikit-learn's StratifiedGroupKFold, seed "
        f"{folds.get('seed', split.get('seed'))}). Each fold model trained on the other folds "
        f"less an inner validation part ({inner:.0%} of them, stratified, group-aware) that "
        "chose its best epoch, and was scored on the fold it never saw. The comparisons below "
        "and the per-variant tables are on the pooled out-of-fold predictions (every "
        "non-test image once); the held-out test split is scored by the fold ensemble (the "
        "mean of the fold models' probabilities)."
    )


def crossval_section(
    cv: dict[str, Any], data_summary: dict[str, Any] | None, study_dir: Path, start: Path
) -> list[str]:
    """``## Cross-validation``: the design, the estimates, links to tables and figures."""
    tab, fig = study_dir / "tables", study_dir / "figures"
    return [
        "## Cross-validation",
        "",
        design_text(cv, data_summary),
        "",
        variant_markdown(cv).rstrip(),
        "",
        f"Tables: [cross-validation]({link(tab / 'crossval.md', start)}) · "
        f"[tests across folds]({link(tab / 'crossval_tests.md', start)}) · figures: "
        f"[metric per fold]({link(fig / 'folds.png', start)}) · "
        f"[learning curves per fold]({link(fig / 'fold_curves.png', start)})",
        "",
        f"![Held-out metric per fold]({link(fig / 'folds.png', start)})",
        "",
    ]


def fold_test_lines(
    cv: dict[str, Any] | None, comp_name: str, variant: str, verdict: str, n_images: int
) -> list[str]:
    """The comparison's test across folds, and which evidence the ``verdict`` (the paired
    bootstrap's, over ``n_images`` out-of-fold images) rests on; nothing without folds."""
    if not cv or variant not in (cv["comparisons"].get(comp_name) or {}):
        return []
    t = cv["comparisons"][comp_name][variant]
    words = METRIC_WORDS.get(cv["metric"], cv["metric"])
    same = "agrees" if t["verdict"] == verdict else f"says {t['verdict']}"
    return [
        f"- Across the {cv['k']} folds (held-out {words}, seeds averaged per fold; "
        f"Nadeau-Bengio corrected resampled t-test): {100 * t['mean_difference']:+.1f} pp "
        f"({t['confidence'] * 100:g}% CI {100 * t['ci_low']:+.1f} to {100 * t['ci_high']:+.1f}"
        f"), t = {t['t']:.2f}, df = {t['df']}, {p_text(t['p_value'])}: {t['verdict']}",
        f"- The verdict ({verdict}) rests on the paired bootstrap over the {n_images} "
        f"out-of-fold images; the test across folds {same}.",
    ]
