"""The study's tables, as CSV (every number, per seed) and Markdown (mean ± sd, for reading).

The homework's tables regenerated with a study's numbers (DESIGN.md, aggregate step):

* ``tables/test_metrics.{csv,md}``: test metrics per variant (homework Table 4), per seed in
  the CSV plus mean and sd rows; the Markdown shows mean ± sd with the bootstrap interval;
* ``tables/training_time.{csv,md}``: training time per variant (homework Tables 3 and 5);
* ``tables/comparison_{comp}.{csv,md}``: baseline against each variant: final train and
  validation accuracy, overfitting gap, test accuracy, training time (Tables 1, 2 and 5);
* ``tables/stats_{comp}.{csv,md}``: paired differences with intervals, McNemar p, verdict;
* ``tables/architecture.{csv,md}``: layers of each variant (the homework's Fig. 5 and 6).

Numbers come from the statistics dict of :func:`biomedclf.stats.study_statistics`; the runs
give the order of variants. Fractions stay fractions in the CSV and become percentages in the
Markdown. Markdown is rendered here (:func:`markdown_table`), so pandas' optional
``tabulate`` dependency is not needed. Every file is written atomically.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.io import atomic_path
from biomedclf.metrics import METRIC_KEYS
from biomedclf.runs import RunFiles
from biomedclf.stats import format_difference

log = logging.getLogger(__name__)

#: Metrics of the 0.5-threshold block in the tables, with their CSV name.
TEST_METRICS = tuple(k for k in METRIC_KEYS if k not in ("threshold", "confusion_matrix"))

#: Metrics shown as percentages in Markdown (the others as 3-decimal numbers).
PERCENT_METRICS = {
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "f1",
    "overfitting_gap",
    "final_train_accuracy",
    "final_val_accuracy",
}


# --------------------------------------------------------------------------------------------
# Rendering helpers (also used by biomedclf.summary)
# --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None
) -> str:
    """A GitHub-flavoured Markdown table; ``align`` holds ``l``/``r``/``c`` per column.

    Pipes in cells are escaped, so every row has exactly ``len(header)`` cells.
    """
    ncol = len(header)
    align = list(align or ["l"] * ncol)
    if len(align) != ncol:
        raise ValueError(f"markdown_table: {len(align)} alignments for {ncol} columns")
    for i, row in enumerate(rows):
        if len(row) != ncol:
            raise ValueError(f"markdown_table: row {i} has {len(row)} cells, header has {ncol}")
    sep = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "| " + " | ".join(sep[a] for a in align) + " |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_value(value: Any, metric: str = "", digits: int | None = None) -> str:
    """One number: percentages (1 decimal) for fraction metrics, else 3 decimals."""
    if not _finite(value):
        return "n/a"
    if metric in PERCENT_METRICS:
        return f"{100 * value:.{1 if digits is None else digits}f}"
    if metric in ("train_seconds",):
        return f"{value:.{2 if digits is None else digits}f}"
    if metric in ("images_per_second",):
        return f"{value:.{0 if digits is None else digits}f}"
    if metric in ("epochs_run",):
        return f"{value:.{1 if digits is None else digits}f}".removesuffix(".0")
    return f"{value:.{3 if digits is None else digits}f}"


def fmt_mean_sd(desc: dict[str, Any] | None, metric: str = "") -> str:
    """``mean ± sd`` of a :func:`biomedclf.stats.describe` dict (just the mean with one seed)."""
    if not desc or not _finite(desc.get("mean")):
        return "n/a"
    text = fmt_value(desc["mean"], metric)
    if _finite(desc.get("sd")):
        text += f" ± {fmt_value(desc['sd'], metric)}"
    return text


def fmt_ci(ci: dict[str, Any] | None, metric: str = "") -> str:
    """``[low, high]`` of an interval dict."""
    if not ci or not _finite(ci.get("low")) or not _finite(ci.get("high")):
        return "n/a"
    return f"[{fmt_value(ci['low'], metric)}, {fmt_value(ci['high'], metric)}]"


def fmt_p(p: Any) -> str:
    """A p-value: 3 significant digits, ``< 0.001`` below that."""
    if not _finite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def fmt_int(value: Any) -> str:
    """An integer with thousands separators (``2,097,184``)."""
    if isinstance(value, str) or value is None:
        return "n/a" if value is None else value
    return f"{int(value):,}"


def output_dir(out_dir: Path | str, kind: str) -> Path:
    """The folder that receives ``kind`` files (``tables`` or ``figures``).

    ``out_dir`` may be the study folder (``results/{name}``; files go to ``{out_dir}/{kind}``)
    or that sub-folder itself (a path whose last part is ``kind``).
    """
    out_dir = Path(out_dir)
    return out_dir if out_dir.name == kind else out_dir / kind


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 6) if math.isfinite(x) else None
    return x


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write a CSV atomically (floats rounded to 6 decimals, ``None`` as an empty cell)."""
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow(["" if v is None else _round(v) for v in row])
    return path


