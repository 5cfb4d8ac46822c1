"""The files ``summary.md`` links to, relative to the folder of ``summary.md``.

The summary rule hands every path it links (``summary_links()`` of
``workflow/rules/common.smk``): ``tables`` (name -> [CSV, Markdown]), ``figures`` (name ->
PNG), ``comparisons`` (comparison -> {``comparison``, ``stats`` (Markdown tables), ``curves``,
``roc``, ``confusion``, ``saliency``, ``errors`` (figures)}), ``maps`` (variant -> {seed ->
``maps.npz``} of every explained run) and ``sweeps`` (sweep -> {``table``, ``figure``}). No
file name is written in the summary's code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biomedclf.layout import TABLE_FORMATS

#: The formats of a table's two files, in the order the rules list them (``csv``, ``md``).
FORMATS = tuple(ext.lstrip(".") for ext in TABLE_FORMATS)


def relative(target: Path | str, start: Path | str) -> str:
    """``target`` relative to the folder ``start``, with forward slashes."""
    return Path(os.path.relpath(target, start)).as_posix()


@dataclass(frozen=True)
class Links:
    """The linked files (``paths``, as the rule hands them) and the folder of summary.md."""

    paths: Mapping[str, Any]
    start: Path

    def _path(self, *keys: Any) -> Any:
        """The entry under ``keys``; ValueError naming what the rule did not hand."""
        entry: Any = self.paths
        for key in keys:
            if not isinstance(entry, Mapping) or key not in entry:
                raise ValueError(
                    f"summary links: nothing under {'/'.join(map(str, keys))}; summary_links() "
                    "in workflow/rules/common.smk must name every file summary.md links"
                )
            entry = entry[key]
        return entry

    def to(self, path: Path | str) -> str:
        """A link to ``path``."""
        return relative(path, self.start)

    def table(self, name: str, fmt: str = "md") -> str:
        """A link to a study-wide table's ``csv`` or ``md`` file."""
        return self.to(self._path("tables", name)[FORMATS.index(fmt)])

    def figure(self, name: str) -> str:
        """A link to a study-wide figure."""
        return self.to(self._path("figures", name))

    def comparison(self, comp_name: str, name: str) -> str:
        """A link to a table or figure of comparison ``comp_name``."""
        return self.to(self._path("comparisons", comp_name, name))

    def sweep(self, sweep: str, name: str) -> str:
        """A link to a sweep's ``table`` (CSV) or ``figure``."""
        return self.to(self._path("sweeps", sweep, name))

    def maps(self, variant: str, seed: int) -> str:
        """A link to the ``maps.npz`` of an explained run."""
        return self.to(self._path("maps", variant, seed))
