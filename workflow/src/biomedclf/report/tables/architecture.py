"""``tables/architecture.{csv,md}``: the layers of each variant at the configured input size.

From :func:`biomedclf.train.models.architecture_table` rows (layer, output shape, parameters), with
a ``Total`` row per variant. Needs no run and no statistics.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from biomedclf.report.rendering import fmt_int, markdown_table, output_dir, write_csv, write_text

log = logging.getLogger(__name__)


def _shape_text(shape: Any) -> str:
    """An output shape as ``[-1, 32, 16, 16]``."""
    if shape is None:
        return ""
    if isinstance(shape, (list, tuple)):
        return "[" + ", ".join(str(x) for x in shape) + "]"
    return str(shape)


def _architecture_rows(variant: str, layers: list[dict]) -> tuple[list[list[Any]], list[list]]:
    """CSV rows and Markdown rows of one variant's layers, with a ``Total`` row."""
    csv_rows: list[list[Any]] = []
    md_rows: list[list[Any]] = []
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
    return csv_rows, md_rows


def write_architecture_tables(rows_by_variant: dict[str, list[dict]], out_dir: Path) -> list[Path]:
    """Write ``tables/architecture.{csv,md}``: layer, output shape, parameters per variant.

    ``rows_by_variant`` maps a variant to :func:`biomedclf.train.models.architecture_table` rows
    (``{"layer", "output_shape", "parameters"}``); a ``Total`` row per variant sums the
    parameters. ``out_dir`` is the study folder or its ``tables`` folder.
    """
    tables = output_dir(out_dir, "tables")
    csv_rows: list[list[Any]] = []
    sections = [
        "# Architecture of each variant\n\n"
        "Layers at the configured input size (output shape with batch dimension -1).\n"
    ]
    for variant, layers in rows_by_variant.items():
        variant_csv, md_rows = _architecture_rows(variant, layers)
        csv_rows += variant_csv
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
