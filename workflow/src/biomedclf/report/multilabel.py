"""What a reader of a multi-label study sees: its tables, figures and ``summary.md``.

:func:`write_multilabel_report` is what the workflow's ``multilabel_report`` job calls. It
reads ``stats/multilabel.json`` (:mod:`biomedclf.stats.multilabel`), the data summary and
manifest, and every run's history and predictions, and writes the tables of
:mod:`biomedclf.report.multilabel_tables`, the figures of
:mod:`biomedclf.report.figures.multilabel` and the summary (headline: the mean AUROC over the
labels; the verdict of each comparison; per-label differences that hold after Holm's
adjustment).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biomedclf.data.multilabel import counts_markdown
from biomedclf.evaluate.multilabel_predictions import read_multilabel_predictions
from biomedclf.io import read_json
from biomedclf.layout import RunFiles
from biomedclf.report import multilabel_tables as tables
from biomedclf.report.figures import multilabel as figures
from biomedclf.report.multilabel_saliency import multilabel_saliency_section
from biomedclf.report.rendering import fmt_p, fmt_value, markdown_table, write_text
from biomedclf.train.history import read_history


def manifest_labels(path: Path | str, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Targets and mask of every cached image from a multi-label ``manifest.csv``."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    cells = np.array([[r[n] for n in names] for r in rows], dtype=object).reshape(-1, len(names))
    mask = cells != ""
    return np.where(mask, cells, "0").astype(np.int64), mask


def _ensembles(runs: Sequence[RunFiles]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per variant: the test targets, mask and seed-averaged probabilities."""
    by_variant: dict[str, list[Any]] = {}
    for run in runs:
        by_variant.setdefault(run.variant, []).append(read_multilabel_predictions(run.predictions))
    return {
        v: (ps[0].labels, ps[0].mask, np.mean([p.probabilities for p in ps], axis=0))
        for v, ps in by_variant.items()
    }


def _histories(runs: Sequence[RunFiles]) -> dict[str, list[dict[str, np.ndarray]]]:
    out: dict[str, list[dict[str, np.ndarray]]] = {}
    for run in runs:
        out.setdefault(run.variant, []).append(read_history(run.history))
    return out


def _link(target: Path | str, summary: Path) -> str:
    rel = os.path.relpath(Path(target), Path(summary).parent)
    return f"[{Path(target).name}]({rel})"


def _headline(stats: Mapping[str, Any]) -> str:
    """One line per variant: its ensemble's mean AUROC with interval, and over seeds."""
    level = f"{stats['settings']['confidence'] * 100:g}%"
    lines = []
    for v, rec in stats["variants"].items():
        ens, seeds = rec["ensemble"], rec["over_seeds"]["mean_auroc"]
        lines.append(
            f"- **{v}**: mean AUROC {fmt_value(ens['mean_auroc'])} ({level} CI "
            f"{fmt_value(ens['low'])} to {fmt_value(ens['high'])}, ensemble of "
            f"{len(rec['seeds'])} seed(s)); per seed {fmt_value(seeds['mean'])}"
            + (f" ± {fmt_value(seeds['sd'])}" if seeds["sd"] is not None else "")
        )
    return "\n".join(lines)


def _verdicts(stats: Mapping[str, Any]) -> str:
    """Each comparison's verdict and the labels whose difference survives Holm's adjustment."""
    alpha = 1 - stats["settings"]["confidence"]
    parts = []
    for name, comp in stats["comparisons"].items():
        parts.append(f"### {name}\n")
        if comp.get("claim"):
            parts.append(f"Claim: {comp['claim']}\n")
        for res in comp["results"].values():
            held = [
                f"{r['label']} ({fmt_value(r['difference'])}, Holm {fmt_p(r['p_holm'])})"
                for r in res["per_label"]
                if r["p_holm"] is not None and r["p_holm"] < alpha
            ]
            parts.append(f"- {res['verdict']['text']}.")
            parts.append(
                f"  Labels that differ after Holm's adjustment (family-wise {alpha:g}): "
                + (", ".join(held) if held else "none")
                + "."
            )
        parts.append("")
    return "\n".join(parts) if parts else "No comparisons configured.\n"


