"""The tables of a multi-label study (``data.task: multilabel``), from ``stats/multilabel.json``
(:mod:`biomedclf.stats.multilabel`) and the data summary.

Each table is a header and rows, written as CSV (numbers) and Markdown (formatted):

* ``label_metrics``: per variant, the mean AUROC over labels (mean ± SD over seeds, and the
  seed ensemble's with its bootstrap interval), macro average precision, macro F1, micro AUROC;
* ``label_auroc``: per label, each variant's ensemble AUROC with its interval, and the label's
  test prevalence;
* ``label_counts``: per label and split, positive / negative / uncertain / unknown images;
* ``label_comparison`` (per comparison): the difference in mean AUROC (the verdict) and in
  each label's AUROC, with intervals, p-values and Holm-adjusted p-values across labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from biomedclf.data.multilabel import COUNT_KEYS_ALL
from biomedclf.report.rendering import fmt_p, fmt_value, markdown_table, write_csv, write_text

Table = tuple[list[str], list[list[Any]], list[list[str]]]  # header, CSV rows, Markdown rows


def _ci(row: Mapping[str, Any]) -> str:
    return f"[{fmt_value(row.get('low'))}, {fmt_value(row.get('high'))}]"


def _mean_sd(desc: Mapping[str, Any]) -> str:
    text = fmt_value(desc.get("mean"))
    return text + (f" ± {fmt_value(desc['sd'])}" if desc.get("sd") is not None else "")


def metrics_table(stats: Mapping[str, Any]) -> Table:
    """``label_metrics``: one row per variant."""
    header = ["variant", "seeds", "mean_auroc_mean", "mean_auroc_sd", "ensemble_mean_auroc"]
    header += ["ensemble_low", "ensemble_high", "macro_average_precision", "macro_f1"]
    header += ["micro_auroc"]
    rows, shown = [], []
    for v, rec in stats["variants"].items():
        seeds, ens = rec["over_seeds"], rec["ensemble"]
        rows.append(
            [v, len(rec["seeds"]), seeds["mean_auroc"]["mean"], seeds["mean_auroc"]["sd"]]
            + [ens["mean_auroc"], ens["low"], ens["high"]]
            + [seeds[k]["mean"] for k in ("macro_average_precision", "macro_f1", "micro_auroc")]
        )
        shown.append(
            [v, str(len(rec["seeds"])), _mean_sd(seeds["mean_auroc"])]
            + [f"{fmt_value(ens['mean_auroc'])} {_ci(ens)}"]
            + [_mean_sd(seeds[k]) for k in ("macro_average_precision", "macro_f1", "micro_auroc")]
        )
    return header, rows, shown


METRICS_MD = ["variant", "seeds", "mean AUROC (over seeds)", "mean AUROC, ensemble [CI]"]
METRICS_MD += ["macro AP", "macro F1", "micro AUROC"]


def auroc_table(
    stats: Mapping[str, Any], prevalence: Mapping[str, Any], split: str = "test"
) -> Table:
    """``label_auroc``: one row per label, its prevalence in ``split`` (the images the AUROC
    is of: ``test``, or ``cv`` for out-of-fold predictions) and each variant's ensemble AUROC
    and interval."""
    variants = list(stats["variants"])
    header = ["label", f"{split}_prevalence"]
    header += [f"{v}_{k}" for v in variants for k in ("auroc", "low", "high")]
    rows, shown = [], []
    for j, label in enumerate(stats["labels"]):
        cells = [stats["variants"][v]["ensemble"]["per_label"][j] for v in variants]
        prev = prevalence.get(split, {}).get(label)
        rows.append([label, prev] + [c[k] for c in cells for k in ("auroc", "low", "high")])
        shown.append(
            [label, fmt_value(prev)] + [f"{fmt_value(c['auroc'])} {_ci(c)}" for c in cells]
        )
    return header, rows, shown


def counts_table(label_counts: Mapping[str, Mapping[str, Mapping[str, int]]]) -> Table:
    """``label_counts``: one row per label and split."""
    header = ["label", "split", *COUNT_KEYS_ALL]
    rows, shown = [], []
    names = list(label_counts.get("all", {}))
    for name in names:
        for split, per_label in label_counts.items():
            counts = [per_label[name][k] for k in COUNT_KEYS_ALL]
            rows.append([name, split, *counts])
            shown.append([name, split, *map(str, counts)])
    return header, rows, shown


def comparison_table(comparison: Mapping[str, Any]) -> Table:
    """``label_comparison``: per variant, the mean AUROC row then one row per label."""
    header = ["variant", "label", "difference", "low", "high", "p_value", "p_holm", "verdict"]
    rows, shown = [], []
    for v, res in comparison["results"].items():
        m = res["mean_auroc"]
        rows.append([v, "mean AUROC", m["difference"], m["low"], m["high"], m["p_value"]])
        rows[-1] += [None, res["verdict"]["verdict"]]
        for r in res["per_label"]:
            rows.append([v, r["label"], r["difference"], r["low"], r["high"], r["p_value"]])
            rows[-1] += [r["p_holm"], ""]
    for row in rows:
        shown.append(
            [row[0], row[1], fmt_value(row[2]), _ci({"low": row[3], "high": row[4]})]
            + [fmt_p(row[5]), fmt_p(row[6]) if row[6] is not None else "", row[7]]
        )
    return header, rows, shown


COMPARISON_MD = ["variant", "label", "AUROC difference", "CI", "p", "p (Holm)", "verdict"]
AUROC_MD_HEAD = ["label", "test prevalence"]


def write_table(files: Mapping[str, Path], table: Table, md_header: list[str]) -> str:
    """Write a table's CSV and Markdown files; returns the Markdown."""
    header, rows, shown = table
    text = markdown_table(md_header, shown, ["l"] + ["r"] * (len(md_header) - 1))
    write_csv(Path(files["csv"]), header, rows)
    write_text(Path(files["md"]), text)
    return text


def md_header(name: str, stats: Mapping[str, Any]) -> list[str]:
    """The Markdown header of table ``name`` (the CSV's is in its columns)."""
    if name == "label_metrics":
        return METRICS_MD
    if name == "label_auroc":
        head = AUROC_MD_HEAD
        if stats.get("evaluated_on") == "out-of-fold":  # of the pool's images (cv)
            head = ["label", "cv prevalence"]
        return head + [f"{v} AUROC [CI]" for v in stats["variants"]]
    if name == "label_counts":
        return ["label", "split", *COUNT_KEYS_ALL]
    return COMPARISON_MD