def write_text(path: Path, text: str) -> Path:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def variant_order(runs: Sequence[RunFiles], stats: dict[str, Any]) -> list[str]:
    """Variants in run (config) order; each must be covered by ``stats``."""
    order: list[str] = []
    for run in runs:
        if run.variant not in order:
            order.append(run.variant)
    missing = [v for v in order if v not in stats.get("variants", {})]
    if missing:
        raise ValueError(
            f"stats.json has no statistics for variants {missing}; rerun the statistics job "
            "(its inputs must list every run)"
        )
    return order


def _seeds_of(runs: Sequence[RunFiles], variant: str) -> list[int]:
    return sorted(r.seed for r in runs if r.variant == variant)


def _value_at(desc: dict[str, Any] | None, seeds: list[int], seed: int) -> Any:
    if not desc:
        return None
    values = desc.get("values") or []
    i = seeds.index(seed)
    return values[i] if i < len(values) else None


def _confidence_label(stats: dict[str, Any]) -> str:
    conf = stats.get("settings", {}).get("confidence", 0.95)
    return f"{conf * 100:g}%"


# --------------------------------------------------------------------------------------------
# Study tables
# --------------------------------------------------------------------------------------------


def _check_seeds(runs: Sequence[RunFiles], stats: dict[str, Any], variant: str) -> list[int]:
    seeds = list(stats["variants"][variant]["seeds"])
    run_seeds = _seeds_of(runs, variant)
    if sorted(seeds) != run_seeds:
        raise ValueError(
            f"stats.json covers seeds {seeds} of {variant} but the runs have {run_seeds}; "
            "rerun the statistics job"
        )
    return seeds


