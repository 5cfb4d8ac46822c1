"""``summary.md``: what was run, the study's tables, and each claim beside this run's evidence
for or against it (the ``summary`` rule).

Every file the summary links is handed by the rule (:mod:`biomedclf.report.summary.links`)
and linked relative to the summary's folder. Numbers come from the study's statistics
(:class:`biomedclf.stats.records.StudyStats`); the tables are rendered with
:mod:`biomedclf.report.tables.study`, :mod:`biomedclf.report.tables.per_class` and
:mod:`biomedclf.report.tables.ranking`, the "What was run" section with
:mod:`biomedclf.report.summary.setup`, the claims with :mod:`biomedclf.report.summary.claims`
(each verdict with the question it answers, its evidence and both intervals). Studies of
more than two classes get the multi-class test metrics, macro AUROC and the top-label
calibration; every study gets the per-class tables.
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
from biomedclf.report.rendering import level_text, plural, write_text
from biomedclf.report.summary.claims import claims_section
from biomedclf.report.summary.crossval import crossval_section
from biomedclf.report.summary.links import Links
from biomedclf.report.summary.saliency import Record, sanity_records, sanity_section
from biomedclf.report.summary.setup import setup_section
from biomedclf.report.summary.sweeps import sweeps_section
from biomedclf.report.tables.per_class import per_class_markdown
from biomedclf.report.tables.ranking import ranking_markdown, ranking_note, ranking_sentence
from biomedclf.report.tables.study import metrics_table_markdown, training_time_markdown
from biomedclf.stats.records import StudyStats, read_stats
from biomedclf.sweeps.record import Selection, read_selection

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


def _introduction(name: str, variants: list[str], seeds: list[int], stats: StudyStats) -> list[str]:
    """Title, the study's size, the questions its verdicts answer and how, and a warning when
    it has too few seeds (or a note when the training variance is poorly known)."""
    settings, scope = stats.settings, stats.scope
    classes = f" of {stats.n_classes} classes" if stats.multiclass else ""
    out = [
        f"# {name}: results",
        "",
        f"{plural(len(variants), 'variant')} × {plural(len(seeds), 'seed')} "
        f"({', '.join(map(str, seeds))}), {stats.n_test} {scope} images{classes}. "
        "Each verdict answers a question about the training recipe: would the variant be "
        "ahead again if both were trained again and tested on new images? Its interval "
        f"accounts for both sources of noise, the training runs (seeds) and the {scope} "
        "images; beside it, the interval for these trained models (their runs held fixed) "
        f"says whether they would keep their lead on new {scope} images. "
        f"{level_text(settings.confidence)} percentile-bootstrap intervals "
        f"({settings.n_bootstrap} resamples of the {scope} images, and for the recipe of the "
        "training runs too, rescaled to the standard error of the crossed random-effects "
        "model with a t on Welch-Satterthwaite degrees of freedom); McNemar's exact test on "
        f"the paired calls; every comparison is paired on the same {scope} images.",
        "",
    ]
    if len(seeds) < settings.min_seeds:
        out += [
            f"> ⚠ **Warning:** this study ran {plural(len(seeds), 'seed')}; with fewer than "
            f"{settings.min_seeds} a difference cannot be told apart from seed noise. Add "
            "seeds under `training.seeds`.",
            "",
        ]
    elif len(seeds) < settings.min_recipe_seeds:
        out += [
            f"> ⚠ **Note:** {plural(len(seeds), 'training run')} per variant (fewer than "
            f"{settings.min_recipe_seeds}): the training variance is poorly known, so the "
            "recipe-level intervals are wide. Each comparison says how many seeds would tell.",
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
        ranking_note(stats),
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
        "- *better* / *worse*: the whole recipe-level interval of the accuracy difference lies "
        "above / below zero; *no detectable difference*: it contains zero — the training runs "
        f"and {stats.scope} images cannot tell the two recipes apart at this size.",
        "- For the recipe: would the variant be ahead again if both were trained again and "
        f"tested on new images? The interval resamples the training runs and the {stats.scope} "
        "images (a run is one seed's training; with cross-validation, one seed's out-of-fold "
        "predictions). For these trained models: would these runs keep their lead on new "
        f"{stats.scope} images? The interval resamples the {stats.scope} images only.",
        f"- Seeds needed: training runs per variant with which the recipe test would detect "
        f"the observed difference with {stats.settings.power:.0%} power; with fewer than "
        f"{stats.settings.min_recipe_seeds} the training variance is poorly known.",
        f"- Seed ensemble: probabilities averaged over seeds before {call}.",
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
    sweeps: Sequence[Selection] = (),
) -> str:
    """The Markdown text of ``summary.md`` (:func:`write_summary` reads its inputs);
    ``sweeps``: each sweep's selection (its chosen point is a variant of ``study``)."""
    variants = stats.variant_order(runs)
    seeds = list(dict.fromkeys(r.seed for r in runs))
    out = _introduction(study["name"], variants, seeds, stats)
    out += _best_section(stats, links)
    if cv is not None:
        out += crossval_section(cv, data, stats.settings.confidence, links)
    out += setup_section(data, study["variants"], runs, variants, links)
    out += _study_tables_section(runs, stats, links)
    out += sweeps_section(sweeps, stats, links)
    out += claims_section(study["comparisons"], stats, links, cv)
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
    sweeps: Mapping[str, Path | str] | None = None,
) -> Path:
    """Write ``summary.md`` to ``out``, atomically.

    ``study`` holds ``name``, ``variants`` (name -> resolved spec), ``comparisons`` (the
    config's) and ``folds`` (the fold count, or None); ``stats`` is stats.json,
    ``data_summary`` the data step's summary.json, ``sanity`` maps (variant, seed) to the
    sanity.json of every explained run, ``crossval`` is stats/crossval.json (with folds;
    None without), ``links`` every linked file (:mod:`biomedclf.report.summary.links`),
    each linked relative to the folder of ``out``. ``sweeps`` maps each sweep to its
    selection file (``sweeps/{sweep}.json``), which also holds the spec of its chosen point,
    the variant ``{sweep}.selected``.
    """
    if bool(study["folds"]) != (crossval is not None):
        raise ValueError(
            f"summary: folds {study['folds']!r} but crossval.json "
            f"{'not given' if crossval is None else crossval}; a cross-validated study "
            "hands stats/crossval.json, a fixed split none"
        )
    out = Path(out)
    selections = [read_selection(f) for f in (sweeps or {}).values()]
    specs = {**study["variants"], **{s.variant: s.spec for s in selections}}
    text = render_summary(
        {**study, "variants": specs},
        runs,
        read_stats(stats),
        read_json(Path(data_summary)),
        sanity_records(sanity),
        None if crossval is None else read_json(Path(crossval)),
        Links(links, out.parent),
        selections,
    )
    write_text(out, text)
    log.info("wrote %s", out)
    return out
