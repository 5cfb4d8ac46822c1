"""The cross-validation parts of ``summary.md``: the design (k, groups, inner validation), the
cross-validated estimate of every variant, and each comparison's test across folds beside the
evidence its verdict rests on (:mod:`biomedclf.report.summary.document`)."""

from __future__ import annotations

from typing import Any

from biomedclf.report.rendering import level_text, p_text
from biomedclf.report.summary.links import Links
from biomedclf.report.tables.crossval import fold_metric, variant_markdown


def design_text(cv: dict[str, Any], data_summary: dict[str, Any]) -> str:
    """One paragraph: how the folds were made and what each fold model trained on, from the
    data step's summary.json (its ``split`` settings and ``folds``)."""
    split, folds = data_summary["split"], data_summary["folds"]
    group = split["group"] or (split["group_pattern"] and "file-name group pattern")
    grouping = (
        f"whole groups at a time ({'DICOM PatientID' if group == 'patient_id' else group}), so "
        "no patient and no duplicate image is in two folds"
        if group
        else "identical images kept in one fold"
    )
    inner = folds["inner_val"]
    return (
        f"**Design:** {cv['k']}-fold cross-validation of the images outside the test split, "
        f"stratified by class and {grouping} (scikit-learn's StratifiedGroupKFold, seed "
        f"{folds['seed']}). Each fold model trained on the other folds "
        f"less an inner validation part ({inner:.0%} of them, stratified, group-aware) that "
        "chose its best epoch, and was scored on the fold it never saw. The comparisons below "
        "and the per-variant tables are on the pooled out-of-fold predictions (every "
        "non-test image once); the held-out test split is scored by the fold ensemble (the "
        "mean of the fold models' probabilities)."
    )


def crossval_section(
    cv: dict[str, Any], data_summary: dict[str, Any], confidence: float, links: Links
) -> list[str]:
    """``## Cross-validation``: the design, the estimates (``confidence``: the level of the
    corrected intervals), links to tables and figures."""
    return [
        "## Cross-validation",
        "",
        design_text(cv, data_summary),
        "",
        variant_markdown(cv, confidence).rstrip(),
        "",
        f"Tables: [cross-validation]({links.table('crossval')}) · "
        f"[tests across folds]({links.table('crossval_tests')}) · figures: "
        f"[metric per fold]({links.figure('folds')}) · "
        f"[learning curves per fold]({links.figure('fold_curves')})",
        "",
        f"![Held-out metric per fold]({links.figure('folds')})",
        "",
    ]


def fold_test_lines(
    cv: dict[str, Any] | None, comp_name: str, variant: str, verdict: str, evidence: str
) -> list[str]:
    """The comparison's test across folds, and which evidence the ``verdict`` rests on
    (``evidence``: the recipe-level interval's training runs and out-of-fold images, e.g.
    ``3 training runs of each and 600 out-of-fold images``); nothing without folds."""
    if not cv or variant not in (cv["comparisons"].get(comp_name) or {}):
        return []
    t = cv["comparisons"][comp_name][variant]
    words = fold_metric(cv)
    same = "agrees" if t["verdict"] == verdict else f"says {t['verdict']}"
    return [
        f"- Across the {cv['k']} folds (held-out {words}, seeds averaged per fold; "
        f"Nadeau-Bengio corrected resampled t-test): {100 * t['mean_difference']:+.1f} pp "
        f"({level_text(t['confidence'])} CI {100 * t['ci_low']:+.1f} to {100 * t['ci_high']:+.1f}"
        f"), t = {t['t']:.2f}, df = {t['df']}, {p_text(t['p_value'])}: {t['verdict']}",
        f"- The verdict ({verdict}) rests on the recipe-level interval over {evidence} (a "
        "training run: one seed's out-of-fold predictions); the test across folds "
        f"{same}.",
    ]
