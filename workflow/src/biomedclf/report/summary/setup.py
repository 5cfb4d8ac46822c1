"""The "What was run" section of ``summary.md``: data, variants and environment.

From the data step's ``summary.json`` (source, image size, classes, images per split and
class, duplicate images and rejected files), the resolved variant specs and the runs'
``train.json`` (device and library versions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from biomedclf.evaluate.run_results import load_train_info
from biomedclf.layout import RunFiles
from biomedclf.report.rendering import markdown_table, plural
from biomedclf.report.summary.links import Links

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


def _source_lines(data: dict[str, Any]) -> list[str]:
    """Source folder, image size and classes of the data summary."""
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
    if classes and len(classes) == 2:
        pos = data.get("positive_class") or classes[-1]
        lines.append(f"- Classes: {', '.join(map(str, classes))} (positive: {pos})")
    elif classes:
        order = " (ordered)" if data.get("ordinal") else ""
        lines.append(f"- Classes ({len(classes)}{order}): {', '.join(map(str, classes))}")
    return lines


def _counts_table(counts: dict[str, Any], classes: Sequence[str]) -> list[str]:
    """A Markdown table of images per split and class, with totals."""
    class_names = list(classes)
    for split_counts in counts.values():
        if isinstance(split_counts, dict):
            class_names += [c for c in split_counts if c not in class_names]
    header = ["Split", *class_names, "Total"]
    rows = []
    for split, split_counts in counts.items():
        if isinstance(split_counts, dict):
            vals = [split_counts.get(c, 0) for c in class_names]
            rows.append([split, *vals, sum(v for v in vals if isinstance(v, int))])
        else:
            rows.append([split, *([""] * len(class_names)), split_counts])
    table = markdown_table(header, rows, ["l"] + ["r"] * (len(header) - 1)).rstrip()
    return ["", table, ""]


def _duplicates_text(duplicates: Any) -> str:
    """The ``duplicates`` record of the data summary in words."""
    if not isinstance(duplicates, dict):
        return f"duplicates: {duplicates}"
    sets = duplicates.get("sets", 0)
    if not sets:
        return "no identical images"
    parts = [
        f"{n} {what}"
        for key, what in (
            ("kept_copies", "copies kept"),
            ("rejected_conflicting_label", "rejected for conflicting labels"),
            ("rejected_across_splits", "rejected for crossing the given splits"),
        )
        if (n := duplicates.get(key)) is not None
    ]
    text = f"{plural(sets, 'set')} of identical images ({duplicates.get('images', '?')} images"
    return text + (f": {', '.join(parts)})" if parts else ")")


def _checks_line(data: dict[str, Any]) -> list[str]:
    """``- Data checks: ...``: duplicate images and rejected files, when reported."""
    extras = []
    if "duplicates" in data:
        extras.append(_duplicates_text(data["duplicates"]))
    if "rejected" in data:
        rejected = data["rejected"]
        n = len(rejected) if isinstance(rejected, (list, dict)) else rejected
        extras.append(f"{plural(n, 'file') if isinstance(n, int) else n} rejected")
    return [f"- Data checks: {'; '.join(extras)}"] if extras else []


def _data_section(data: dict[str, Any]) -> list[str]:
    """Lines about the data (the data step's summary.json)."""
    lines = _source_lines(data)
    counts = data.get("counts")
    if isinstance(counts, dict) and counts:
        lines += _counts_table(counts, data.get("class_names") or [])
    lines += _checks_line(data)
    notes = data.get("notes")
    if notes:
        notes = notes if isinstance(notes, list) else [notes]
        lines += [f"- Note: {n}" for n in notes]
    return lines


#: Training settings of a resolved variant spec shown in the summary.
TRAINING_SHOWN = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "augment")


def _spec_text(spec: dict[str, Any]) -> list[str]:
    """Model, model settings and training settings of a resolved variant spec."""
    training = spec["training"]
    args_text = ", ".join(f"{k}={v}" for k, v in spec["model_args"].items()) or "defaults"
    train_text = ", ".join(f"{k}={training[k]}" for k in TRAINING_SHOWN)
    return [spec["model"], args_text, train_text]


def _environment(runs: Sequence[RunFiles]) -> list[str]:
    """``- Device: cpu`` etc.: the distinct values of :data:`ENV_KEYS` over the runs."""
    values: dict[str, list[str]] = {k: [] for k, _ in ENV_KEYS}
    for run in runs:
        info = load_train_info(run.train_json)
        for key, _ in ENV_KEYS:
            v = info.get(key)
            if v is not None and str(v) not in values[key]:
                values[key].append(str(v))
    return [f"- {label}: {', '.join(values[k])}" for k, label in ENV_KEYS if values[k]]


def setup_section(
    data: dict[str, Any],
    specs: dict[str, dict[str, Any]],
    runs: Sequence[RunFiles],
    variants: list[str],
    links: Links,
) -> list[str]:
    """``## What was run``: the data (the data step's summary.json), the variant settings
    (resolved specs), the environment and a link to the architecture table."""
    out = ["## What was run", "", *_data_section(data), ""]
    rows = [[v, *_spec_text(specs[v])] for v in variants]
    out += [markdown_table(["Variant", "Model", "Model settings", "Training"], rows).rstrip(), ""]
    env = _environment(runs)
    if env:
        out += ["Environment (from the runs' train.json):", "", *env, ""]
    architecture = links.table("architecture")
    out += [f"Architecture of each variant: [{architecture}]({architecture})", ""]
    return out