def summary_text(
    name: str,
    stats: Mapping[str, Any],
    data: Mapping[str, Any],
    links: Sequence[str],
    saliency: str = "",
) -> str:
    """``summary.md`` of a multi-label study; ``saliency``: its saliency section
    (:func:`biomedclf.report.multilabel_saliency.multilabel_saliency_section`)."""
    prevalence = data.get("prevalence", {})
    # the splits prepare wrote: train, val, test, or with folds the pool (cv) and test
    parts = [s for s in prevalence if s != "all"] or ["train", "val", "test"]
    rows = [[n, *(fmt_value(prevalence.get(s, {}).get(n)) for s in parts)] for n in stats["labels"]]
    crossval = stats.get("evaluated_on") == "out-of-fold"
    policies = data.get("multilabel", {})
    counts = ", ".join(f"{s} {c['images']}" for s, c in data.get("counts", {}).items())
    return "\n".join(
        [
            f"# {name}: multi-label study\n",
            f"{len(stats['labels'])} labels, {data.get('n_images')} images "
            f"({counts}); "
            f"uncertain entries: {policies.get('uncertain')}, blank entries: "
            f"{policies.get('blank')}. The headline is the mean AUROC over the labels on the "
            + (
                "out-of-fold predictions of the cross-validation (every image outside the test "
                "split, scored by the fold model that did not train on it).\n"
                if crossval
                else "test split.\n"
            ),
            "## Results\n",
            _headline(stats) + "\n",
            "## Comparisons\n",
            _verdicts(stats),
            "## Labels\n",
            markdown_table(["label", *parts], rows, ["l", *("r" for _ in parts)]),
            counts_markdown(data.get("label_counts", {})) if data.get("label_counts") else "",
            saliency,
            "## Files\n",
            "\n".join(f"- {link}" for link in links) + "\n",
            (
                "Not produced for multi-label studies yet: the statistics across folds "
                "(crossval_stats) and their tables and figures.\n"
                if crossval
                else ""
            ),
        ]
    )


def write_multilabel_report(
    outputs: Mapping[str, Any],
    stats_path: Path | str,
    data_summary: Path | str,
    manifest: Path | str,
    runs: Sequence[RunFiles],
    name: str,
    sanity: Mapping[tuple[str, int], Path | str] | None = None,
    saliency_links: Mapping[str, Any] | None = None,
) -> None:
    """Write every table, figure and ``summary.md`` named in ``outputs``: ``tables`` (name ->
    {"csv", "md"}), ``comparison_tables`` (comparison -> {"csv", "md"}), ``figures`` (name ->
    path) and ``summary``. ``sanity`` ((variant, seed) -> sanity.json of every explained run)
    and ``saliency_links`` (maps.npz and explain figures) make the saliency section."""
    stats, data = read_json(stats_path), read_json(data_summary)
    made = {
        "label_metrics": tables.metrics_table(stats),
        "label_auroc": tables.auroc_table(
            stats,
            data.get("prevalence", {}),
            "cv" if stats.get("evaluated_on") == "out-of-fold" else "test",
        ),
        "label_counts": tables.counts_table(data.get("label_counts", {})),
    }
    for t, files in outputs["tables"].items():
        tables.write_table(files, made[t], tables.md_header(t, stats))
    for c, files in outputs["comparison_tables"].items():
        table = tables.comparison_table(stats["comparisons"][c])
        tables.write_table(files, table, tables.md_header("label_comparison", stats))
    figs = {k: Path(p) for k, p in outputs["figures"].items()}
    figures.plot_label_auroc(stats, figs["auroc_per_label"])
    figures.plot_roc_labels(stats["labels"], _ensembles(runs), figs["roc_labels"])
    figures.plot_prevalence(data.get("prevalence", {}), figs["label_prevalence"])
    y, mask = manifest_labels(manifest, stats["labels"])
    figures.plot_cooccurrence(stats["labels"], y, mask, figs["label_cooccurrence"])
    figures.plot_loss_curves(_histories(runs), figs["loss_curves"])
    summary = Path(outputs["summary"])
    files = [*figs.values()] + [
        Path(f["md"]) for group in ("tables", "comparison_tables") for f in outputs[group].values()
    ]
    saliency = multilabel_saliency_section(sanity or {}, saliency_links or {}, summary)
    links = [_link(f, summary) for f in files]
    write_text(summary, summary_text(name, stats, data, links, saliency))
