"""``summary.md``: what was run, the homework's tables with this run's numbers, and each claim
beside this run's evidence for or against it.

The summary lives in the study folder (``results/{name}/summary.md``) beside ``tables/`` and
``figures/``, and links them with relative paths. Numbers come from the statistics dict of
:func:`biomedclf.stats.study_statistics`; the tables are rendered with :mod:`biomedclf.tables`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biomedclf.io import atomic_path
from biomedclf.runs import RunFiles
from biomedclf.stats import MIN_SEEDS, format_difference, load_train_info
from biomedclf.tables import (
    comparison_markdown,
    fmt_mean_sd,
    fmt_p,
    markdown_table,
    metrics_table_markdown,
    training_time_markdown,
    variant_order,
)

log = logging.getLogger(__name__)

#: Environment fields of train.json reported in the summary.
ENV_KEYS = (
    ("device", "Device"),
    ("device_name", "Device name"),
    ("threads", "CPU threads"),
    ("torch_version", "torch"),
    ("torchvision_version", "torchvision"),
    ("python_version", "Python"),
    ("platform", "Platform"),
)


def default_claim(comp_name: str, baseline: str, variants: Sequence[str]) -> str:
    """The phrase used when a comparison states no ``claim``."""
    verb = "reaches" if len(variants) == 1 else "reach"
    return f"{' and '.join(variants)} {verb} a higher test accuracy than {baseline}."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _link(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _data_section(data: dict[str, Any] | None) -> list[str]:
    if not data:
        return ["- Data: no data summary was given."]
    lines = []
    source = data.get("source")
    root = data.get("root")
    src = f"`{source}`" if source else "n/a"
    if root:
        src += f" at `{root}`"
    lines.append(f"- Data source: {src}")
    size = data.get("image_size")
    channels = data.get("channels")
    if size is not None:
        size_text = (
            f"{size}×{size}" if not isinstance(size, (list, tuple)) else "×".join(map(str, size))
        )
        lines.append(
            f"- Images: {size_text} px, {channels if channels is not None else '?'} channel(s)"
        )
    classes = data.get("class_names")
    if classes:
        pos = data.get("positive_class", classes[-1])
        lines.append(f"- Classes: {', '.join(map(str, classes))} (positive: {pos})")
    counts = data.get("counts")
    if isinstance(counts, dict) and counts:
        class_names = list(classes or [])
        for split_counts in counts.values():
            if isinstance(split_counts, dict):
                for c in split_counts:
                    if c not in class_names:
                        class_names.append(c)
        header = ["Split", *class_names, "Total"]
        rows = []
        for split, split_counts in counts.items():
            if isinstance(split_counts, dict):
                vals = [split_counts.get(c, 0) for c in class_names]
                rows.append([split, *vals, sum(v for v in vals if isinstance(v, int))])
            else:
                rows.append([split, *([""] * len(class_names)), split_counts])
        lines.append("")
        lines.append(markdown_table(header, rows, ["l"] + ["r"] * (len(header) - 1)).rstrip())
        lines.append("")
    extras = []
    for key in ("duplicates", "rejected"):
        if key in data:
            val = data[key]
            if isinstance(val, (list, dict)):
                val = len(val)
            extras.append(f"{key}: {val}")
    if extras:
        lines.append(f"- Data checks: {', '.join(extras)}")
    notes = data.get("notes")
    if notes:
        notes = notes if isinstance(notes, list) else [notes]
        lines += [f"- Note: {n}" for n in notes]
    return lines


def _spec_text(spec: dict[str, Any]) -> list[str]:
    training = spec.get("training") or {}
    args = spec.get("model_args") or {}
    args_text = ", ".join(f"{k}={v}" for k, v in args.items()) or "defaults"
    train_keys = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "augment")
    train_text = ", ".join(f"{k}={training[k]}" for k in train_keys if k in training)
    return [spec.get("model", "?"), args_text, train_text or "defaults"]


def _environment(runs: Sequence[RunFiles]) -> list[str]:
    values: dict[str, list[str]] = {k: [] for k, _ in ENV_KEYS}
    for run in runs:
        try:
            info = load_train_info(run)
        except (FileNotFoundError, ValueError):
            continue
        for key, _ in ENV_KEYS:
            v = info.get(key)
            if v is not None and str(v) not in values[key]:
                values[key].append(str(v))
    return [f"- {label}: {', '.join(values[k])}" for k, label in ENV_KEYS if values[k]]


def _evidence(comp_name: str, comp: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    conf = stats.get("settings", {}).get("confidence", 0.95)
    comp_stats = stats.get("comparisons", {}).get(comp_name)
    if comp_stats is None:
        raise ValueError(
            f"comparisons.{comp_name}: not in stats.json; rerun the statistics job with this "
            "comparison in the config"
        )
    baseline = comp_stats["baseline"]
    variants = list(comp.get("variants") or comp_stats.get("variants") or [])
    claim = (
        comp.get("claim") or comp_stats.get("claim") or default_claim(comp_name, baseline, variants)
    )
    lines = [f"> **Claim:** {claim}", ""]
    for v in variants:
        res = comp_stats["results"].get(v)
        if res is None:
            raise ValueError(
                f"comparisons.{comp_name}: stats.json has no result for {v}; rerun statistics"
            )
        acc = res.get("accuracy", {})
        auc = res.get("auroc", {})
        n_seeds = len(res.get("seeds", []))
        base_acc = stats["variants"][baseline]["metrics"]["threshold_0.5"].get("accuracy")
        var_acc = stats["variants"][v]["metrics"]["threshold_0.5"].get("accuracy")
        p = acc.get("pooled", {})
        verdict = acc.get("verdict", "n/a")
        lines.append(
            f"**{v} vs {baseline}: {verdict}** ({n_seeds} paired seed"
            f"{'s' * (n_seeds != 1)}, {res.get('n_test', '?')} test images)"
        )
        lines.append("")
        lines.append(
            f"- Test accuracy: {baseline} {fmt_mean_sd(base_acc, 'accuracy')} %, "
            f"{v} {fmt_mean_sd(var_acc, 'accuracy')} % (mean ± sd over seeds)"
        )
        lines.append(
            "- Difference (variant − baseline, pooled over seeds): "
            + format_difference(p.get("difference"), p.get("low"), p.get("high"), "accuracy", conf)
        )
        per_seed = ", ".join(
            f"seed {e['seed']}: {format_difference(e.get('difference'), None, None)}"
            for e in acc.get("per_seed", [])
        )
        if per_seed:
            lines.append(f"- Per seed: {per_seed}")
        mc = res.get("mcnemar", {})
        mc_ens = mc.get("ensemble", {})
        mc_seeds = ", ".join(
            f"seed {e['seed']}: {fmt_p(e.get('p_value'))}" for e in mc.get("per_seed", [])
        )
        lines.append(
            f"- McNemar exact test: p = {fmt_p(mc_ens.get('p_value'))} on the seed-ensembled "
            f"predictions ({mc_ens.get('variant_only', '?')} images only {v} got right, "
            f"{mc_ens.get('baseline_only', '?')} only {baseline}); per seed: {mc_seeds or 'n/a'}"
        )
        pa = auc.get("pooled", {})
        lines.append(
            "- AUROC difference: "
            + format_difference(pa.get("difference"), pa.get("low"), pa.get("high"), "auroc", conf)
            + f" ({auc.get('verdict', 'n/a')})"
        )
        t = res.get("train_seconds", {})
        tb, tv = t.get("baseline"), t.get("variant")
        if tb and tv and tb.get("mean") is not None and tv.get("mean") is not None:
            ratio = t.get("ratio")
            ratio_text = f" ({ratio:.2f}× the baseline)" if ratio is not None else ""
            lines.append(
                f"- Training time: {baseline} {fmt_mean_sd(tb, 'train_seconds')} s, "
                f"{v} {fmt_mean_sd(tv, 'train_seconds')} s{ratio_text}"
            )
        gb = stats["variants"][baseline].get("overfitting_gap")
        gv = stats["variants"][v].get("overfitting_gap")
        lines.append(
            f"- Overfitting gap (final train − validation accuracy): {baseline} "
            f"{fmt_mean_sd(gb, 'overfitting_gap')} pp, {v} {fmt_mean_sd(gv, 'overfitting_gap')} pp"
        )
        lines.append(f"- Verdict: {acc.get('verdict_text', res.get('verdict_text', 'n/a'))}")
        for w in res.get("warnings", []):
            lines.append(f"- ⚠ Warning: {w}")
        lines.append("")
    return lines


def _comparison_links(comp_name: str, study_dir: Path, start: Path) -> str:
    items = [
        ("curves", study_dir / "figures" / f"curves_{comp_name}.png"),
        ("ROC", study_dir / "figures" / f"roc_{comp_name}.png"),
        ("table", study_dir / "tables" / f"comparison_{comp_name}.md"),
        ("statistics", study_dir / "tables" / f"stats_{comp_name}.md"),
    ]
    return " · ".join(f"[{label}]({_link(p, start)})" for label, p in items)


def render_summary(
    study: dict, runs: Sequence[RunFiles], stats: dict, study_dir: Path, start: Path
) -> str:
    """The Markdown text of ``summary.md``; links are relative to ``start``."""
    name = study.get("name", "study")
    comparisons = study.get("comparisons") or {}
    variants = variant_order(runs, stats)
    seeds = study.get("seeds") or sorted({r.seed for r in runs})
    settings = stats.get("settings", {})
    conf = settings.get("confidence", 0.95)
    fig = study_dir / "figures"
    tab = study_dir / "tables"

    out: list[str] = [f"# {name}: results", ""]
    out.append(
        f"{_plural(len(variants), 'variant')} × {_plural(len(seeds), 'seed')} "
        f"({', '.join(map(str, seeds))}), "
        f"{stats.get('n_test', '?')} test images. Every comparison below is paired on the same "
        f"test images: {conf * 100:g}% percentile-bootstrap intervals "
        f"({settings.get('n_bootstrap', '?')} resamples of the test images) and McNemar's "
        "exact test."
    )
    out.append("")
    if len(seeds) < MIN_SEEDS:
        out += [
            f"> ⚠ **Warning:** this study ran {len(seeds)} seed{'s' * (len(seeds) != 1)}; "
            f"with fewer than {MIN_SEEDS} a difference cannot be told apart from seed noise. "
            "Add seeds under `training.seeds`.",
            "",
        ]

    # what was run
    out += ["## What was run", ""]
    out += _data_section(study.get("data_summary"))
    out.append("")
    specs = study.get("variants") or {}
    if specs:
        rows = [[v, *_spec_text(specs[v])] for v in variants if v in specs]
        out.append(
            markdown_table(["Variant", "Model", "Model settings", "Training"], rows).rstrip()
        )
        out.append("")
    env = _environment(runs)
    if env:
        out += ["Environment (from the runs' train.json):", "", *env, ""]
    out += [
        "Architecture of each variant: "
        f"[tables/architecture.md]({_link(tab / 'architecture.md', start)})",
        "",
    ]

    # homework tables
    out += ["## Test accuracy per variant (homework Table 4)", ""]
    out.append(metrics_table_markdown(runs, stats).rstrip())
    out += [
        "",
        f"Figure: [test accuracy]({_link(fig / 'test_accuracy.png', start)}) · "
        f"[reliability diagrams]({_link(fig / 'reliability.png', start)}) · "
        f"table: [test metrics]({_link(tab / 'test_metrics.md', start)}) "
        f"([CSV]({_link(tab / 'test_metrics.csv', start)}))",
        "",
        f"![Test accuracy per variant]({_link(fig / 'test_accuracy.png', start)})",
        "",
        "## Training time per variant (homework Tables 3 and 5)",
        "",
        training_time_markdown(runs, stats).rstrip(),
        "",
        f"Figure: [accuracy against training time]({_link(fig / 'accuracy_vs_time.png', start)})"
        f" · table: [training time]({_link(tab / 'training_time.md', start)})",
        "",
    ]

    # comparisons
    if comparisons:
        out += ["## Claims and evidence", ""]
        verdict_rows = []
        for comp_name, comp in comparisons.items():
            comp_stats = stats.get("comparisons", {}).get(comp_name, {})
            for v in comp.get("variants", []):
                res = comp_stats.get("results", {}).get(v, {})
                p = res.get("accuracy", {}).get("pooled", {})
                verdict_rows.append([
                    comp_name, f"{v} vs {comp.get('baseline')}",
                    format_difference(p.get("difference"), p.get("low"), p.get("high"),
                                      "accuracy", conf),
                    fmt_p(res.get("mcnemar", {}).get("ensemble", {}).get("p_value")),
                    res.get("verdict", "n/a"),
                    "⚠" if res.get("warnings") else "",
                ])  # fmt: skip
        out.append(
            markdown_table(
                ["Comparison", "Variant vs baseline", "Test accuracy difference",
                 "McNemar p (ensemble)", "Verdict", "Warnings"],
                verdict_rows, ["l", "l", "r", "r", "l", "c"],
            ).rstrip()
        )  # fmt: skip
        out.append("")
        for comp_name, comp in comparisons.items():
            out += [f"### {comp_name}: {comp.get('baseline')} vs "
                    f"{', '.join(comp.get('variants', []))}", ""]  # fmt: skip
            out += _evidence(comp_name, comp, stats)
            out.append(comparison_markdown(comp_name, comp, stats).rstrip())
            out += ["", _comparison_links(comp_name, study_dir, start), ""]
            out += [
                f"![Training curves, {comp_name}]"
                f"({_link(fig / f'curves_{comp_name}.png', start)})",
                "",
            ]
    warnings = stats.get("warnings") or []
    if warnings:
        out += ["## Warnings", "", *[f"- {w}" for w in warnings], ""]
    out += [
        "## How to read this",
        "",
        "- *better* / *worse*: the whole pooled interval of the accuracy difference lies above "
        "/ below zero; *no detectable difference*: it contains zero — the test set and seeds "
        "cannot tell the two apart at this size.",
        "- Pooled: the difference averaged over paired seeds inside each bootstrap resample; "
        "seed ensemble: probabilities averaged over seeds before thresholding at 0.5.",
        "- pp: percentage points. Statistics in full: "
        f"[stats/stats.json]({_link(study_dir / 'stats' / 'stats.json', start)}).",
        "",
    ]
    return "\n".join(out)


def write_summary(study: dict, runs: list[RunFiles], stats: dict, out_path: Path) -> None:
    """Write ``summary.md`` for a study, atomically.

    ``study`` holds ``name``, ``data_summary`` (the data step's summary.json), ``variants``
    (name → resolved spec), ``comparisons`` (the config's), ``seeds``; ``stats`` is
    :func:`biomedclf.stats.study_statistics`' dict. Figures and tables are linked relative to
    ``out_path``, assuming they live in ``figures/`` and ``tables/`` beside it.
    """
    out_path = Path(out_path)
    study_dir = out_path.parent
    text = render_summary(study, runs, stats, study_dir, out_path.parent)
    with atomic_path(out_path) as tmp:
        tmp.write_text(text)
    log.info("wrote %s", out_path)