def metrics_table_rows(runs: Sequence[RunFiles], stats: dict[str, Any]) -> tuple[list, list]:
    """Header and rows of ``test_metrics.csv``: per seed, then mean, sd and ensemble rows."""
    header = [
        "variant", "statistic", "seed", "n_test",
        *TEST_METRICS[:1], "accuracy_ci_low", "accuracy_ci_high",
        *TEST_METRICS[1:7], "auroc_ci_low", "auroc_ci_high", *TEST_METRICS[7:],
        "youden_threshold", "youden_accuracy", "youden_sensitivity", "youden_specificity",
        "overfitting_gap", "ece",
    ]  # fmt: skip
    rows: list[list[Any]] = []
    for v in variant_order(runs, stats):
        vs = stats["variants"][v]
        seeds = _check_seeds(runs, stats, v)
        block = vs["metrics"]["threshold_0.5"]
        youden = vs["metrics"].get("threshold_youden", {})
        boot = vs.get("bootstrap", {})
        ece_seed = vs.get("calibration", {}).get("ece_per_seed")
        per_seed_ci = {e["seed"]: e for e in boot.get("per_seed", [])}

        def metric_cells(pick, ci_acc, ci_auc, gap, ece):  # noqa: ANN001, ANN202
            return [
                pick(block.get("accuracy")),
                (ci_acc or {}).get("low"),
                (ci_acc or {}).get("high"),
                *[pick(block.get(m)) for m in TEST_METRICS[1:7]],
                (ci_auc or {}).get("low"),
                (ci_auc or {}).get("high"),
                *[pick(block.get(m)) for m in TEST_METRICS[7:]],
                *[
                    pick(youden.get(m))
                    for m in ("threshold", "accuracy", "sensitivity", "specificity")
                ],
                gap,
                ece,
            ]

        for s in seeds:
            ci = per_seed_ci.get(s, {})
            rows.append(
                [v, "seed", s, vs.get("n_test")]
                + metric_cells(
                    lambda d, s=s: _value_at(d, seeds, s),
                    ci.get("accuracy"),
                    ci.get("auroc"),
                    _value_at(vs.get("overfitting_gap"), seeds, s),
                    _value_at(ece_seed, seeds, s),
                )
            )
        mean_ci = boot.get("seed_mean", {})
        rows.append(
            [v, "mean", None, vs.get("n_test")]
            + metric_cells(
                lambda d: (d or {}).get("mean"),
                mean_ci.get("accuracy"),
                mean_ci.get("auroc"),
                vs.get("overfitting_gap", {}).get("mean"),
                (ece_seed or {}).get("mean"),
            )
        )
        rows.append(
            [v, "sd", None, vs.get("n_test")]
            + metric_cells(
                lambda d: (d or {}).get("sd"),
                None,
                None,
                vs.get("overfitting_gap", {}).get("sd"),
                (ece_seed or {}).get("sd"),
            )
        )
        ens = vs.get("ensemble")
        if ens:
            ens_ci = boot.get("ensemble", {})
            rows.append(
                [v, "ensemble", None, vs.get("n_test")]
                + metric_cells(
                    lambda d: None,
                    ens_ci.get("accuracy"),
                    ens_ci.get("auroc"),
                    None,
                    vs.get("calibration", {}).get("ece_ensemble"),
                )
            )
            # fill the ensemble's own threshold-0.5 metrics
            row = rows[-1]
            for m in TEST_METRICS:
                row[header.index(m)] = ens.get(m)
    return header, rows


def metrics_table_markdown(runs: Sequence[RunFiles], stats: dict[str, Any]) -> str:
    """Markdown table: mean ± sd over seeds per variant, with the accuracy interval."""
    conf = _confidence_label(stats)
    header = [
        "Variant", "Seeds", "Test accuracy (%)", f"Accuracy {conf} CI (%)",
        "Balanced acc. (%)", "Sensitivity (%)", "Specificity (%)", "F1 (%)", "AUROC",
        f"AUROC {conf} CI", "Brier", "ECE", "Train − val gap (pp)",
    ]  # fmt: skip
    rows = []
    for v in variant_order(runs, stats):
        vs = stats["variants"][v]
        block = vs["metrics"]["threshold_0.5"]
        mean_ci = vs.get("bootstrap", {}).get("seed_mean", {})
        rows.append(
            [
                v,
                len(vs["seeds"]),
                fmt_mean_sd(block.get("accuracy"), "accuracy"),
                fmt_ci(mean_ci.get("accuracy"), "accuracy"),
                fmt_mean_sd(block.get("balanced_accuracy"), "balanced_accuracy"),
                fmt_mean_sd(block.get("sensitivity"), "sensitivity"),
                fmt_mean_sd(block.get("specificity"), "specificity"),
                fmt_mean_sd(block.get("f1"), "f1"),
                fmt_mean_sd(block.get("auroc"), "auroc"),
                fmt_ci(mean_ci.get("auroc"), "auroc"),
                fmt_mean_sd(block.get("brier"), "brier"),
                fmt_value(vs.get("calibration", {}).get("ece"), "ece"),
                fmt_mean_sd(vs.get("overfitting_gap"), "overfitting_gap"),
            ]
        )
    return markdown_table(header, rows, ["l", "r"] + ["r"] * (len(header) - 2))


