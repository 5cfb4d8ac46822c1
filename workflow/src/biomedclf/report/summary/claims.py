"""``## Claims and evidence`` of ``summary.md``: each claim beside this run's evidence.

Per comparison and variant, from :class:`biomedclf.stats.records.StudyStats`: the verdict and
the question it answers (the recipe: would the variant be ahead again if both were trained
again and tested on new images?) with the evidence it rests on (``over 3 training runs of
each and 147 test images``) and its interval; the interval for these trained models (their
runs held fixed) beside it; the seeds that would tell; the notes beside the verdict (few
seeds, seeds that disagree in sign or in their McNemar tests); then the accuracies, the
per-seed differences, McNemar's test, the other metrics, training time, overfitting gap and
warnings. A table of every verdict comes first (:func:`claims_section`).
"""

from __future__ import annotations

from typing import Any

from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import fmt_mean_sd, fmt_p, markdown_table, p_text
from biomedclf.report.summary.crossval import fold_test_lines
from biomedclf.report.summary.links import Links
from biomedclf.report.summary.saliency import saliency_links
from biomedclf.report.tables.comparison import comparison_markdown
from biomedclf.report.tables.stats_table import evidence_text, seeds_needed_cell
from biomedclf.stats.records import ComparisonResult, Difference, MetricComparison, StudyStats
from biomedclf.stats.significance import format_difference

#: A comparison's linked tables and figures, with their link text.
COMPARISON_LINKS = (
    ("curves", "curves"),
    ("roc", "ROC"),
    ("confusion", "confusion matrices"),
    ("comparison", "table"),
    ("stats", "statistics"),
)


def default_claim(comp_name: str, baseline: str, variants: list[str]) -> str:
    """The phrase used when a comparison states no ``claim``."""
    verb = "reaches" if len(variants) == 1 else "reach"
    return f"{' and '.join(variants)} {verb} a higher test accuracy than {baseline}."


def _diff(d: Difference, metric: str, confidence: float, p: float | None = None) -> str:
    """A difference with its interval (and p-value), as
    :func:`biomedclf.stats.significance.format_difference`."""
    text = format_difference(d.difference, d.low, d.high, metric, confidence)
    if p is not None and text.endswith(")"):
        text = text[:-1] + f", {p_text(p)})"
    return text


def seeds_needed_text(block: MetricComparison, stats: StudyStats) -> str:
    """``about 12 seeds would tell (...)``, or why no number is given."""
    r = block.recipe
    ran = min(r.n_seeds.baseline, r.n_seeds.variant)
    if r.seeds_needed is None:
        return f"{r.seeds_needed_note}; this study ran {ran}"
    level = f"{stats.settings.power:.0%} power at the {1 - stats.settings.confidence:.0%} level"
    return (
        f"about {r.seeds_needed} seeds would tell ({r.seeds_needed} training runs per variant "
        f"would detect a difference this large with {level}; this study ran {ran})"
    )


def _these_runs(n: int) -> str:
    """``this trained run``, ``these 3 runs``."""
    return "this trained run" if n == 1 else f"these {n} runs"


def _question_lines(v: str, baseline: str, res: ComparisonResult, stats: StudyStats) -> list[str]:
    """The recipe's question, interval and verdict; the notes beside it; the interval for
    these trained models; the seeds that would tell."""
    conf, scope = stats.settings.confidence, stats.scope
    acc = res.accuracy
    r, t = acc.recipe, acc.trained_models
    label = metric_name("accuracy", scope)
    return [
        f"- For the recipe — would {v} be ahead of {baseline} again if both were trained again "
        f"and tested on new images? {capitalised(label)} difference (variant − baseline, mean "
        f"over training runs): {_diff(r, 'accuracy', conf, r.p_value)} over "
        f"{evidence_text(r, scope)}: **{acc.verdict}**",
        *[f"- ⚠ Note: {n}" for n in res.notes],
        f"- For these trained models — would {_these_runs(len(res.seeds))} keep "
        f"{'its' if len(res.seeds) == 1 else 'their'} lead on new {scope} images? (runs held "
        f"fixed, the {r.n_images} {scope} images resampled): "
        f"{_diff(t, 'accuracy', conf, t.p_value)}: {acc.trained_models_verdict}",
        f"- Seeds needed: {seeds_needed_text(acc, stats)}",
    ]


def _accuracy_lines(v: str, baseline: str, res: ComparisonResult, stats: StudyStats) -> list[str]:
    """Accuracies, the per-seed differences and McNemar's test, as list items."""
    base_acc = stats.variant(baseline).test_accuracy
    var_acc = stats.variant(v).test_accuracy
    lines = [
        f"- {stats.scope.capitalize()} accuracy: {baseline} "
        f"{fmt_mean_sd(base_acc, 'accuracy')} %, "
        f"{v} {fmt_mean_sd(var_acc, 'accuracy')} % (mean ± sd over seeds)",
    ]
    per_seed = ", ".join(
        f"seed {e.seed}: {format_difference(e.difference, None, None)}"
        for e in res.accuracy.per_seed
    )
    if per_seed:
        lines.append(f"- Per seed: {per_seed}")
    mc_ens = res.mcnemar.ensemble
    mc_seeds = ", ".join(f"seed {e.seed}: {fmt_p(e.p_value)}" for e in res.mcnemar.per_seed)
    lines.append(
        f"- McNemar exact test: {p_text(mc_ens.p_value)} on the seed-ensembled "
        f"predictions ({mc_ens.variant_only} images only {v} got right, "
        f"{mc_ens.baseline_only} only {baseline}); per seed: {mc_seeds or 'n/a'}"
    )
    return lines


def _metric_line(name: str, metric: str, block: MetricComparison, confidence: float) -> str:
    """Another metric's differences: for the recipe (with its verdict) and these models."""
    return (
        f"- {name} difference: {_diff(block.recipe, metric, confidence)} for the recipe "
        f"({block.verdict}); {_diff(block.trained_models, metric, confidence)} for these "
        f"trained models ({block.trained_models_verdict})"
    )


def _other_lines(v: str, baseline: str, res: ComparisonResult, stats: StudyStats) -> list[str]:
    """AUROC and balanced-accuracy differences, training time, overfitting gap, verdict and
    warnings."""
    conf = stats.settings.confidence
    auroc = capitalised(metric_name("auroc", stats.scope, stats.multiclass))
    lines = [
        _metric_line(auroc, "auroc", res.auroc, conf),
        _metric_line("Balanced accuracy", "balanced_accuracy", res.balanced_accuracy, conf),
    ]
    t = res.train_seconds
    if t.baseline.mean is not None and t.variant.mean is not None:
        ratio_text = f" ({t.ratio:.2f}× the baseline)" if t.ratio is not None else ""
        lines.append(
            f"- Training time: {baseline} {fmt_mean_sd(t.baseline, 'train_seconds')} s, "
            f"{v} {fmt_mean_sd(t.variant, 'train_seconds')} s{ratio_text}"
        )
    gb = stats.variant(baseline).overfitting_gap
    gv = stats.variant(v).overfitting_gap
    lines.append(
        f"- Overfitting gap (final train − validation accuracy): {baseline} "
        f"{fmt_mean_sd(gb, 'overfitting_gap')} pp, {v} {fmt_mean_sd(gv, 'overfitting_gap')} pp"
    )
    lines.append(f"- Verdict: {res.accuracy.verdict_text}")
    lines += [f"- ⚠ Warning: {w}" for w in res.warnings]
    return lines


def _evidence(
    comp_name: str, comp: dict[str, Any], stats: StudyStats, cv: dict[str, Any] | None = None
) -> list[str]:
    """The claim of one comparison and, per variant, the evidence for or against it."""
    comp_stats = stats.comparison(comp_name)
    baseline = comp_stats.baseline
    variants = list(comp["variants"])
    claim = comp.get("claim") or comp_stats.claim or default_claim(comp_name, baseline, variants)
    lines = [f"> **Claim:** {claim}", ""]
    for v in variants:
        res = stats.result(comp_name, v)
        evidence = evidence_text(res.accuracy.recipe, stats.scope)
        lines += [
            f"**{v} vs {baseline}: {res.accuracy.verdict}** (for the recipe, over {evidence})",
            "",
            *_question_lines(v, baseline, res, stats),
            *_accuracy_lines(v, baseline, res, stats),
            *_other_lines(v, baseline, res, stats),
            *fold_test_lines(cv, comp_name, v, res.accuracy.verdict, evidence),
            "",
        ]
    return lines


def _verdict_table(comparisons: dict[str, Any], stats: StudyStats) -> str:
    """One row per comparison and variant: the recipe's difference and that of these trained
    models, seeds needed, McNemar p, verdict, notes and warnings."""
    conf = stats.settings.confidence
    rows = []
    for comp_name, comp in comparisons.items():
        for v in comp["variants"]:
            res = stats.result(comp_name, v)
            acc = res.accuracy
            rows.append(
                [
                    comp_name,
                    f"{v} vs {comp['baseline']}",
                    _diff(acc.recipe, "accuracy", conf),
                    _diff(acc.trained_models, "accuracy", conf),
                    seeds_needed_cell(acc.recipe),
                    fmt_p(res.mcnemar.ensemble.p_value),
                    res.verdict,
                    "⚠" if res.warnings or res.notes else "",
                ]
            )
    scope = stats.scope.capitalize()
    return markdown_table(
        [
            "Comparison",
            "Variant vs baseline",
            f"{scope} accuracy difference, recipe",
            "These trained models",
            "Seeds needed",
            "McNemar p (ensemble)",
            "Verdict (recipe)",
            "Notes",
        ],
        rows,
        ["l", "l", "r", "r", "r", "r", "l", "c"],
    ).rstrip()


def _comparison_links(comp_name: str, links: Links) -> str:
    """Links to a comparison's figures and tables."""
    items = [f"[{label}]({links.comparison(comp_name, key)})" for key, label in COMPARISON_LINKS]
    return " · ".join(items + saliency_links(comp_name, links))


def claims_section(
    comparisons: dict[str, Any], stats: StudyStats, links: Links, cv: dict[str, Any] | None
) -> list[str]:
    """``## Claims and evidence``: the verdict table, then each comparison in full."""
    if not comparisons:
        return []
    out = ["## Claims and evidence", "", _verdict_table(comparisons, stats), ""]
    for comp_name, comp in comparisons.items():
        out += [
            f"### {comp_name}: {comp['baseline']} vs {', '.join(comp['variants'])}",
            "",
        ]
        out += _evidence(comp_name, comp, stats, cv)
        out.append(comparison_markdown(comp_name, comp, stats).rstrip())
        out += ["", _comparison_links(comp_name, links), ""]
        out += [f"![Training curves, {comp_name}]({links.comparison(comp_name, 'curves')})", ""]
    return out
