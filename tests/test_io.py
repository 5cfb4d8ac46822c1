"""Atomic writes of a folder: replaced on success, left as it was on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from biomedclf.io import atomic_folder


def test_a_folder_is_replaced_whole_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "set"
    (out / "old").mkdir(parents=True)
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "new").mkdir()
        raise RuntimeError("killed half-way")
    assert sorted(p.name for p in out.iterdir()) == ["old"]
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no temporary folder left
    with atomic_folder(out) as tmp:
        (tmp / "new").mkdir()
    assert sorted(p.name for p in out.iterdir()) == ["new"]