def training_time_rows(runs: Sequence[RunFiles], stats: dict[str, Any]) -> tuple[list, list]:
    """Header and rows of ``training_time.csv``: per seed, then mean and sd rows."""
    header = [
        "variant", "statistic", "seed", "model", "parameters", "device", "device_name",
        "train_seconds", "images_per_second", "epochs_run", "peak_memory_mb",
    ]  # fmt: skip
    keys = ("train_seconds", "images_per_second", "epochs_run", "peak_memory_mb")
    rows: list[list[Any]] = []
    for v in variant_order(runs, stats):
        vs = stats["variants"][v]
        seeds = _check_seeds(runs, stats, v)
        fixed = [vs.get("model"), vs.get("parameters"), vs.get("device"), vs.get("device_name")]
        for s in seeds:
            rows.append([v, "seed", s, *fixed, *[_value_at(vs.get(k), seeds, s) for k in keys]])
        for stat in ("mean", "sd"):
            rows.append([v, stat, None, *fixed, *[(vs.get(k) or {}).get(stat) for k in keys]])
    return header, rows


def training_time_markdown(runs: Sequence[RunFiles], stats: dict[str, Any]) -> str:
    """Markdown: training seconds, throughput, parameters and device per variant."""
    header = [
        "Variant", "Model", "Parameters", "Seeds", "Training time (s)", "Images/s",
        "Epochs", "Device",
    ]  # fmt: skip
    rows = []
    for v in variant_order(runs, stats):
        vs = stats["variants"][v]
        device = vs.get("device") or "n/a"
        if vs.get("device_name"):
            device = f"{device} ({vs['device_name']})"
        rows.append(
            [
                v,
                vs.get("model") or "n/a",
                fmt_int(vs.get("parameters")),
                len(vs["seeds"]),
                fmt_mean_sd(vs.get("train_seconds"), "train_seconds"),
                fmt_mean_sd(vs.get("images_per_second"), "images_per_second"),
                fmt_mean_sd(vs.get("epochs_run"), "epochs_run"),
                device,
            ]
        )
    return markdown_table(header, rows, ["l", "l", "r", "r", "r", "r", "r", "l"])


