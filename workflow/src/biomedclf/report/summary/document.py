"""``summary.md``: what was run, the study's tables, and each claim beside this run's evidence
for or against it (the ``summary`` rule).

Every file the summary links is handed by the rule (:mod:`biomedclf.report.summary.links`)
and linked relative to the summary's folder. Numbers come from the study's statistics
(:class:`biomedclf.stats.records.StudyStats`); the tables are rendered with
:mod:`biomedclf.report.tables.study`, :mod:`biomedclf.report.tables.per_class` and
:mod:`biomedclf.report.tables.comparison`, the "What was run" section with
:mod:`biomedclf.report.summary.setup`. Studies of more than two classes get the multi-class test
metrics, macro AUROC and the top-label calibration; every study gets the per-class tables.
Each comparison links its saliency figure and error gallery, and the explained runs' sanity
check of their maps follows the claims, flagging maps that survive randomisation
(:mod:`biomedclf.report.summary.saliency`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from biomedclf.io import read_json
from biomedclf.layout import RunFiles
from biomedclf.report.labels import capitalised, metric_name
from biomedclf.report.rendering import (
    fmt_mean_sd,
    fmt_p,
    level_text,
    markdown_table,
    p_text,
    plural,
    write_text,
)
from biomedclf.report.summary.crossval import crossval_section, fold_test_lines
from biomedclf.report.summary.links import Links
from biomedclf.report.summary.saliency import Record, saliency_links, sanity_records, sanity_section
from biomedclf.report.summary.setup import setup_section
from biomedclf.report.tables.comparison import comparison_markdown
from biomedclf.report.tables.per_class import per_class_markdown
from biomedclf.report.tables.ranking import ranking_markdown, ranking_sentence
from biomedclf.report.tables.study import metrics_table_markdown, training_time_markdown
from biomedclf.stats.records import ComparisonResult, Difference, StudyStats, read_stats
from biomedclf.stats.significance import format_difference

log = logging.getLogger(__name__)


def default_claim(comp_name: str, baseline: str, variants: Sequence[str]) -> str:
    """The phrase used when a comparison states no ``claim``."""
    verb = "reaches" if len(variants) == 1 else "reach"
    return f"{' and '.join(variants)} {verb} a higher test accuracy than {baseline}."


def _pooled(d: Difference, metric: str, confidence: float) -> str:
    """A difference with its interval, as :func:`biomedclf.stats.significance.format_difference`."""
    return format_difference(d.difference, d.low, d.high, metric, confidence)


# --------------------------------------------------------------------------------------------
# Claims and evidence
# --------------------------------------------------------------------------------------------


def _accuracy_lines(v: str, baseline: str, res: ComparisonResult, stats: StudyStats) -> list[str]:
    """Accuracies, the pooled and per-seed differences and McNemar's test, as list items."""
    conf = stats.settings.confidence
    base_acc = stats.variant(baseline).test_accuracy
    var_acc = stats.variant(v).test_accuracy
    lines = [
        f"- {stats.scope.capitalize()} accuracy: {baseline} "
        f"{fmt_mean_sd(base_acc, 'accuracy')} %, "
        f"{v} {fmt_mean_sd(var_acc, 'accuracy')} % (mean ± sd over seeds)",
        "- Difference (variant − baseline, pooled over seeds): "
        + _pooled(res.accuracy.pooled, "accuracy", conf),
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


def _other_lines(v: str, baseline: str, res: ComparisonResult, stats: StudyStats) -> list[str]:
    """AUROC and balanced-accuracy differences, training time, overfitting gap, verdict and
    warnings."""
    conf = stats.settings.confidence
    auroc = capitalised(metric_name("auroc", stats.scope, stats.multiclass))
    lines = [
        f"- {auroc} difference: "
        + _pooled(res.auroc.pooled, "auroc", conf)
        + f" ({res.auroc.verdict})",
        "- Balanced accuracy difference: "
        + _pooled(res.balanced_accuracy.pooled, "balanced_accuracy", conf)
        + f" ({res.balanced_accuracy.verdict})",
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
        n_seeds = len(res.seeds)
        lines += [
            f"**{v} vs {baseline}: {res.accuracy.verdict}** ({plural(n_seeds, 'paired seed')}, "
            f"{res.n_test} {stats.scope} images)",
            "",
            *_accuracy_lines(v, baseline, res, stats),
            *_other_lines(v, baseline, res, stats),
            *fold_test_lines(cv, comp_name, v, res.accuracy.verdict, res.n_test),
            "",
        ]
    return lines


def _verdict_table(comparisons: dict[str, Any], stats: StudyStats) -> str:
    """One row per comparison and variant: difference, McNemar p, verdict, warnings."""
    conf = stats.settings.confidence
    rows = []
    for comp_name, comp in comparisons.items():
        for v in comp["variants"]:
            res = stats.result(comp_name, v)
            rows.append(
                [
                    comp_name,
                    f"{v} vs {comp['baseline']}",
                    _pooled(res.accuracy.pooled, "accuracy", conf),
                    fmt_p(res.mcnemar.ensemble.p_value),
                    res.verdict,
                    "⚠" if res.warnings else "",
                ]
            )
    return markdown_table(
        [
            "Comparison",
            "Variant vs baseline",
            f"{stats.scope.capitalize()} accuracy difference",
            "McNemar p (ensemble)",
            "Verdict",
            "Warnings",
        ],
        rows,
        ["l", "l", "r", "r", "l", "c"],
    ).rstrip()


#: A comparison's linked tables and figures, with their link text.
COMPARISON_LINKS = (
    ("curves", "curves"),
    ("roc", "ROC"),
    ("confusion", "confusion matrices"),
    ("comparison", "table"),
    ("stats", "statistics"),
)


def _comparison_links(comp_name: str, links: Links) -> str:
    """Links to a comparison's figures and tables."""
    items = [f"[{label}]({links.comparison(comp_name, key)})" for key, label in COMPARISON_LINKS]
    return " · ".join(items + saliency_links(comp_name, links))


def _claims_section(
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


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


def _introduction(name: str, variants: list[str], seeds: list[int], stats: StudyStats) -> list[str]:
    """Title, the study's size and method, and a warning when it has too few seeds."""
    settings = stats.settings
    classes = f" of {stats.n_classes} classes" if stats.multiclass else ""
    out = [
        f"# {name}: results",
        "",
        f"{plural(len(variants), 'variant')} × {plural(len(seeds), 'seed')} "
        f"({', '.join(map(str, seeds))}), {stats.n_test} {stats.scope} images{classes}. "
        f"Every comparison below is paired on the same {stats.scope} images: "
        f"{level_text(settings.confidence)} percentile-bootstrap intervals ({settings.n_bootstrap} "
        f"resamples of the {stats.scope} images) and McNemar's exact test.",
        "",
    ]
    if len(seeds) < settings.min_seeds:
        out += [
            f"> ⚠ **Warning:** this study ran {plural(len(seeds), 'seed')}; with fewer than "
            f"{settings.min_seeds} a difference cannot be told apart from seed noise. Add "
            "seeds under `training.seeds`.",
            "",
        ]
    return out


def _best_section(stats: StudyStats, links: Links) -> list[str]:
    """``## Which variant is best``: the ranking by the primary metric and whether the best
    one's lead over each other is real (Holm-adjusted)."""
    return [
        "## Which variant is best",
        "",
        ranking_sentence(stats),
        "",
        ranking_markdown(stats).rstrip(),
        "",
        f"Table: [ranking]({links.table('ranking')}) ([CSV]({links.table('ranking', 'csv')}))",
        "",
    ]


def _study_tables_section(runs: Sequence[RunFiles], stats: StudyStats, links: Links) -> list[str]:
    """Test metrics and training time of every variant, with links to figures and tables."""
    return [
        f"## {stats.scope.capitalize()} accuracy per variant",
        "",
        metrics_table_markdown(runs, stats).rstrip(),
        "",
        f"Figure: [{stats.scope} accuracy]({links.figure('test_accuracy')}) · "
        f"[reliability diagrams]({links.figure('reliability')}) · "
        f"table: [{stats.scope} metrics]({links.table('test_metrics')}) "
        f"([CSV]({links.table('test_metrics', 'csv')}))",
        "",
        f"![{stats.scope.capitalize()} accuracy per variant]({links.figure('test_accuracy')})",
        "",
        "## Metrics per class",
        "",
        "Each class against all others (one-vs-rest), mean ± sd over seeds; the last row of "
        "each table is the macro average. Table: "
        f"[per class]({links.table('per_class')}) ([CSV]({links.table('per_class', 'csv')}))",
        "",
        per_class_markdown(runs, stats, "###").rstrip(),
        "",
        "## Training time per variant",
        "",
        training_time_markdown(runs, stats).rstrip(),
        "",
        f"Figure: [accuracy against training time]({links.figure('accuracy_vs_time')})"
        f" · table: [training time]({links.table('training_time')})",
        "",
    ]


def _reading_notes(stats: StudyStats, links: Links) -> list[str]:
    """``## How to read this``: verdict words, scopes, units, the full statistics."""
    full = links.to(stats.source)
    call = "taking the most probable class" if stats.multiclass else "thresholding at 0.5"
    multi = (
        [
            f"- {stats.n_classes} classes: the predicted class is the most probable one; macro "
            "AUROC is the mean of the one-vs-rest AUROCs of the classes; Cohen's kappa is "
            f"{'quadratic-weighted (ordered classes)' if stats.ordinal else 'unweighted'}; "
            "calibration uses the top-label confidence."
        ]
        if stats.multiclass
        else []
    )
    return [
        "## How to read this",
        "",
        "- *better* / *worse*: the whole pooled interval of the accuracy difference lies above "
        f"/ below zero; *no detectable difference*: it contains zero — the {stats.scope} images "
        "and seeds "
        "cannot tell the two apart at this size.",
        "- Pooled: the difference averaged over paired seeds inside each bootstrap resample; "
        f"seed ensemble: probabilities averaged over seeds before {call}.",
        *multi,
        f"- pp: percentage points. Statistics in full: [{full}]({full}).",
        "",
    ]


def render_summary(
    study: dict[str, Any],
    runs: Sequence[RunFiles],
    stats: StudyStats,
    data: dict[str, Any],
    sanity: list[Record],
    cv: dict[str, Any] | None,
    links: Links,
) -> str:
    """The Markdown text of ``summary.md`` (:func:`write_summary` reads its inputs)."""
    variants = stats.variant_order(runs)
    seeds = list(dict.fromkeys(r.seed for r in runs))
    out = _introduction(study["name"], variants, seeds, stats)
    out += _best_section(stats, links)
    if cv is not None:
        out += crossval_section(cv, data, stats.settings.confidence, links)
    out += setup_section(data, study["variants"], runs, variants, links)
    out += _study_tables_section(runs, stats, links)
    out += _claims_section(study["comparisons"], stats, links, cv)
    out += sanity_section(sanity, links)
    if stats.warnings:
        out += ["## Warnings", "", *[f"- {w}" for w in stats.warnings], ""]
    out += _reading_notes(stats, links)
    return "\n".join(out)


def write_summary(
    study: dict[str, Any],
    runs: Sequence[RunFiles],
    stats: Path | str,
    data_summary: Path | str,
    sanity: Mapping[tuple[str, int], Path | str],
    crossval: Path | str | None,
    links: Mapping[str, Any],
    out: Path | str,
) -> Path:
    """Write ``summary.md`` to ``out``, atomically.

    ``study`` holds ``name``, ``variants`` (name -> resolved spec), ``comparisons`` (the
    config's) and ``folds`` (the fold count, or None); ``stats`` is stats.json,
    ``data_summary`` the data step's summary.json, ``sanity`` maps (variant, seed) to the
    sanity.json of every explained run, ``crossval`` is stats/crossval.json (with folds;
    None without), ``links`` every linked file (:mod:`biomedclf.report.summary.links`),
    each linked relative to the folder of ``out``.
    """
    if bool(study["folds"]) != (crossval is not None):
        raise ValueError(
            f"summary: folds {study['folds']!r} but crossval.json "
            f"{'not given' if crossval is None else crossval}; a cross-validated study "
            "hands stats/crossval.json, a fixed split none"
        )
    out = Path(out)
    text = render_summary(
        study,
        runs,
        read_stats(stats),
        read_json(Path(data_summary)),
        sanity_records(sanity),
        None if crossval is None else read_json(Path(crossval)),
        Links(links, out.parent),
    )
    write_text(out, text)
    log.info("wrote %s", out)
    return out