def write_study_tables(runs: list[RunFiles], stats: dict, out_dir: Path) -> list[Path]:
    """Write ``tables/test_metrics.{csv,md}`` and ``tables/training_time.{csv,md}``.

    ``out_dir`` is the study folder (``results/{name}``) or its ``tables`` folder. Returns the
    paths written.
    """
    tables = output_dir(out_dir, "tables")
    conf = _confidence_label(stats)
    header, rows = metrics_table_rows(runs, stats)
    n_boot = stats.get("settings", {}).get("n_bootstrap", "?")
    paths = [
        write_csv(tables / "test_metrics.csv", header, rows),
        write_text(
            tables / "test_metrics.md",
            "# Test metrics per variant\n\n"
            f"Mean ± sd over seeds, threshold 0.5. The {conf} CI is a percentile bootstrap "
            f"({n_boot} resamples of the test images) of the mean over seeds. ECE: expected "
            "calibration error, seeds pooled.\n\n" + metrics_table_markdown(runs, stats),
        ),
    ]
    header, rows = training_time_rows(runs, stats)
    paths += [
        write_csv(tables / "training_time.csv", header, rows),
        write_text(
            tables / "training_time.md",
            "# Training time per variant\n\n"
            "Mean ± sd over seeds of the training loop's wall time (no start-up), as in the "
            "homework's Tables 3 and 5.\n\n" + training_time_markdown(runs, stats),
        ),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


# --------------------------------------------------------------------------------------------
# Comparison tables
# --------------------------------------------------------------------------------------------

_COMPARISON_COLUMNS = (
    ("final_train_accuracy", "Final train acc. (%)"),
    ("final_val_accuracy", "Final val acc. (%)"),
    ("overfitting_gap", "Train − val gap (pp)"),
    ("test_accuracy", "Test accuracy (%)"),
    ("train_seconds", "Training time (s)"),
)


def _comparison_members(comp_name: str, comparison: dict, stats: dict) -> list[tuple[str, str]]:
    baseline = comparison.get("baseline")
    variants = list(comparison.get("variants") or [])
    members = [("baseline", baseline)] + [("variant", v) for v in variants]
    for _, v in members:
        if v not in stats.get("variants", {}):
            raise ValueError(
                f"comparisons.{comp_name}: stats.json has no variant {v!r}; rerun the "
                "statistics job or fix the comparison"
            )
    return members


def _comparison_desc(vs: dict[str, Any], key: str) -> dict[str, Any] | None:
    if key == "test_accuracy":
        return vs["metrics"]["threshold_0.5"].get("accuracy")
    return vs.get(key)


def comparison_rows(comp_name: str, comparison: dict, stats: dict) -> tuple[list, list]:
    """Header and rows of ``comparison_{comp}.csv`` (mean and sd of each quantity)."""
    header = ["comparison", "role", "variant", "n_seeds"]
    for key, _ in _COMPARISON_COLUMNS:
        header += [f"{key}_mean", f"{key}_sd"]
    header += ["test_accuracy_ci_low", "test_accuracy_ci_high"]
    rows = []
    for role, v in _comparison_members(comp_name, comparison, stats):
        vs = stats["variants"][v]
        row: list[Any] = [comp_name, role, v, len(vs["seeds"])]
        for key, _ in _COMPARISON_COLUMNS:
            d = _comparison_desc(vs, key) or {}
            row += [d.get("mean"), d.get("sd")]
        ci = vs.get("bootstrap", {}).get("seed_mean", {}).get("accuracy") or {}
        row += [ci.get("low"), ci.get("high")]
        rows.append(row)
    return header, rows


def comparison_markdown(comp_name: str, comparison: dict, stats: dict) -> str:
    """Markdown: baseline and variants side by side (mean ± sd over seeds)."""
    header = ["Role", "Variant", "Seeds", *[label for _, label in _COMPARISON_COLUMNS]]
    rows = []
    for role, v in _comparison_members(comp_name, comparison, stats):
        vs = stats["variants"][v]
        rows.append(
            [role, v, len(vs["seeds"])]
            + [
                fmt_mean_sd(
                    _comparison_desc(vs, key), "accuracy" if key == "test_accuracy" else key
                )
                for key, _ in _COMPARISON_COLUMNS
            ]
        )
    return markdown_table(header, rows, ["l", "l", "r"] + ["r"] * len(_COMPARISON_COLUMNS))


def _mcnemar_by_seed(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {e["seed"]: e for e in result.get("mcnemar", {}).get("per_seed", [])}


def stats_rows(comp_name: str, comparison: dict, stats: dict) -> tuple[list, list]:
    """Header and rows of ``stats_{comp}.csv``: one row per variant, metric and scope.

    Scopes: ``seed`` (seed ``s`` of the variant paired with seed ``s`` of the baseline),
    ``pooled`` (the difference averaged over seeds inside each resample; the verdict's
    basis) and ``ensemble`` (probabilities averaged over seeds first). McNemar's test belongs
    to accuracy rows of the ``seed`` and ``ensemble`` scopes.
    """
    header = [
        "comparison", "baseline", "variant", "metric", "scope", "seed", "difference",
        "ci_low", "ci_high", "mcnemar_baseline_only", "mcnemar_variant_only", "mcnemar_p",
        "verdict",
    ]  # fmt: skip
    comp_stats = _comp_stats(comp_name, stats)
    baseline = comp_stats["baseline"]
    rows = []
    for _, v in _comparison_members(comp_name, comparison, stats)[1:]:
        res = comp_stats["results"].get(v)
        if res is None:
            raise ValueError(
                f"comparisons.{comp_name}: stats.json has no result for {v}; rerun statistics"
            )
        mc_seed = _mcnemar_by_seed(res)
        mc_ens = res.get("mcnemar", {}).get("ensemble", {})
        for metric in ("accuracy", "auroc"):
            block = res.get(metric)
            if not block:
                continue
            is_acc = metric == "accuracy"
            for e in block.get("per_seed", []):
                mc = mc_seed.get(e["seed"], {}) if is_acc else {}
                rows.append(
                    [comp_name, baseline, v, metric, "seed", e["seed"], e.get("difference"),
                     e.get("low"), e.get("high"), mc.get("baseline_only"),
                     mc.get("variant_only"), mc.get("p_value"), None]
                )  # fmt: skip
            p = block.get("pooled", {})
            rows.append(
                [comp_name, baseline, v, metric, "pooled", None, p.get("difference"),
                 p.get("low"), p.get("high"), None, None, None, block.get("verdict")]
            )  # fmt: skip
            e = block.get("ensemble", {})
            mc = mc_ens if is_acc else {}
            rows.append(
                [comp_name, baseline, v, metric, "ensemble", None, e.get("difference"),
                 e.get("low"), e.get("high"), mc.get("baseline_only"), mc.get("variant_only"),
                 mc.get("p_value"), None]
            )  # fmt: skip
    return header, rows


def _comp_stats(comp_name: str, stats: dict) -> dict[str, Any]:
    comp = stats.get("comparisons", {}).get(comp_name)
    if comp is None:
        raise ValueError(
            f"comparisons.{comp_name}: not in stats.json; rerun the statistics job with this "
            "comparison in the config"
        )
    return comp


def stats_markdown(comp_name: str, comparison: dict, stats: dict) -> str:
    """Markdown: differences (variant − baseline) with intervals, McNemar p and verdicts."""
    conf = stats.get("settings", {}).get("confidence", 0.95)
    comp_stats = _comp_stats(comp_name, stats)
    baseline = comp_stats["baseline"]
    header = ["Variant − baseline", "Metric", "Scope", f"Difference ({conf * 100:g}% CI)",
              "McNemar p", "Verdict"]  # fmt: skip
    rows = []
    notes: list[str] = []
    for _, v in _comparison_members(comp_name, comparison, stats)[1:]:
        res = comp_stats["results"][v]
        mc_seed = _mcnemar_by_seed(res)
        mc_ens = res.get("mcnemar", {}).get("ensemble", {})
        for metric in ("accuracy", "auroc"):
            block = res.get(metric)
            if not block:
                continue
            is_acc = metric == "accuracy"
            label = "Test accuracy" if is_acc else "AUROC"
            name = f"{v} − {baseline}"
            for e in block.get("per_seed", []):
                rows.append(
                    [name, label, f"seed {e['seed']}",
                     format_difference(e.get("difference"), e.get("low"), e.get("high"),
                                       metric, conf),
                     fmt_p(mc_seed.get(e["seed"], {}).get("p_value")) if is_acc else "",
                     ""]
                )  # fmt: skip
            p = block.get("pooled", {})
            rows.append(
                [name, label, "pooled over seeds",
                 format_difference(p.get("difference"), p.get("low"), p.get("high"), metric,
                                   conf),
                 "", f"**{block.get('verdict', 'n/a')}**"]
            )  # fmt: skip
            e = block.get("ensemble", {})
            rows.append(
                [name, label, "seed ensemble",
                 format_difference(e.get("difference"), e.get("low"), e.get("high"), metric,
                                   conf),
                 fmt_p(mc_ens.get("p_value")) if is_acc else "", ""]
            )  # fmt: skip
        notes += [f"- {v}: {w}" for w in res.get("warnings", [])]
    text = markdown_table(header, rows, ["l", "l", "l", "r", "r", "l"])
    if notes:
        text += "\nWarnings:\n\n" + "\n".join(notes) + "\n"
    return text


def write_comparison_tables(
    comp_name: str, comparison: dict, runs: list[RunFiles], stats: dict, out_dir: Path
) -> list[Path]:
    """Write ``tables/comparison_{comp}.{csv,md}`` and ``tables/stats_{comp}.{csv,md}``.

    ``comparison`` is the config entry (``{"baseline", "variants", "claim"?}``); ``out_dir``
    the study folder or its ``tables`` folder. Returns the paths written.
    """
    variant_order(runs, stats)  # every run covered by stats
    tables = output_dir(out_dir, "tables")
    baseline = comparison.get("baseline")
    conf = _confidence_label(stats)
    header, rows = comparison_rows(comp_name, comparison, stats)
    paths = [
        write_csv(tables / f"comparison_{comp_name}.csv", header, rows),
        write_text(
            tables / f"comparison_{comp_name}.md",
            f"# Comparison {comp_name}: baseline {baseline}\n\n"
            "Mean ± sd over seeds. Final train/val accuracy: last epoch of training; gap: "
            "train minus validation accuracy (the overfitting the homework discusses).\n\n"
            + comparison_markdown(comp_name, comparison, stats),
        ),
    ]
    header, rows = stats_rows(comp_name, comparison, stats)
    paths += [
        write_csv(tables / f"stats_{comp_name}.csv", header, rows),
        write_text(
            tables / f"stats_{comp_name}.md",
            f"# Statistics of comparison {comp_name}: each variant minus {baseline}\n\n"
            f"Paired differences on the same test images with {conf} percentile-bootstrap "
            "intervals (accuracy in percentage points); McNemar's exact test on the paired "
            "correct/incorrect outcomes. The verdict comes from the pooled interval.\n\n"
            + stats_markdown(comp_name, comparison, stats),
        ),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


# --------------------------------------------------------------------------------------------
# Architecture tables
# --------------------------------------------------------------------------------------------


def _shape_text(shape: Any) -> str:
    if shape is None:
        return ""
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(str(x) for x in shape) + "]"
    return str(shape)


def write_architecture_tables(rows_by_variant: dict[str, list[dict]], out_dir: Path) -> list[Path]:
    """Write ``tables/architecture.{csv,md}``: layer, output shape, parameters per variant.

    ``rows_by_variant`` maps a variant to :func:`biomedclf.models.architecture_table` rows
    (``{"layer", "output_shape", "parameters"}``); a ``Total`` row per variant sums the
    parameters. ``out_dir`` is the study folder or its ``tables`` folder.
    """
    tables = output_dir(out_dir, "tables")
    csv_rows: list[list[Any]] = []
    sections = [
        "# Architecture of each variant\n\n"
        "Layers at the configured input size, like the homework's Fig. 5 and 6 "
        "(output shape with batch dimension -1).\n"
    ]
    for variant, layers in rows_by_variant.items():
        md_rows = []
        total = 0
        for i, layer in enumerate(layers):
            missing = [k for k in ("layer", "output_shape", "parameters") if k not in layer]
            if missing:
                raise ValueError(
                    f"architecture of {variant}, row {i}: missing keys {missing}; "
                    "architecture_table rows need layer, output_shape and parameters"
                )
            params = int(layer["parameters"] or 0)
            total += params
            shape = _shape_text(layer["output_shape"])
            csv_rows.append([variant, layer["layer"], shape, params])
            md_rows.append([layer["layer"], shape, fmt_int(params)])
        csv_rows.append([variant, "Total", "", total])
        md_rows.append(["**Total**", "", f"**{fmt_int(total)}**"])
        sections.append(
            f"## {variant}\n\n"
            + markdown_table(["Layer", "Output shape", "Parameters"], md_rows, ["l", "l", "r"])
        )
    paths = [
        write_csv(
            tables / "architecture.csv",
            ["variant", "layer", "output_shape", "parameters"],
            csv_rows,
        ),
        write_text(tables / "architecture.md", "\n".join(sections)),
    ]
    log.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths
